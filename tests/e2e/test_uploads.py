"""Uploads: POST /v1/files/upload/{stream,base64,url} on the real binary — each endpoint, download by
plain GET, uploads as task inputs, limits, quota with and without auto_cleanup, hostile bodies,
guarded URL fetches, expiry, and that a large multipart body does not grow the heap."""
import base64
import http.server
import os
import re
import socket
import threading
import time

import requests

from conftest import TERMINAL

ID = re.compile(r"^file-\d+-[a-z0-9]{12}$")


def upload_stream(server, data, filename="clip.mp4", fields=None, key="default"):
    files = {"file": (filename, data, "application/octet-stream")}
    return server.request("POST", "/v1/files/upload/stream", key=key, files=files, data=fields or {})


def upload_base64(server, data, **fields):
    return server.request("POST", "/v1/files/upload/base64",
                          json={"file_data": base64.b64encode(data).decode(), **fields})


def check_upload(body, filename, size):
    assert set(body) == {"id", "filename", "url", "size", "created"}, body
    assert ID.match(body["id"]), body["id"]
    assert body["filename"] == filename
    assert body["size"] == size
    assert abs(body["created"] - time.time()) < 60
    assert f"/v1/files/uploads/{body['id']}/{filename}?expires=" in body["url"]


def test_stream_upload_and_plain_get(server):
    data = os.urandom(200_000) + b"\r\n--not-a-boundary\r\n" + os.urandom(1000)
    r = upload_stream(server, data, filename="my clip (1).mp4")
    assert r.status_code == 200, r.text
    body = r.json()
    check_upload(body, "my_clip_1_.mp4", len(data))
    got = requests.get(body["url"], timeout=10)
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"].startswith("video/mp4")
    expires = int(re.search(r"expires=(\d+)", body["url"]).group(1))
    assert abs(expires - body["created"] - 72 * 3600) <= 1
    # a custom name, auto_cleanup as a form field
    r = upload_stream(server, b"abc", fields={"file_name": "../../etc/passwd.txt", "auto_cleanup": "false"})
    assert r.status_code == 200, r.text
    assert r.json()["filename"] == "passwd.txt"
    assert requests.get(r.json()["url"], timeout=10).content == b"abc"


def test_base64_upload(server):
    data = os.urandom(5000)
    r = upload_base64(server, data, file_name="photo.png")
    assert r.status_code == 200, r.text
    check_upload(r.json(), "photo.png", len(data))
    assert requests.get(r.json()["url"], timeout=10).content == data
    # a data: URL prefix, no name: "file" with the type's extension; URL-safe alphabet, no padding
    r = server.request("POST", "/v1/files/upload/base64",
                       json={"file_data": "data:audio/wav;base64," + base64.urlsafe_b64encode(data).decode().rstrip("=")})
    assert r.status_code == 200, r.text
    assert r.json()["filename"] == "file.wav"
    assert requests.get(r.json()["url"], timeout=10).content == data


