"""Chaos: three nodes on one PostgreSQL database and one S3 bucket, a fal emulator, the sandbox and a
callback receiver. Clients submit, poll, cancel and download through random nodes while a driver
SIGKILLs or SIGSTOPs a random node every few seconds and brings it back, for REELAY_CHAOS_SECONDS
(120 by default). Afterwards: every accepted task is terminal, no upstream job was submitted twice, the
credit audit finds nothing, every finished task's callback arrived under one webhook-id, and every result
link downloads a video ffprobe reads. One summary line gives the counts."""
import concurrent.futures
import http.server
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid

import requests

from cluster import database  # noqa: F401 (fixture)
from conftest import BIN, TERMINAL, Server, ffprobe
from test_storage_s3 import s3_env, start_s3, stop_s3

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "emulators"))
from fal_queue import FalQueue  # noqa: E402

SECONDS = int(os.environ.get("REELAY_CHAOS_SECONDS", "120"))
LEASE_MS = 3000
FLAGS = ["--poll-scale", "0.05", "--submit-timeout-ms", "1500", "--unknown-grace", "5", "--node-lease-ms",
         str(LEASE_MS), "--render-concurrency", "1"]


class CallbackReceiver:
    """Records every callback: task id → list of (webhook-id, status in the body)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.deliveries = {}
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    task = json.loads(body)
                    with receiver.lock:
                        receiver.deliveries.setdefault(task["id"], []).append(
                            (self.headers.get("webhook-id"), task["status"]))
                except (ValueError, KeyError, TypeError):
                    pass
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Chaos:
    """The nodes, what clients saw, and what the driver did."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.lock = threading.Lock()
        self.accepted = {}  # task id → marker (the prompt, unique per task)
        self.cancel_asked = set()
        self.stopping = threading.Event()
        self.kills = self.pauses = self.lost_leases = self.downloads = 0
        self.down = set()  # indexes of nodes being restarted or paused

    def live_node(self):
        with self.lock:
            choices = [n for i, n in enumerate(self.nodes) if i not in self.down]
        return random.choice(choices or self.nodes)

    def call(self, method, path, body=None, headers=None, give_up_after=60):
        """A request through random nodes, retried elsewhere when a node is down or answers 5xx."""
        deadline = time.time() + give_up_after
        while True:
            node = self.live_node()
            try:
                response = requests.request(method, node.url + path, json=body, timeout=5,
                                            headers={"Authorization": f"Bearer {node.key}", **(headers or {})})
                if response.status_code < 500:
                    return response
            except requests.RequestException:
                pass
            if time.time() > deadline:
                raise AssertionError(f"{method} {path}: no node answered for {give_up_after} s")
            time.sleep(0.2)

    def submitter(self, receiver, number):
        while not self.stopping.is_set():
            marker = f"chaos-{number}-{uuid.uuid4().hex[:10]}"
            model, body = (("sora-2", {"prompt": marker, "duration": 4}) if random.random() < 0.75 else
                           ("sora-2-pro", {"prompt": marker, "duration": 4}))
            response = self.call("POST", "/v1/videos/generations",
                                 {"model": model, **body, "callback_url": receiver.url},
                                 {"Idempotency-Key": marker})
            assert response.status_code == 200, (marker, model, response.status_code, response.text)
            with self.lock:
                self.accepted[response.json()["id"]] = marker
            time.sleep(random.uniform(0.3, 1.0))

    def poller(self):
        while not self.stopping.is_set():
            with self.lock:
                ids = list(self.accepted)
            if ids:
                task_id = random.choice(ids)
                task = self.call("GET", f"/v1/tasks/{task_id}").json()
                if task["status"] not in TERMINAL and random.random() < 0.1:
                    response = self.call("POST", f"/v1/tasks/{task_id}/cancel")
                    assert response.status_code in (200, 409), response.text
                    with self.lock:
                        self.cancel_asked.add(task_id)
                elif task["status"] == "completed":
                    link = task["results"][0]["url"]
                    node = self.live_node()  # any node serves any node's link
                    try:
                        got = requests.get(node.url + link[link.index("/v1/files/"):], timeout=10)
                        assert got.status_code == 200 and got.content[4:8] == b"ftyp", got.status_code
                        with self.lock:
                            self.downloads += 1
                    except requests.RequestException:
                        pass
            time.sleep(0.1)

    def bring_back(self, index):
        node = self.nodes[index]
        if node.process.poll() is not None:
            node.log.close()
            node.start()

    def driver(self):
        while not self.stopping.wait(random.uniform(3, 6)):
            index = random.randrange(len(self.nodes))
            node = self.nodes[index]
            with self.lock:
                self.down.add(index)
            if random.random() < 0.5:
                node.process.kill()
                node.process.wait(timeout=10)
                self.kills += 1
                time.sleep(random.uniform(0.2, 2))
            else:
                os.kill(node.process.pid, signal.SIGSTOP)
                self.pauses += 1
                time.sleep(random.uniform(1, 2.5 * LEASE_MS / 1000))
                os.kill(node.process.pid, signal.SIGCONT)
                try:  # taken over meanwhile: it must find out and exit with status 3
                    code = node.process.wait(timeout=LEASE_MS / 1000 + 3)
                    assert code == 3, f"a paused node exited with {code}"
                    self.lost_leases += 1
                except subprocess.TimeoutExpired:
                    pass  # not taken over: it simply goes on
            self.bring_back(index)
            with self.lock:
                self.down.discard(index)


