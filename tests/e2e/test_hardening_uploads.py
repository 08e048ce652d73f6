"""Hardening of uploads on the real binary: a 40 MiB file sent as base64 (plain and as a data: URL) is
scanned and decoded off the event loop, chunk by chunk — the server's anonymous memory grows by far less
than the body, /healthz on the same loop keeps answering within 500 ms, and the stored bytes are the
file's; malformed bodies get the answers of a whole-body parse; a client that goes away mid-decoding
leaves nothing behind."""
import base64
import json
import os
import signal
import socket
import subprocess
import threading
import time

import requests

from conftest import BIN, free_port

FILE_SIZE = 40 << 20


def rss_anon_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon")


class Watch:
    """Samples the server's RssAnon and polls /healthz (each answer timed) until stopped."""

    def __init__(self, server):
        self.server = server
        self.before = rss_anon_kib(server.process.pid)
        self.peak = self.before
        self.health = []  # seconds each /healthz took
        self.failures = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.sample), threading.Thread(target=self.poll)]

    def sample(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_anon_kib(self.server.process.pid))
            time.sleep(0.005)

    def poll(self):
        with requests.Session() as session:
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    r = session.get(self.server.url + "/healthz", timeout=5)
                    if r.status_code != 200:
                        self.failures.append(f"status {r.status_code}")
                except requests.RequestException as e:
                    self.failures.append(repr(e))
                self.health.append(time.monotonic() - started)
                time.sleep(0.02)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.peak = max(self.peak, rss_anon_kib(self.server.process.pid))
        self.stop.set()
        for t in self.threads:
            t.join()


def post_json_bytes(server, body, path="/v1/files/upload/base64"):
    return requests.post(server.url + path, data=body, timeout=300,
                         headers={"Authorization": f"Bearer {server.key}", "Content-Type": "application/json"})


def check_large_base64_upload(server, data_url):
    data = os.urandom(FILE_SIZE)
    text = base64.b64encode(data).decode()
    if data_url:
        text = "data:video/mp4;base64," + text
    body = json.dumps({"file_data": text, "auto_cleanup": True, "file_name": None}).encode()
    del text
    # warm-up: first-use allocations (thread caches, statements, the offload pool) out of the way
    assert post_json_bytes(server, json.dumps({"file_data": "d2FybQ=="}).encode()).status_code == 200
    with Watch(server) as watch:
        r = post_json_bytes(server, body)
    assert r.status_code == 200, r.text
    assert r.json()["size"] == FILE_SIZE
    assert r.json()["filename"] == ("file.mp4" if data_url else "file")
    got = requests.get(r.json()["url"], timeout=60)
    assert got.status_code == 200 and got.content == data
    growth_mib = (watch.peak - watch.before) / 1024
    slowest = max(watch.health)
    print(f"RssAnon before {watch.before} KiB, peak {watch.peak} KiB: +{growth_mib:.1f} MiB; "
          f"{len(watch.health)} /healthz, slowest {slowest * 1000:.0f} ms")
    assert not watch.failures, watch.failures
    assert len(watch.health) >= 5  # the upload took long enough for the check to mean something
    assert slowest < 0.5, f"/healthz waited {slowest * 1000:.0f} ms"
    # About 3 MiB on both builds: one 1 MiB chunk in the job, while the body itself is in h2o's mapped
    # file (file-backed, not RssAnon); a copy of the body or of the file on the heap would be 40+ MiB.
    assert growth_mib < 24, f"RssAnon grew by {growth_mib:.1f} MiB"


def test_large_base64_upload_streams_off_the_loop(make_server):
    check_large_base64_upload(make_server(flags=["--threads", "1"]), data_url=False)


def test_large_data_url_upload_streams_off_the_loop(make_server):
    check_large_base64_upload(make_server(flags=["--threads", "1"]), data_url=True)


