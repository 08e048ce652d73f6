"""S3 storage: `reelay init --storage s3://…` checks the bucket (through tests/s3/sigv4_proxy.py, which
refuses a request not signed with the right secret), a wrong secret or an unreachable endpoint is a clear
error with exit status 1 that never shows the secret; `serve` on S3 (SQLite database) streams result and
upload links from the bucket (the exact bytes AWS's own client reads back, HEAD, ranges, 304, 416, 403),
reads uploads used as inputs from it, removes expired uploads from it, and answers 503 with Retry-After
when the bucket goes away. Needs `make clients` (tests/s3's npm packages)."""
import hashlib
import os
import subprocess
import threading
import time

import pytest
import requests

from conftest import BIN, REPO, Server, free_port, wait_task

SECRET = "e2e-secret-key"


def start_s3():
    """s3rver behind the signing proxy: (process, endpoint)."""
    proxy = subprocess.Popen(["/usr/bin/python3", os.path.join(REPO, "tests", "s3", "sigv4_proxy.py"), "S3RVER",
                              SECRET, "us-east-1", "reelay-e2e"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = proxy.stdout.readline().decode()
    assert line.startswith("READY "), "the S3 test servers did not start (run `make clients`)"
    return proxy, f"http://127.0.0.1:{line.split()[1]}"


def stop_s3(proxy):
    proxy.stdin.close()
    proxy.wait(timeout=30)


@pytest.fixture(scope="module")
def s3_endpoint():
    proxy, endpoint = start_s3()
    yield endpoint
    stop_s3(proxy)


def run(args, secret=SECRET):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REELAY_"))}
    env.update(AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY=secret, REELAY_STORAGE_URL="s3://reelay-e2e/node")
    return subprocess.run([BIN, *args], env=env, capture_output=True, text=True, timeout=60)


def test_init_checks_the_bucket(tmp_path, s3_endpoint):
    done = run(["init", "--data", str(tmp_path / "d"), "--s3-endpoint", s3_endpoint, "--json"])
    assert done.returncode == 0, done.stderr
    wrong = run(["init", "--data", str(tmp_path / "d"), "--s3-endpoint", s3_endpoint], secret="not-it")
    assert wrong.returncode == 1
    assert "cannot use the storage s3://reelay-e2e/node" in wrong.stderr
    assert "403 SignatureDoesNotMatch" in wrong.stderr
    assert "not-it" not in wrong.stderr + wrong.stdout
    gone = run(["init", "--data", str(tmp_path / "d"), "--s3-endpoint", f"http://127.0.0.1:{free_port()}"])
    assert gone.returncode == 1
    assert "did not answer" in gone.stderr


def s3_env(endpoint, prefix="node"):
    return {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": SECRET, "REELAY_S3_ENDPOINT": endpoint,
            "REELAY_STORAGE_URL": f"s3://reelay-e2e/{prefix}"}


def read_back(endpoint, key):
    """(size, sha256) of the object as AWS's official client reads it, or None when it cannot."""
    done = subprocess.run(["node", os.path.join(REPO, "tests", "s3", "read_back.mjs"), endpoint, "us-east-1",
                           "S3RVER", SECRET, "reelay-e2e", key], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        return None
    size, sha = done.stdout.split()
    return int(size), sha


def object_key(prefix, url):
    """The bucket key of a /v1/files link's object."""
    return prefix + "/" + url.split("/v1/files/")[1].split("?")[0]


@pytest.fixture
def s3_server(tmp_path, s3_endpoint):
    """serve on the module's bucket (its own prefix per test) with a SQLite database."""
    started = []

    def make(flags=(), env=None, fetch_allow="127.0.0.1"):
        prefix = f"t{int(time.time() * 1000)}"
        server = Server(str(tmp_path / f"s{len(started)}"), flags, {**s3_env(s3_endpoint, prefix), **(env or {})},
                        fetch_allow)
        server.prefix = prefix
        started.append(server)
        return server

    yield make
    for server in started:
        if server.process and server.process.poll() is None:
            server.stop()


def test_serve_streams_results_from_the_bucket(s3_server, s3_endpoint):
    server = s3_server()
    task = wait_task(server, server.submit({"model": "sora-2", "prompt": "s3"}).json()["id"])
    assert task["status"] == "completed", task
    url = task["results"][0]["url"]
    full = requests.get(url, timeout=30)
    assert full.status_code == 200, full.text
    assert full.headers["Content-Type"] == "video/mp4" and full.content[4:8] == b"ftyp"
    assert int(full.headers["Content-Length"]) == len(full.content)
    assert full.headers["Accept-Ranges"] == "bytes" and full.headers["ETag"] and full.headers["Last-Modified"]
    assert full.headers["X-Content-Type-Options"] == "nosniff"
    assert read_back(s3_endpoint, object_key(server.prefix, url)) == \
        (len(full.content), hashlib.sha256(full.content).hexdigest())
    head = requests.head(url, timeout=30)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(full.content)
    assert head.headers["ETag"] == full.headers["ETag"]
    size = len(full.content)
    for asked, first, last in [("bytes=0-99", 0, 99), ("bytes=100-", 100, size - 1), ("bytes=-50", size - 50, size - 1)]:
        part = requests.get(url, headers={"Range": asked}, timeout=30)
        assert part.status_code == 206, (asked, part.status_code)
        assert part.content == full.content[first:last + 1]
        assert part.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
    outside = requests.get(url, headers={"Range": f"bytes={size}-"}, timeout=30)
    assert outside.status_code == 416 and outside.headers["Content-Range"] == f"bytes */{size}"
    assert outside.json()["error"]["code"] == "range_not_satisfiable"
    same = requests.get(url, headers={"If-None-Match": full.headers["ETag"]}, timeout=30)
    assert same.status_code == 304 and same.content == b""
    signature = url.split("signature=")[1]
    tampered = url.replace(signature, signature[:-1] + ("0" if signature[-1] != "0" else "1"))
    forbidden = requests.get(tampered, timeout=10)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "invalid_signature"
    other = requests.get(url.replace("output.mp4", "other.mp4"), timeout=10)
    assert other.status_code == 403


def upload(server, path, name):
    with open(path, "rb") as f:
        response = server.request("POST", "/v1/files/upload/stream", files={"file": (name, f.read())},
                                  data={"file_name": name})
    assert response.status_code == 200, response.text
    return response.json()


def test_uploads_on_the_bucket_are_served_and_used_as_inputs(s3_server, s3_endpoint, media):
    # no loopback fetches: the inputs can only be read from the bucket
    server = s3_server(fetch_allow=None)
    video = upload(server, os.path.join(media["dir"], "video2s.mp4"), "clip.mp4")
    audio = upload(server, os.path.join(media["dir"], "audio3s.wav"), "voice.wav")
    with open(os.path.join(media["dir"], "video2s.mp4"), "rb") as f:
        original = f.read()
    assert read_back(s3_endpoint, object_key(server.prefix, video["url"])) == \
        (len(original), hashlib.sha256(original).hexdigest())
    served = requests.get(video["url"], timeout=30)
    assert served.status_code == 200 and served.content == original
    created = server.submit({"model": "lipsync-2", "video_url": video["url"], "audio_url": audio["url"]})
    assert created.status_code == 200, created.text
    task = wait_task(server, created.json()["id"])
    assert task["status"] == "completed", task


def test_expired_uploads_leave_the_bucket(s3_server, s3_endpoint, media):
    server = s3_server(flags=["--upload-ttl", "2"], env={"REELAY_MAINTENANCE_INTERVAL_MS": "200"})
    done = upload(server, os.path.join(media["dir"], "audio1s.wav"), "gone.wav")
    key = object_key(server.prefix, done["url"])
    assert read_back(s3_endpoint, key) is not None
    deadline = time.time() + 20
    while read_back(s3_endpoint, key) is not None:
        assert time.time() < deadline, "the expired upload is still in the bucket"
        time.sleep(0.5)
    assert requests.get(done["url"], timeout=10).status_code == 410


def test_a_bucket_gone_while_serving_answers_503(tmp_path):
    proxy, endpoint = start_s3()
    server = None
    try:
        server = Server(str(tmp_path), env=s3_env(endpoint))
        task = wait_task(server, server.submit({"model": "sora-2", "prompt": "gone"}).json()["id"])
        url = task["results"][0]["url"]
        assert requests.get(url, timeout=30).status_code == 200
        stop_s3(proxy)
        proxy = None
        for method in ("GET", "HEAD"):
            gone = requests.request(method, url, timeout=60)
            assert gone.status_code == 503, (method, gone.status_code)
            assert gone.headers["Retry-After"] == "5"
            if method == "GET":
                assert gone.json()["error"]["code"] == "storage_unavailable"
                assert gone.json()["error"]["type"] == "service_unavailable_error"
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
    finally:
        if server is not None:
            server.stop()
        if proxy is not None:
            stop_s3(proxy)


def test_a_slow_bucket_does_not_hold_the_event_loop(s3_server, s3_endpoint, media):
    # one HTTP thread: /healthz shares the event loop with the upload whose PUT the proxy holds 3 s
    server = s3_server(flags=["--threads", "1"])
    outcome = {}

    def slow_upload():
        started = time.time()
        outcome["upload"] = upload(server, os.path.join(media["dir"], "audio1s.wav"), "fault-slow.wav")
        outcome["seconds"] = time.time() - started

    uploader = threading.Thread(target=slow_upload)
    uploader.start()
    time.sleep(0.5)  # the PUT is being held by now
    worst = 0.0
    while uploader.is_alive():
        started = time.time()
        assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
        worst = max(worst, time.time() - started)
        time.sleep(0.1)
    uploader.join()
    assert outcome["seconds"] >= 3, outcome  # the PUT really was slow
    assert worst < 1.0, f"/healthz waited {worst:.2f} s behind the slow PUT"
    with open(os.path.join(media["dir"], "audio1s.wav"), "rb") as f:
        assert requests.get(outcome["upload"]["url"], timeout=30).content == f.read()


def test_results_leave_the_bucket_once_their_links_expired(s3_server, s3_endpoint):
    server = s3_server(flags=["--link-ttl", "3"], env={"REELAY_MAINTENANCE_INTERVAL_MS": "200"})
    task = wait_task(server, server.submit({"model": "sora-2", "prompt": "short-lived"}).json()["id"])
    assert task["status"] == "completed", task
    url = task["results"][0]["url"]
    key = object_key(server.prefix, url)
    assert read_back(s3_endpoint, key) is not None
    deadline = time.time() + 20
    while read_back(s3_endpoint, key) is not None:
        assert time.time() < deadline, "the result outlived its link in the bucket"
        time.sleep(0.5)
    gone = requests.get(url, timeout=10)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "link_expired"
