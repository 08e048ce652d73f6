"""The surface a browser or a strict client sees: file links that can never act as pages of reelay's
origin (nosniff, a CSP sandbox, downloads for anything but media, SVG never inline) on every kind of
answer; whole numbers written as JSON integers in the task view and in callbacks; http(s) schemes in
any letter case; and names made of dots that keep their extension."""
import base64
import http.server
import json
import os
import re
import threading
import time

import pytest
import requests

from conftest import wait_task

SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)">'
       b'<script>fetch("/v1/balance")</script></svg>')
HTML = b"<!doctype html><script>alert(document.cookie)</script>"


def upload_stream(server, data, filename, key="default"):
    r = server.request("POST", "/v1/files/upload/stream", key=key,
                       files={"file": (filename, data, "application/octet-stream")})
    assert r.status_code == 200, r.text
    return r.json()


def assert_safe(response, content_type, download_name=None):
    """The headers every file answer carries; a download names the file, media is shown inline."""
    headers = response.headers
    assert headers.get("X-Content-Type-Options") == "nosniff", (response.status_code, dict(headers))
    assert headers.get("Content-Security-Policy") == "sandbox", dict(headers)
    if response.status_code in (200, 206):
        assert headers["Content-Type"] == content_type, dict(headers)
    disposition = headers.get("Content-Disposition")
    if download_name is None:
        assert disposition is None, disposition
    else:
        assert disposition == f'attachment; filename="{download_name}"', disposition


def check_every_answer(url, data, content_type, download_name=None):
    """GET, HEAD, a range, a conditional GET (304) and a range past the end (416) of one file link."""
    full = requests.get(url, timeout=30)
    assert full.status_code == 200 and full.content == data, full.status_code
    assert_safe(full, content_type, download_name)
    head = requests.head(url, timeout=30)
    assert head.status_code == 200 and head.content == b"" and int(head.headers["Content-Length"]) == len(data)
    assert_safe(head, content_type, download_name)
    part = requests.get(url, headers={"Range": "bytes=1-4"}, timeout=30)
    assert part.status_code == 206 and part.content == data[1:5], part.status_code
    assert part.headers["Content-Range"] == f"bytes 1-4/{len(data)}"
    assert_safe(part, content_type, download_name)
    etag = full.headers["ETag"]
    cached = requests.get(url, headers={"If-None-Match": etag}, timeout=30)
    assert cached.status_code == 304 and cached.content == b"", cached.status_code
    assert_safe(cached, content_type, download_name)
    beyond = requests.get(url, headers={"Range": f"bytes={len(data) + 10}-"}, timeout=30)
    assert beyond.status_code == 416, beyond.status_code
    assert beyond.headers["Content-Type"].startswith("application/json")
    assert beyond.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("filename, content_type, download", [
    ("face.mp4", "video/mp4", False),
    ("pic.PNG", "image/png", False),
    ("voice.wav", "audio/wav", False),
    ("evil.svg", "application/octet-stream", True),
    ("page.html", "application/octet-stream", True),
    ("page.htm", "application/octet-stream", True),
    ("data.xml", "application/octet-stream", True),
    ("app.js", "application/octet-stream", True),
    ("notes.txt", "application/octet-stream", True),
    ("noextension", "application/octet-stream", True),
])
def test_uploads_are_media_or_downloads(server, filename, content_type, download):
    data = SVG if filename.endswith(".svg") else HTML if ".htm" in filename else os.urandom(3000)
    body = upload_stream(server, data, filename)
    assert body["filename"] == filename
    check_every_answer(body["url"], data, content_type, filename if download else None)


def test_svg_is_never_served_as_svg(server):
    """However it is named or declared, an SVG upload comes back as an opaque download."""
    for name, declared in [("x.svg", "image/svg+xml"), ("X.SVG", "image/svg+xml"), ("x.svgz", None)]:
        r = server.request("POST", "/v1/files/upload/base64",
                           json={"file_data": f"data:{declared or 'image/svg+xml'};base64,"
                                              + base64.b64encode(SVG).decode(), "file_name": name})
        assert r.status_code == 200, r.text
        got = requests.get(r.json()["url"], timeout=10)
        assert got.status_code == 200 and got.content == SVG
        assert "svg" not in got.headers["Content-Type"], got.headers["Content-Type"]
        assert got.headers["Content-Disposition"].startswith("attachment;")
        assert got.headers["Content-Security-Policy"] == "sandbox"


