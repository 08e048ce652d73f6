"""Fixtures for end-to-end tests: tiny media served on loopback, and real reelay servers on
temporary data folders. Every test talks only to 127.0.0.1."""
import functools
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest
import requests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("REELAY_BIN", os.path.join(REPO, "build", "reelay"))
TERMINAL = {"completed", "failed", "cancelled"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def ffprobe(path):
    """Duration, size and streams of a media file, read with ffprobe."""
    out = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", path],
                         check=True, capture_output=True, text=True).stdout
    info = json.loads(out)
    video = [s for s in info["streams"] if s["codec_type"] == "video"]
    audio = [s for s in info["streams"] if s["codec_type"] == "audio"]
    return {
        "duration": float(info["format"]["duration"]),
        "width": video[0]["width"] if video else 0,
        "height": video[0]["height"] if video else 0,
        "video_codec": video[0]["codec_name"] if video else None,
        "audio_codec": audio[0]["codec_name"] if audio else None,
    }


def max_volume(path):
    """The loudest sample of the audio track in dB (ffmpeg volumedetect); -inf for pure silence."""
    out = subprocess.run(["ffmpeg", "-hide_banner", "-i", path, "-af", "volumedetect", "-f", "null", "-"],
                         capture_output=True, text=True).stderr
    for line in out.splitlines():
        if "max_volume:" in line:
            value = line.split("max_volume:")[1].split()[0]
            return float("-inf") if value == "-inf" else float(value)
    raise AssertionError("no volumedetect output:\n" + out)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def media():
    """A folder of tiny inputs served over HTTP on loopback: returns {name: url} plus 'dir'."""
    folder = tempfile.mkdtemp(prefix="reelay-media-")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2", "-f", "lavfi", "-i",
           "sine=frequency=300:duration=2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-shortest", os.path.join(folder, "video2s.mp4"))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2", "-c:v", "libx264", "-preset",
           "ultrafast", "-pix_fmt", "yuv420p", os.path.join(folder, "mute2s.mp4"))
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=500:duration=3", os.path.join(folder, "audio3s.wav"))
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=700:duration=1", os.path.join(folder, "audio1s.wav"))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=240x320", "-frames:v", "1", os.path.join(folder, "portrait.png"))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x180", "-frames:v", "1", os.path.join(folder, "landscape.png"))
    with open(os.path.join(folder, "notes.txt"), "w") as f:
        f.write("this is not media\n" * 20)
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                             functools.partial(QuietHandler, directory=folder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    urls = {name: f"http://127.0.0.1:{port}/{name}" for name in os.listdir(folder)}
    urls["dir"] = folder
    urls["missing"] = f"http://127.0.0.1:{port}/missing.mp4"
    yield urls
    server.shutdown()
    shutil.rmtree(folder, ignore_errors=True)


class Server:
    """One reelay process on a temporary data folder."""

    def __init__(self, tmp, flags=(), env=None, fetch_allow="127.0.0.1", public_url=True, data_from=None):
        """data_from: another Server whose folder is copied instead of running `reelay init` (a second
        node of the same installation: same secrets, same database through env)."""
        self.data = os.path.join(tmp, "data")
        self.flags = list(flags)
        self.env = dict(os.environ)
        # Nothing but 127.0.0.1 may be reached: fal's key URL points at a closed local port unless a test
        # gives its emulator's.
        self.env.setdefault("REELAY_FAL_JWKS_URL", "http://127.0.0.1:9/.well-known/jwks.json")
        if fetch_allow is not None:
            self.env["REELAY_FETCH_ALLOW"] = fetch_allow
        else:
            self.env.pop("REELAY_FETCH_ALLOW", None)
        self.env.update(env or {})
        self.log_path = os.path.join(tmp, "reelay.log")
        if data_from is not None:
            shutil.copytree(data_from.data, self.data,
                            ignore=shutil.ignore_patterns("blobs", "reelay.db*", "*.log"))
            self.key, self.key_id = data_from.key, data_from.key_id
            self.admin_token = data_from.admin_token
        else:
            out = subprocess.run([BIN, "init", "--data", self.data, "--json"], check=True, capture_output=True,
                                 text=True, env=self.env).stdout
            first = json.loads(out)
            self.key, self.key_id = first["key"], first["key_id"]
            self.admin_token = first["admin_token"]  # /admin/v1/ (README "Admin API")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.public_url = public_url  # False: no --public-url, so no webhooks are asked for
        self.process = None
        self.start()

    def cli(self, *args, check=True):
        return subprocess.run([BIN, *args, "--data", self.data], capture_output=True, text=True, env=self.env,
                              check=check)

    def start(self, flags=None):
        if flags is not None:
            self.flags = list(flags)
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [BIN, "serve", "--data", self.data, "--listen", f"127.0.0.1:{self.port}",
             *(["--public-url", self.url] if self.public_url else []), *self.flags],
            stdout=subprocess.DEVNULL, stderr=self.log, env=self.env)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"reelay exited with {self.process.returncode}; log:\n" + self.read_log())
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise AssertionError("reelay did not become healthy")

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        """SIGTERM and wait: a clean exit (status 0, so no sanitizer report) is part of the contract."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout=30)
            finally:
                if self.process.poll() is None:  # never leave a server behind
                    self.process.kill()
                    self.process.wait()
                self.log.close()
            assert code == 0, f"reelay exited with {code}; log:\n" + self.read_log()[-4000:]
        else:
            self.log.close()

    def kill9(self):
        self.process.kill()
        self.process.wait(timeout=10)
        self.log.close()

    def restart(self, flags=None):
        self.stop()
        self.start(flags)

    def request(self, method, path, key="default", **kw):
        headers = kw.pop("headers", {})
        if key == "default":
            key = self.key
        if key is not None:
            headers.setdefault("Authorization", f"Bearer {key}")
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def submit(self, body, key="default"):
        return self.request("POST", "/v1/videos/generations", key=key, json=body)

    def create_key(self, *flags):
        """A new key with enough credits for a test's tasks (flags: e.g. "--rpm", "10")."""
        return json.loads(self.cli("keys", "create", "--json", "--credits", "1000000", *flags).stdout)