def test_large_bodies_get_the_answers_of_a_whole_parse(make_server):
    s = make_server(flags=["--threads", "1", "--max-upload-mb", "4"])
    text = base64.b64encode(os.urandom(3 << 20)).decode()

    def error(body):
        r = post_json_bytes(s, body)
        return r.status_code, r.json()["error"]["code"], r.json()["error"]["param"]

    # invalid JSON after megabytes of good base64 is still invalid_json (it wins over everything)
    assert error(('{"file_data": "' + text + '", "x": tru}').encode()) == (400, "invalid_json", None)
    assert error(('{"file_data": "' + text + '"').encode()) == (400, "invalid_json", None)
    assert error(('{"file_data": "' + text + '", "file_data": "QUJD"}').encode()) == (400, "invalid_json", None)
    assert error(('{"file_data": "' + text + '\x01"}').encode()) == (400, "invalid_json", None)
    # then the fields, whatever their place
    assert error(('{"file_data": "' + text + '", "auto_cleanup": "yes"}').encode()) == \
        (400, "invalid_field", "auto_cleanup")
    # then the base64: a bad character deep inside
    bad = text[:(2 << 20)] + "!" + text[(2 << 20):]
    assert error(json.dumps({"file_data": bad}).encode()) == (400, "invalid_base64", "file_data")
    # the upload limit, found while decoding
    big = base64.b64encode(os.urandom((4 << 20) + 1)).decode()
    assert error(json.dumps({"file_data": big}).encode()) == (413, "file_too_large", "file_data")
    assert error(json.dumps({"file_data": "data:text/plain," + text[:100]}).encode()) == \
        (400, "invalid_field", "file_data")
    # JSON escapes inside file_data are decoded before the base64 ("\/" is "/", "\u0041" is "A")
    r = post_json_bytes(s, b'{"file_data": "\\u0041\\u0042\\/\\/"}')
    assert r.status_code == 200, r.text
    assert requests.get(r.json()["url"], timeout=10).content == base64.b64decode("AB//")
    # nothing is left in the scratch area once answered (a later answer on the one loop comes after)
    assert requests.get(s.url + "/healthz", timeout=5).status_code == 200
    assert scratch_uploads(s) == []


def scratch_uploads(server):
    """Files named 'upload' anywhere under the scratch area (one per upload being decoded)."""
    found = []
    for root, _, files in os.walk(os.path.join(server.data, "blobs", ".scratch")):
        found += [os.path.join(root, f) for f in files if f == "upload"]
    return [p for p in found if os.path.exists(p)]


def decoding_started(server):
    for path in scratch_uploads(server):
        try:
            if os.path.getsize(path) > 0:
                return True
        except OSError:  # just removed
            pass
    return False


def test_server_stopping_mid_decoding_leaves_nothing(make_server):
    """SIGTERM while a large base64 body is being decoded: the chunk in a worker finishes, the next is
    refused (503 server_stopping, or the upload had just finished), the job removes its scratch file,
    and the server exits cleanly (status 0: no leak report under the sanitizers)."""
    s = make_server(flags=["--threads", "1"])
    body = json.dumps({"file_data": base64.b64encode(os.urandom(24 << 20)).decode()}).encode()
    result = {}

    def send():
        try:
            result["response"] = post_json_bytes(s, body)
        except requests.RequestException as e:
            result["error"] = e

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.time() + 60
    while time.time() < deadline and not decoding_started(s):
        time.sleep(0.005)
    assert scratch_uploads(s), "the decoding never started"
    s.stop()
    sender.join()
    assert scratch_uploads(s) == []
    if "response" in result:
        r = result["response"]
        assert r.status_code in (200, 503), r.text
        if r.status_code == 503:
            assert r.json()["error"]["code"] == "server_stopping"


# ---- nothing leaks across a crash or into children ----

def scratch_root(server):
    return os.path.join(server.data, "blobs", ".scratch")


def process_folders(server):
    """{name: has a lock file} of the per-process scratch folders."""
    root = scratch_root(server)
    return {e: os.path.exists(os.path.join(root, e + ".lock"))
            for e in os.listdir(root) if os.path.isdir(os.path.join(root, e))}


def own_folder(server):
    folders = [e for e in os.listdir(scratch_root(server))
               if e.startswith(f"{server.process.pid}-") and not e.endswith(".lock")]
    assert len(folders) == 1, os.listdir(scratch_root(server))
    return os.path.join(scratch_root(server), folders[0])


def test_scratch_of_a_killed_server_is_removed_at_start(make_server):
    s = make_server(flags=["--threads", "1"])
    dead = own_folder(s)
    os.makedirs(os.path.join(dead, "half-written-upload"))
    with open(os.path.join(dead, "half-written-upload", "upload"), "wb") as f:
        f.write(b"x" * 1000)
    root = scratch_root(s)
    # strays of an older layout (no lock): one from two hours ago, one fresh (maybe another version's live work)
    old_stray, fresh_stray = os.path.join(root, "a" * 16), os.path.join(root, "b" * 16)
    os.makedirs(old_stray)
    os.makedirs(fresh_stray)
    two_hours_ago = time.time() - 7200
    os.utime(old_stray, (two_hours_ago, two_hours_ago))
    s.kill9()
    assert os.path.isdir(dead) and os.path.exists(dead + ".lock")  # a kill -9 leaves them behind
    s.start()
    assert not os.path.exists(dead) and not os.path.exists(dead + ".lock")
    assert not os.path.exists(old_stray)
    assert os.path.isdir(fresh_stray)
    assert os.path.isdir(own_folder(s))  # the new process has its own
    assert "scratch of a dead process removed" in s.read_log()
    # and a clean stop removes the process's own folder and lock
    s.stop()
    assert [e for e in os.listdir(root) if e != "b" * 16] == []
    s.start()


