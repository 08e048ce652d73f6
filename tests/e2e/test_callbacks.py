"""Task callbacks: a finished task's view POSTed to its callback_url, signed Standard-Webhooks style with
the key's own secret; retries after 1, 2 and 4 s; a timeout; delivery after kill -9; and the URLs refused
at submit. The receiver is a local http.server on 127.0.0.1 (allow-listed through REELAY_FETCH_ALLOW,
which is how plain http is allowed for it)."""
import base64
import hashlib
import hmac
import http.server
import json
import threading
import time

import pytest

from conftest import wait_task


class Receiver:
    """Records every POST per path; answers each with the next planned action: a status, or
    ("hang", seconds, status) to hold the request that long first."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = {}  # name -> [{"at", "headers", "body"}]
        self.plans = {}     # name -> [action, …]
        self.released = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                name = self.path.rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.requests.setdefault(name, []).append(
                        {"at": time.monotonic(), "headers": {k.lower(): v for k, v in self.headers.items()},
                         "body": body})
                    plan = receiver.plans.get(name, [])
                    action = plan.pop(0) if plan else 200
                if isinstance(action, tuple):
                    receiver.released.wait(action[1])
                    action = action[2]
                try:
                    self.send_response(action)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender gave up waiting

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name):
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{name}"

    def plan(self, name, *actions):
        with self.lock:
            self.plans[name] = list(actions)

    def received(self, name):
        with self.lock:
            return list(self.requests.get(name, []))

    def wait(self, name, count, timeout=15):
        deadline = time.monotonic() + timeout
        while len(self.received(name)) < count:
            assert time.monotonic() < deadline, f"{name}: {len(self.received(name))} of {count} requests"
            time.sleep(0.05)
        return self.received(name)

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def signature_verifies(secret, request, tolerance=300):
    """Standard Webhooks verification, as a receiver would write it."""
    headers = request["headers"]
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[len("whsec_"):])
    signed = f"{msg_id}.{timestamp}.".encode() + request["body"]
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(entry[3:], expected)
               for entry in headers["webhook-signature"].split() if entry.startswith("v1,"))


def new_key(server):
    """A key with credits to spend, and its webhook_secret (shown once, by keys create --json)."""
    return json.loads(server.cli("keys", "create", "--json", "--credits", "1000000").stdout)


def get_raw(server, task_id, key):
    r = server.request("GET", f"/v1/tasks/{task_id}", key=key)
    assert r.status_code == 200, r.text
    return r.content


def submit(server, key, callback_url, **fields):
    body = {"model": "sora-2", "prompt": "a fox", "duration": 4, "callback_url": callback_url, **fields}
    r = server.submit(body, key=key)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_completed_task_calls_back_once_with_its_view_signed(server, receiver):
    owner, other = new_key(server), new_key(server)
    assert owner["webhook_secret"].startswith("whsec_")
    assert len(base64.b64decode(owner["webhook_secret"][6:])) == 32
    assert owner["webhook_secret"] != other["webhook_secret"]
    task_id = submit(server, owner["key"], receiver.url("done"))
    assert wait_task(server, task_id, key=owner["key"])["status"] == "completed"
    [request] = receiver.wait("done", 1)
    time.sleep(1.5)
    assert len(receiver.received("done")) == 1, "delivered more than once"
    assert request["body"] == get_raw(server, task_id, owner["key"])
    headers = request["headers"]
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "reelay"
    assert headers["webhook-id"] == f"msg_{task_id}"
    assert headers["webhook-signature"].startswith("v1,")
    assert signature_verifies(owner["webhook_secret"], request)
    assert not signature_verifies(other["webhook_secret"], request)
    forged = dict(request, body=request["body"].replace(b"completed", b"failed"))
    assert not signature_verifies(owner["webhook_secret"], forged)
    log = server.read_log()
    assert owner["webhook_secret"] not in log and headers["webhook-signature"][3:] not in log


def test_failed_and_cancelled_tasks_call_back(make_server, receiver):
    server = make_server(["--engine-paused", "--task-timeout", "1"])
    key = new_key(server)
    failed = submit(server, key["key"], receiver.url("failed"))
    assert wait_task(server, failed, key=key["key"], timeout=15)["status"] == "failed"
    [request] = receiver.wait("failed", 1)
    assert request["body"] == get_raw(server, failed, key["key"])
    assert signature_verifies(key["webhook_secret"], request)

    server.restart(["--engine-paused"])
    cancelled = submit(server, key["key"], receiver.url("cancelled"))
    r = server.request("POST", f"/v1/tasks/{cancelled}/cancel", key=key["key"])
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    [request] = receiver.wait("cancelled", 1)
    assert request["body"] == get_raw(server, cancelled, key["key"])
    assert b'"status":"cancelled"' in request["body"]
    assert signature_verifies(key["webhook_secret"], request)
    assert request["headers"]["webhook-id"] == f"msg_{cancelled}"


def test_a_failing_receiver_gets_retries_after_1_and_2_seconds(server, receiver):
    key = new_key(server)
    receiver.plan("flaky", 500, 500, 200)
    task_id = submit(server, key["key"], receiver.url("flaky"))
    requests_seen = receiver.wait("flaky", 3, timeout=60)
    gaps = [b["at"] - a["at"] for a, b in zip(requests_seen, requests_seen[1:])]
    assert 0.9 <= gaps[0] <= 1.8 and 1.9 <= gaps[1] <= 2.8, gaps
    assert {r["headers"]["webhook-id"] for r in requests_seen} == {f"msg_{task_id}"}
    assert all(signature_verifies(key["webhook_secret"], r) for r in requests_seen)
    assert all(r["body"] == requests_seen[0]["body"] for r in requests_seen)
    time.sleep(5)
    assert len(receiver.received("flaky")) == 3, "delivered again after a 2xx"


def test_a_receiver_that_always_fails_gets_four_attempts(server, receiver):
    key = new_key(server)
    receiver.plan("down", *([500] * 10))
    task_id = submit(server, key["key"], receiver.url("down"))
    requests_seen = receiver.wait("down", 4, timeout=60)
    gaps = [b["at"] - a["at"] for a, b in zip(requests_seen, requests_seen[1:])]
    for gap, expected in zip(gaps, (1, 2, 4)):
        assert expected - 0.1 <= gap <= expected + 0.8, gaps
    time.sleep(6)
    assert len(receiver.received("down")) == 4, "more than the first attempt and 3 retries"
    assert f"task={task_id}" in server.read_log().split("callback given up")[-1]


def test_a_hanging_receiver_times_out_after_10_seconds_then_is_retried(server, receiver):
    key = new_key(server)
    receiver.plan("slow", ("hang", 30, 200), 204)
    submit(server, key["key"], receiver.url("slow"))
    first, second = receiver.wait("slow", 2, timeout=60)
    assert 10.5 <= second["at"] - first["at"] <= 13, second["at"] - first["at"]
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    assert signature_verifies(key["webhook_secret"], second)
    time.sleep(2)
    assert len(receiver.received("slow")) == 2


def test_many_callbacks_are_in_flight_at_once(make_server, receiver):
    server = make_server(["--engine-paused", "--task-timeout", "1"])
    key = new_key(server)
    names = [f"busy{i}" for i in range(6)]
    for name in names:
        receiver.plan(name, ("hang", 3, 200))
    for name in names:
        submit(server, key["key"], receiver.url(name))
    firsts = [receiver.wait(name, 1, timeout=20)[0]["at"] for name in names]
    # each is held 3 s by the receiver: one after another they would be 3 s apart
    assert max(firsts) - min(firsts) < 2, firsts


def test_a_callback_cut_short_by_kill9_is_delivered_after_restart(make_server, receiver):
    server = make_server()
    key = new_key(server)
    receiver.plan("crash", ("hang", 60, 200), 200)
    task_id = submit(server, key["key"], receiver.url("crash"))
    receiver.wait("crash", 1, timeout=60)
    server.kill9()
    receiver.released.set()  # the first attempt's answer now goes nowhere
    server.start()
    # due again once the crashed attempt's lease (10 s + 1 s) has run out
    first, second = receiver.wait("crash", 2, timeout=30)
    assert second["body"] == get_raw(server, task_id, key["key"])
    assert second["headers"]["webhook-id"] == f"msg_{task_id}"
    assert signature_verifies(key["webhook_secret"], second)
    time.sleep(2)
    assert len(receiver.received("crash")) == 2


def test_an_outbox_row_still_due_is_delivered_after_kill9(make_server, receiver):
    server = make_server()
    key = new_key(server)
    receiver.plan("later", 500, 200)
    task_id = submit(server, key["key"], receiver.url("later"))
    receiver.wait("later", 1, timeout=60)
    server.kill9()  # the retry, due 1 s later, is only in the database now
    time.sleep(1.5)
    server.start()
    first, second = receiver.wait("later", 2, timeout=15)
    assert second["headers"]["webhook-id"] == f"msg_{task_id}"
    assert second["body"] == get_raw(server, task_id, key["key"])
    assert signature_verifies(key["webhook_secret"], second)


@pytest.mark.parametrize("url", [
    "http://example.com/hook",            # plain http to a host not allow-listed
    "https://10.0.0.1/hook",              # private
    "https://192.168.1.10/hook",
    "https://172.16.0.5/hook",
    "https://127.0.0.2/hook",             # loopback (only 127.0.0.1 is allow-listed here)
    "https://169.254.169.254/latest",     # link-local
    "https://[::1]/hook",
    "https://localhost/hook",
    "ftp://example.com/hook",
    "not a url",
    "https://example.com/" + "a" * 2030,  # 2050 characters
])
def test_submit_refuses_callback_urls_that_may_not_be_called(server, url):
    r = server.submit({"model": "sora-2", "prompt": "x", "callback_url": url})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["param"] == "callback_url"


def test_submit_accepts_https_public_urls_up_to_2048_characters(make_server):
    server = make_server(["--engine-paused"])  # nothing finishes: no delivery leaves 127.0.0.1
    url = "https://example.com/" + "a" * (2048 - len("https://example.com/"))
    for accepted in (url, "https://example.com/hooks/video?token=abc"):
        r = server.submit({"model": "sora-2", "prompt": "x", "callback_url": accepted})
        assert r.status_code == 200, r.text