RESULT_KEYS = {"url", "content_type", "duration", "width", "height"}
PREVIEW_KEYS = {"thumbnail_url", "spritesheet_url"}


def check_task_invariants(task):
    assert set(task) == {"id", "object", "type", "model", "status", "progress", "created", "task_info", "results",
                         "error", "usage"}, task
    assert task["object"] == "video.generation.task" and task["type"] == "video"
    assert task["status"] in {"pending", "processing", "completed", "failed", "cancelled"}
    assert isinstance(task["progress"], int) and 0 <= task["progress"] <= 100
    assert set(task["usage"]) == {"credits_reserved", "user_group"}
    assert task["task_info"]["can_cancel"] == (task["status"] not in TERMINAL)
    if task["status"] == "completed":
        assert task["progress"] == 100 and task["results"], task
        assert task["error"] is None
        for result in task["results"]:  # the previews' links are there when they could be made
            assert RESULT_KEYS <= set(result) <= RESULT_KEYS | PREVIEW_KEYS, result
    else:
        assert task["progress"] < 100 and task["results"] is None, task
    if task["status"] in ("failed", "cancelled"):
        assert set(task["error"]) == {"code", "message", "type"} and task["error"]["type"] == "task_error"
    else:
        assert task["error"] is None


def wait_previews(server, task_id, timeout=60):
    """A provider's result gets its previews after its task completed: the task once both preview fields
    are there; meanwhile the thumbnail variant of OpenAI's content route says "not yet" (409), never 404."""
    deadline = time.time() + timeout
    while True:
        task = server.request("GET", f"/v1/tasks/{task_id}").json()
        assert task["status"] == "completed", task
        if PREVIEW_KEYS <= set(task["results"][0]) or time.time() > deadline:
            return task
        content = server.request("GET", f"/v1/videos/{task_id}/content?variant=thumbnail")
        assert content.status_code in (200, 409), content.text  # 200: made since the task was read
        if content.status_code == 409:
            assert content.json()["error"]["code"] == "video_not_ready", content.text
            assert content.headers["retry-after"] == "1"
        time.sleep(0.05)