def test_refused_links_are_json(server):
    body = upload_stream(server, b"abc", "a.mp4")
    base, query = body["url"].split("?")
    r = requests.get(f"{base}?{query[:-1]}{'0' if query[-1] != '0' else '1'}", timeout=10)
    assert r.status_code == 403 and r.headers["Content-Type"].startswith("application/json")
    assert r.json()["error"]["code"] == "invalid_signature"


def test_a_completed_result_is_served_safely(server):
    created = server.submit({"model": "sora-2", "prompt": "surface", "duration": 4})
    assert created.status_code == 200, created.text
    task = wait_task(server, created.json()["id"])
    assert task["status"] == "completed", task
    url = task["results"][0]["url"]
    data = requests.get(url, timeout=30).content
    assert data[4:8] == b"ftyp"
    check_every_answer(url, data, "video/mp4")


# ---- numbers ----

def strict_loads(text):
    """json.loads that fails on a number written with an exponent, and reports what each parsed as."""
    def no_exponent(literal):
        assert "e" not in literal.lower(), f"number written with an exponent: {literal}"
        return float(literal)
    return json.loads(text, parse_float=no_exponent)


class Receiver:
    """A callback receiver on 127.0.0.1: keeps each POSTed body."""

    def __init__(self):
        self.bodies = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait(self, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if self.bodies:
                    return self.bodies[0]
            assert time.monotonic() < deadline, "no callback arrived"
            time.sleep(0.05)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("body, credits, upper", [
    ({"model": "sora-2", "prompt": "numbers", "duration": 4}, 400, False),   # once "4e+02"
    ({"model": "sora-2", "prompt": "numbers", "duration": 12}, 1200, True),  # once "1.2e+03"
])
def test_credits_are_integers_in_the_task_and_its_callback(server, body, credits, upper):
    receiver = Receiver()
    try:
        # (an HTTP:// callback_url is the same URL as http://)
        created = server.submit({**body, "callback_url": upper_scheme(receiver.url) if upper else receiver.url})
        assert created.status_code == 200, created.text
        task_id = created.json()["id"]
        raw = server.request("GET", f"/v1/tasks/{task_id}").text
        assert f'"credits_reserved":{credits},' in raw, raw
        usage = strict_loads(raw)["usage"]
        assert type(usage["credits_reserved"]) is int and usage["credits_reserved"] == credits
        wait_task(server, task_id)
        callback = receiver.wait().decode()
        assert f'"credits_reserved":{credits},' in callback, callback
        view = strict_loads(callback)
        assert type(view["usage"]["credits_reserved"]) is int and view["usage"]["credits_reserved"] == credits
        assert type(view["results"][0]["duration"]) is float  # a real, written as 4.0, not 4e+00
        listed = strict_loads(server.request("GET", "/v1/tasks?limit=5").text)
        assert any(type(t["usage"]["credits_reserved"]) is int for t in listed["data"])
    finally:
        receiver.close()


def test_no_number_is_written_with_an_exponent(server):
    for path in ("/v1/models", "/v1/balance", "/v1/tasks?limit=20"):
        r = server.request("GET", path)
        assert r.status_code == 200, r.text
        strict_loads(r.text)
    balance = strict_loads(server.request("GET", "/v1/balance").text)
    assert type(balance["credits_available"]) is int and type(balance["credits_reserved"]) is int


# ---- schemes ----

def upper_scheme(url):
    scheme, rest = url.split("://", 1)
    return scheme.upper() + "://" + rest


def test_uppercase_schemes_are_media_inputs_like_lowercase(server, media):
    lower = {"model": "lipsync-2", "video_url": media["video2s.mp4"], "audio_url": media["audio3s.wav"]}
    upper = {**lower, "video_url": upper_scheme(media["video2s.mp4"]),
             "audio_url": "Http://" + media["audio3s.wav"].split("://", 1)[1]}
    tasks = []
    for body in (lower, upper):
        r = server.submit(body)
        assert r.status_code == 200, r.text
        tasks.append(wait_task(server, r.json()["id"]))
    assert [t["status"] for t in tasks] == ["completed", "completed"], tasks
    assert tasks[0]["usage"] == tasks[1]["usage"]  # probed (and billed) the same
    # a scheme the validator does not know is still refused
    r = server.submit({**lower, "video_url": "FTP://" + media["video2s.mp4"].split("://", 1)[1]})
    assert r.status_code == 422 and r.json()["error"]["param"] == "video_url", r.text


def test_uppercase_schemes_still_pass_the_guard(make_server, media):
    s = make_server(fetch_allow=None)
    for url in (media["video2s.mp4"], upper_scheme(media["video2s.mp4"])):
        r = s.submit({"model": "lipsync-2", "video_url": url, "audio_url": media["audio3s.wav"]})
        assert r.status_code == 422, r.text
        assert (r.json()["error"]["code"], r.json()["error"]["param"]) == ("input_blocked", "video_url")
        r = s.request("POST", "/v1/files/upload/url", json={"url": url})
        assert r.status_code == 422 and r.json()["error"]["code"] == "url_blocked", r.text
    # our own upload links are read from storage whatever the scheme's case
    with open(os.path.join(media["dir"], "video2s.mp4"), "rb") as f:
        video = upload_stream(s, f.read(), "face.mp4")
    with open(os.path.join(media["dir"], "audio3s.wav"), "rb") as f:
        audio = upload_stream(s, f.read(), "voice.wav")
    r = s.submit({"model": "lipsync-2", "video_url": upper_scheme(video["url"]), "audio_url": audio["url"]})
    assert r.status_code == 200, r.text
    assert wait_task(s, r.json()["id"])["status"] == "completed"


def test_upload_url_takes_uppercase_schemes(server, media):
    for url in (upper_scheme(media["audio1s.wav"]), "hTTp://" + media["audio1s.wav"].split("://", 1)[1]):
        r = server.request("POST", "/v1/files/upload/url", json={"url": url})
        assert r.status_code == 200, r.text
        assert r.json()["filename"] == "audio1s.wav"
        with open(os.path.join(media["dir"], "audio1s.wav"), "rb") as f:
            assert requests.get(r.json()["url"], timeout=10).content == f.read()
    r = server.request("POST", "/v1/files/upload/url", json={"url": "FILE:///etc/passwd"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_url", r.text


# ---- names ----

def test_names_of_dots_keep_their_extension(server, media):
    body = upload_stream(server, b"\x00\x00\x00\x18ftypmp42" + os.urandom(100), "....mp4")
    assert body["filename"] == "file.mp4"
    got = requests.get(body["url"], timeout=10)
    assert got.status_code == 200 and got.headers["Content-Type"] == "video/mp4"
    assert "Content-Disposition" not in got.headers
    r = server.request("POST", "/v1/files/upload/base64",
                       json={"file_data": base64.b64encode(b"png").decode(), "file_name": "..PNG"})
    assert r.status_code == 200 and r.json()["filename"] == "file.PNG", r.text
    assert requests.get(r.json()["url"], timeout=10).headers["Content-Type"] == "image/png"
    r = server.request("POST", "/v1/files/upload/url", json={"url": media["audio1s.wav"], "file_name": "...wav"})
    assert r.status_code == 200 and r.json()["filename"] == "file.wav", r.text
    for name, stored in [("....html", "file.html"), ("my clip (1).mp4", "my_clip_1_.mp4"), ("a.mp4.", "a.mp4")]:
        body = upload_stream(server, b"x", name)
        assert body["filename"] == stored, body
        assert re.search(rf"/uploads/{body['id']}/{re.escape(stored)}\?", body["url"])