def test_url_upload_and_blocked_addresses(server, media):
    r = server.request("POST", "/v1/files/upload/url", json={"url": media["video2s.mp4"]})
    assert r.status_code == 200, r.text
    check_upload(r.json(), "video2s.mp4", os.path.getsize(os.path.join(media["dir"], "video2s.mp4")))
    with open(os.path.join(media["dir"], "video2s.mp4"), "rb") as f:
        assert requests.get(r.json()["url"], timeout=10).content == f.read()
    # a private address not on the allow-list is refused by the guard (never contacted)
    r = server.request("POST", "/v1/files/upload/url", json={"url": "http://10.255.255.1:8/x.mp4"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "url_blocked" and r.json()["error"]["param"] == "url"
    r = server.request("POST", "/v1/files/upload/url", json={"url": media["missing"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "url_unreachable"
    r = server.request("POST", "/v1/files/upload/url", json={"url": "ftp://example.com/x"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_url"
    r = server.request("POST", "/v1/files/upload/url", json={"file_name": "x.mp4"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "url"


def test_url_upload_of_loopback_needs_the_allow_list(make_server, media):
    s = make_server(fetch_allow="10.0.0.0/8")
    r = s.request("POST", "/v1/files/upload/url", json={"url": media["audio1s.wav"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "url_blocked", r.text


def test_uploads_need_a_key(server):
    for path in ("stream", "base64", "url"):
        r = server.request("POST", f"/v1/files/upload/{path}", key=None, json={})
        assert r.status_code == 401
        r = server.request("POST", f"/v1/files/upload/{path}", key="sk-wrong", json={})
        assert r.status_code == 401


def test_bad_bodies_are_400(server):
    def post(path, **kw):
        return server.request("POST", "/v1/files/upload/" + path, **kw)

    cases = [
        post("stream", data=b"x", headers={"Content-Type": "text/plain"}),
        post("stream", data=b"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc",
             headers={"Content-Type": "multipart/form-data; boundary=b"}),  # truncated
        post("stream", data=b"--b\r\nbroken header\r\n\r\nabc\r\n--b--",
             headers={"Content-Type": "multipart/form-data; boundary=b"}),
        post("stream", data=b"--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nabc\r\n--b--",
             headers={"Content-Type": "multipart/form-data; boundary=\"b\""}),  # no file part
        post("stream", data=(b"--b\r\nContent-Disposition: form-data; name=file; filename=a.mp4\r\n\r\n1\r\n"
                             b"--b\r\nContent-Disposition: form-data; name=file; filename=b.mp4\r\n\r\n2\r\n--b--"),
             headers={"Content-Type": "multipart/form-data; boundary=b"}),  # duplicate
        post("stream", files={"file": ("a.mp4", b"x")}, data={"auto_cleanup": "maybe"}),
        post("stream", files={"file": ("a.mp4", b"x")}, data={"file_name": "///"}),
        post("stream", files={"file": ("a.mp4", b"")}),
        post("base64", data=b"{not json", headers={"Content-Type": "application/json"}),
        post("base64", json={"file_data": "!!!not base64!!!"}),
        post("base64", json={"file_data": "QUJD=QUJD"}),
        post("base64", json={"file_data": 42}),
        post("base64", json={}),
        post("base64", json={"file_data": "QUJD", "auto_cleanup": "yes"}),
        post("base64", json={"file_data": "QUJD", "file_name": 7}),
        post("base64", json=["file_data"]),
        post("url", json={"url": 5}),
        post("url", data=b"", headers={"Content-Type": "application/json"}),
    ]
    for i, r in enumerate(cases):
        assert r.status_code == 400, (i, r.status_code, r.text)
        assert set(r.json()["error"]) == {"message", "type", "code", "param"}
    # the server is still fine
    assert upload_base64(server, b"ok").status_code == 200


def test_truncated_upload_does_not_hang(server):
    """A client announcing more than it sends is dropped by the request timeout; the server goes on."""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"POST /v1/files/upload/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                     server.key.encode() + b"\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: 100000\r\n\r\n--b\r\nContent-Disposition: form-data; name=file\r\n\r\nabc")
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(15)
        try:
            sock.recv(1000)
        except OSError:
            pass
    assert upload_base64(server, b"still fine").status_code == 200


def test_too_large_is_413(make_server):
    s = make_server(flags=["--max-upload-mb", "1"])
    r = upload_stream(s, b"x" * ((1 << 20) + 1))
    assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large", r.text
    r = upload_base64(s, b"x" * ((1 << 20) + 10))
    assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large", r.text
    assert upload_stream(s, b"x" * (1 << 20)).status_code == 200
    # other routes keep their 1 MiB JSON limit
    r = s.submit({"model": "sora-2", "prompt": "x" * (1 << 20 + 1)})
    assert r.status_code == 413


def test_quota_with_and_without_auto_cleanup(make_server):
    s = make_server(flags=["--upload-quota-mb", "1"])  # 1,048,576 bytes
    kept = upload_stream(s, b"k" * 400_000, fields={"auto_cleanup": "false"})  # never evicted
    assert kept.status_code == 200, kept.text
    first = upload_stream(s, b"1" * 300_000).json()
    second = upload_stream(s, b"2" * 300_000).json()
    # full: without auto_cleanup the upload is refused and nothing is evicted
    r = upload_stream(s, b"3" * 300_000, fields={"auto_cleanup": "false"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "storage_quota_exceeded", r.text
    assert requests.get(first["url"], timeout=10).status_code == 200
    # with auto_cleanup (the default) the oldest auto_cleanup upload goes, row and object
    r = upload_stream(s, b"3" * 300_000)
    assert r.status_code == 200, r.text
    assert requests.get(first["url"], timeout=10).status_code == 404
    assert not os.path.exists(os.path.join(s.data, "blobs", "uploads", first["id"]))
    assert requests.get(second["url"], timeout=10).content == b"2" * 300_000
    # evicting every auto_cleanup upload would still not make room: 403, and nothing is evicted
    r = upload_stream(s, b"4" * 700_000)
    assert r.status_code == 403 and r.json()["error"]["code"] == "storage_quota_exceeded", r.text
    assert requests.get(second["url"], timeout=10).status_code == 200
    assert requests.get(kept.json()["url"], timeout=10).status_code == 200
    # another key has its own quota
    other = s.create_key()
    assert upload_stream(s, b"o" * 900_000, key=other["key"]).status_code == 200


def test_expiry_removes_row_and_object(make_server):
    s = make_server(flags=["--upload-ttl", "2"], env={"REELAY_MAINTENANCE_INTERVAL_MS": "200"})
    body = upload_base64(s, b"short-lived").json()
    folder = os.path.join(s.data, "blobs", "uploads", body["id"])
    assert os.path.isdir(folder)
    deadline = time.time() + 15
    while os.path.exists(folder) and time.time() < deadline:
        time.sleep(0.2)
    assert not os.path.exists(folder)
    assert requests.get(body["url"], timeout=10).status_code == 410
    import sqlite3
    with sqlite3.connect(os.path.join(s.data, "reelay.db")) as db:
        assert db.execute("SELECT COUNT(*) FROM uploads WHERE id = ?", (body["id"],)).fetchone()[0] == 0


def wait_task(server, task_id, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        task = server.request("GET", f"/v1/tasks/{task_id}").json()
        if task["status"] in TERMINAL:
            return task
        time.sleep(0.2)
    raise AssertionError("task did not finish")


def test_uploads_as_lipsync_inputs(make_server, media):
    # no allow-list at all: the sandbox must read our own uploads from storage, not fetch them
    s = make_server(fetch_allow=None)
    with open(os.path.join(media["dir"], "video2s.mp4"), "rb") as f:
        video = upload_stream(s, f.read(), filename="face.mp4").json()
    with open(os.path.join(media["dir"], "audio3s.wav"), "rb") as f:
        audio = upload_base64(s, f.read(), file_name="voice.wav").json()
    r = s.submit({"model": "lipsync-2", "video_url": video["url"], "audio_url": audio["url"]})
    assert r.status_code == 200, r.text
    task = wait_task(s, r.json()["id"])
    assert task["status"] == "completed", task
    out = requests.get(task["results"][0]["url"], timeout=30)
    assert out.status_code == 200 and len(out.content) > 1000


def sanitized(server):
    with open(f"/proc/{server.process.pid}/maps") as f:
        return "libasan" in f.read()


def rss_anon_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon")


def test_large_multipart_upload_spills_to_disk(make_server, tmp_path):
    """A 64 MiB multipart upload is buffered by h2o in a mapped file, not on the heap, and copied from
    there to storage: the server's anonymous memory grows by a few MiB at most."""
    s = make_server(flags=["--threads", "1"])
    upload_stream(s, b"warm-up")  # first-use allocations (thread caches, statements) out of the way
    size = 64 << 20
    boundary = "reelay-test-boundary"
    body_path = tmp_path / "body"
    with open(body_path, "wb") as f:
        f.write((f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
                 f"Content-Type: application/octet-stream\r\n\r\n").encode())
        chunk = os.urandom(1 << 20)
        for _ in range(size // len(chunk)):
            f.write(chunk)
        f.write(f"\r\n--{boundary}--\r\n".encode())
    before = rss_anon_kib(s.process.pid)
    peak = [before]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_anon_kib(s.process.pid))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with open(body_path, "rb") as f:
            r = requests.post(s.url + "/v1/files/upload/stream", data=f, timeout=120,
                              headers={"Authorization": f"Bearer {s.key}",
                                       "Content-Type": f"multipart/form-data; boundary={boundary}"})
        peak[0] = max(peak[0], rss_anon_kib(s.process.pid))
    finally:
        stop.set()
        sampler.join()
    assert r.status_code == 200, r.text
    assert r.json()["size"] == size
    growth_mib = (peak[0] - before) / 1024
    print(f"RssAnon before {before} KiB, peak {peak[0]} KiB: +{growth_mib:.1f} MiB")
    # Release builds grow by under 1 MiB. AddressSanitizer's own bookkeeping (quarantined frees,
    # shadow memory) adds some 17 MiB; a copy of the body on the heap would add 64 MiB or more.
    limit = 32 if sanitized(s) else 8
    assert growth_mib < limit, f"RssAnon grew by {growth_mib:.1f} MiB"
    path = os.path.join(s.data, "blobs", "uploads", r.json()["id"], "big.bin")
    assert os.path.getsize(path) == size