def wait_task(server, task_id, until=TERMINAL, timeout=90, key="default"):
    """Polls until the task's status is in `until`, checking invariants and monotonic progress on every poll."""
    deadline = time.time() + timeout
    last_progress = 0
    while True:
        response = server.request("GET", f"/v1/tasks/{task_id}", key=key)
        assert response.status_code == 200, response.text
        task = response.json()
        check_task_invariants(task)
        assert task["progress"] >= last_progress, f"progress went back: {last_progress} → {task['progress']}"
        last_progress = task["progress"]
        if task["status"] in until:
            return task
        assert time.time() < deadline, f"task still {task['status']} after {timeout}s"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("reelay")))
    yield s
    s.stop()


@pytest.fixture
def make_server(tmp_path):
    """Starts servers with given flags; stops them after the test."""
    started = []

    def make(flags=(), env=None, fetch_allow="127.0.0.1", public_url=True):
        s = Server(str(tmp_path / f"s{len(started)}"), flags, env, fetch_allow, public_url)
        started.append(s)
        return s

    yield make
    for s in started:
        if s.process and s.process.poll() is None:
            s.stop()


@pytest.fixture
def postgres_database():
    """The URL of a new, empty PostgreSQL database for one test, made (and dropped after) with psql in the
    cluster of REELAY_TEST_DATABASE_URL, which scripts/pg-test-cluster.sh run sets (`make test` runs the
    end-to-end tests inside it). Fails without the variable, as the store's unit tests do."""
    base = os.environ.get("REELAY_TEST_DATABASE_URL")
    if not base:
        pytest.fail("REELAY_TEST_DATABASE_URL is not set: run under scripts/pg-test-cluster.sh run …")
    name = "e2e_" + os.urandom(6).hex()

    def psql(sql):
        subprocess.run(["psql", base, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                       capture_output=True, text=True)

    psql(f'CREATE DATABASE "{name}"')
    yield base.rsplit("/", 1)[0] + "/" + name
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---- several nodes on one PostgreSQL database (tests/e2e/test_cluster_signals.py) ----

class ClusterNode(Server):
    """One `reelay serve` of a cluster: its own copy of the folder `reelay init --database` made (the
    secrets every node shares), the cluster's database. Everything else is Server's."""

    def __init__(self, tmp, cluster, flags=(), public_url=True):
        os.makedirs(tmp, exist_ok=True)
        self.data = os.path.join(tmp, "data")
        shutil.copytree(cluster.data, self.data)
        self.flags = list(flags)
        self.env = dict(cluster.env)
        self.log_path = os.path.join(tmp, "reelay.log")
        self.key, self.key_id = cluster.key, cluster.key_id
        self.admin_token = cluster.admin_token
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.public_url = public_url
        self.process = None
        self.start()


class Cluster:
    """`reelay init --database URL --data DIR` once; add_node starts a node on a copy of DIR. cli runs a
    command against the same database (as from any machine). env: what every node and command gets."""

    def __init__(self, tmp, database_url):
        self.tmp = tmp
        self.env = dict(os.environ)
        self.env.setdefault("REELAY_FAL_JWKS_URL", "http://127.0.0.1:9/.well-known/jwks.json")
        self.env["REELAY_FETCH_ALLOW"] = "127.0.0.1"
        self.env["REELAY_DATABASE_URL"] = database_url
        self.data = os.path.join(tmp, "seed")
        first = json.loads(self.cli("init", "--json").stdout)
        self.key, self.key_id = first["key"], first["key_id"]
        self.admin_token = first["admin_token"]
        self.nodes = []

    def cli(self, *args, check=True):
        return subprocess.run([BIN, *args, "--data", self.data], capture_output=True, text=True, env=self.env,
                              check=check)

    def add_node(self, flags=(), public_url=True):
        node = ClusterNode(os.path.join(self.tmp, f"node{len(self.nodes)}"), self, flags, public_url)
        self.nodes.append(node)
        return node

    def stop(self):
        for node in self.nodes:
            if node.process and node.process.poll() is None:
                node.stop()


@pytest.fixture
def cluster(tmp_path, postgres_database):
    c = Cluster(str(tmp_path), postgres_database)
    yield c
    c.stop()