def test_nodes_killed_and_paused_at_random_lose_nothing(database, media, tmp_path):
    proxy, endpoint = start_s3()
    emulator = FalQueue(os.path.join(media["dir"], "video2s.mp4"), queue_seconds=0.5, run_seconds=1.5)
    receiver = CallbackReceiver()
    nodes = []
    try:
        env = {**s3_env(endpoint, f"chaos{int(time.time())}"), "REELAY_DATABASE_URL": database}
        first = Server(str(tmp_path / "n0"), FLAGS, env)
        nodes.append(first)
        first.cli("channels", "update", "sandbox", "--models", "sora-2-pro")
        subprocess.run([BIN, "channels", "add", "--data", first.data, "--provider", "fal", "--name", "fal-a",
                        "--base-url", emulator.base_url, "--credential", "fal_test_key", "--models", "sora-2"],
                       check=True, capture_output=True, env=first.env)
        first.restart()
        for i in (1, 2):
            nodes.append(Server(str(tmp_path / f"n{i}"), FLAGS, env, data_from=first))
        chaos = Chaos(nodes)
        failures = []

        def guarded(target, *args):
            def run():
                try:
                    target(*args)
                except BaseException as error:  # noqa: B902 — reported by the main thread
                    failures.append(error)
                    chaos.stopping.set()
            return threading.Thread(target=run)

        workers = [guarded(chaos.submitter, receiver, i) for i in range(2)]
        workers += [guarded(chaos.poller), guarded(chaos.driver)]
        for worker in workers:
            worker.start()
        chaos.stopping.wait(SECONDS)
        chaos.stopping.set()
        for worker in workers:
            worker.join(timeout=120)
        assert not failures, failures
        for i in range(len(nodes)):
            chaos.bring_back(i)

        # every accepted task reaches a terminal state
        drain_started = time.time()
        pending = set(chaos.accepted)
        final = {}
        while True:
            for task_id in list(pending):
                task = chaos.call("GET", f"/v1/tasks/{task_id}").json()
                if task["status"] in TERMINAL:
                    final[task_id] = task
                    pending.discard(task_id)
            if not pending:
                break
            assert time.time() < drain_started + 180, f"{len(pending)} tasks never finished: {sorted(pending)[:5]}"
            time.sleep(0.5)
        drained = time.time() - drain_started

        # no upstream job submitted twice: each task's marker reached fal at most once
        jobs_per_marker = {}
        for job in emulator.stats()["jobs"].values():
            marker = job["input"].get("prompt")
            jobs_per_marker[marker] = jobs_per_marker.get(marker, 0) + 1
        duplicates = {m: n for m, n in jobs_per_marker.items() if n > 1}
        if duplicates:  # what a failure needs to be understood: the jobs and the tasks of each marker
            for job_id, job in emulator.stats()["jobs"].items():
                if job["input"].get("prompt") in duplicates:
                    print("DUPLICATE JOB", job_id, job["input"].get("prompt"), job["created"], job.get("webhook"))
            print("TASKS", {t: m for t, m in chaos.accepted.items() if m in duplicates})
        assert not duplicates, duplicates

        audit = first.cli("credits", "audit")
        assert audit.returncode == 0 and audit.stdout.startswith("ledger consistent"), audit.stdout + audit.stderr

        # every finished task called back, under one webhook-id, with its final status
        deadline = time.time() + 60
        while True:
            with receiver.lock:
                missing = [t for t in final if t not in receiver.deliveries]
            if not missing or time.time() > deadline:
                break
            time.sleep(0.5)
        assert not missing, f"{len(missing)} callbacks never arrived: {missing[:5]}"
        with receiver.lock:
            for task_id, seen in receiver.deliveries.items():
                assert {webhook_id for webhook_id, _ in seen} == {f"msg_{task_id}"}, seen
                assert {status for _, status in seen} == {final[task_id]["status"]}, (seen, final[task_id])
            callbacks = sum(len(seen) for seen in receiver.deliveries.values())

        # every result link downloads a video ffprobe reads, from a node that did not make it
        completed = [t for t in final.values() if t["status"] == "completed"]

        def download(task):
            link = task["results"][0]["url"]
            node = random.choice(nodes)
            got = requests.get(node.url + link[link.index("/v1/files/"):], timeout=30)
            assert got.status_code == 200, (got.status_code, got.text[:200])
            path = os.path.join(str(tmp_path), task["id"] + ".mp4")
            with open(path, "wb") as f:
                f.write(got.content)
            return ffprobe(path)["duration"]

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            assert all(duration > 0 for duration in pool.map(download, completed))
        statuses = [t["status"] for t in final.values()]
        print(f"\nchaos: {SECONDS} s, {len(final)} tasks accepted and all terminal "
              f"({statuses.count('completed')} completed, {statuses.count('failed')} failed, "
              f"{statuses.count('cancelled')} cancelled; {len(chaos.cancel_asked)} cancels asked), "
              f"{chaos.kills} kills, {chaos.pauses} pauses ({chaos.lost_leases} ended by a lost lease), "
              f"{len(jobs_per_marker)} fal jobs, 0 submitted twice, {callbacks} callbacks for {len(final)} tasks, "
              f"{chaos.downloads + len(completed)} downloads, credit audit clean, drained in {drained:.0f} s")
        assert statuses.count("completed") > len(final) // 2  # chaos must not become failure as a rule
    finally:
        for node in nodes:
            if node.process and node.process.poll() is None:
                try:
                    os.kill(node.process.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
                node.process.kill()
                node.process.wait()
        receiver.close()
        emulator.stop()
        stop_s3(proxy)