def test_a_live_servers_scratch_is_never_removed_by_another_process(make_server, tmp_path):
    first = make_server(flags=["--threads", "1"])
    mine = own_folder(first)
    work = os.path.join(mine, "render-in-progress")
    os.makedirs(work)
    # another command on the same data folder, then a second server (which sweeps at start and in its
    # maintenance runs, every 100 ms here)
    first.cli("keys", "create", "--json")
    port = free_port()
    env = dict(first.env, REELAY_MAINTENANCE_INTERVAL_MS="100")
    with open(tmp_path / "second.log", "w") as log:
        second = subprocess.Popen([BIN, "serve", "--data", first.data, "--listen", f"127.0.0.1:{port}",
                                   "--threads", "1"], stdout=subprocess.DEVNULL, stderr=log, env=env)
        try:
            deadline = time.time() + 20
            while time.time() < deadline:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    time.sleep(0.05)
            r = requests.post(f"http://127.0.0.1:{port}/v1/files/upload/base64", timeout=30,
                              headers={"Authorization": f"Bearer {first.key}"}, json={"file_data": "QUJD"})
            assert r.status_code == 200, r.text
            assert os.path.isdir(work)
            assert os.path.exists(mine + ".lock")
            assert len([e for e in process_folders(first).values() if e]) == 2  # both live folders
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
    assert os.path.isdir(work)
    assert first.request("GET", "/healthz").status_code == 200


def children(pid):
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return found


def test_ffmpeg_inherits_no_descriptor_of_the_server(make_server):
    """While the server holds client connections (one of them half-way through a large body, which h2o
    spills into a file it keeps open) and renders a sandbox task, its ffmpeg child shares no descriptor
    with it but stdin (/dev/null) and the stdout/stderr pipes. (ffmpeg opens files of its own — shared
    libraries while loading, its output — so the check is that none of its descriptors is one the
    server holds, nor a socket or an event-loop descriptor.)"""
    s = make_server(flags=["--threads", "1"])
    idle = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(3)]
    partial = socket.create_connection(("127.0.0.1", s.port))
    partial.sendall(b"POST /v1/files/upload/base64 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                    s.key.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: 8000000\r\n\r\n" +
                    b'{"file_data": "' + b"QUJD" * (1 << 20))

    def descriptors(pid):
        return {fd: os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}

    try:
        deadline = time.time() + 30
        while time.time() < deadline and not any("h2o.b." in t for t in descriptors(s.process.pid).values()):
            time.sleep(0.01)
        server_fds = descriptors(s.process.pid)
        assert any("h2o.b." in t for t in server_fds.values()), server_fds  # the spilled body is open
        assert sum(t.startswith("socket:") for t in server_fds.values()) >= 5  # listener + 4 clients
        r = s.submit({"model": "sora-2", "prompt": "descriptor audit", "duration": 8})
        assert r.status_code == 200, r.text
        seen = {}
        deadline = time.time() + 60
        while time.time() < deadline and not seen:
            for child in children(s.process.pid):
                try:
                    with open(f"/proc/{child}/comm") as f:
                        if f.read().strip() != "ffmpeg":
                            continue
                    seen[child] = descriptors(child)
                    server_fds = descriptors(s.process.pid)
                except OSError:  # it ended meanwhile
                    continue
        assert seen, "no ffmpeg child was seen"
        held = {t for t in server_fds.values() if not t.startswith("pipe:")}
        for child, fds in seen.items():
            assert fds["0"] == "/dev/null" and fds["1"].startswith("pipe:") and fds["2"].startswith("pipe:"), fds
            for fd, target in fds.items():
                if fd in ("0", "1", "2"):
                    continue
                assert target not in held, (child, fd, target)
                assert not target.startswith(("socket:", "anon_inode:")), (child, fd, target)
                assert "h2o.b." not in target and ".lock" not in target, (child, fd, target)
    finally:
        for sock in idle + [partial]:
            sock.close()
