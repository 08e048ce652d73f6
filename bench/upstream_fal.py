#!/usr/bin/python3
"""Many tasks in flight on one node against the fal queue emulator.

Starts the emulator (its own process), a reelay whose only channel is the emulator, submits N tasks at
once, and waits until every one is completed. Reports reelay's CPU time and peak resident memory, and
for each task the delay between the upstream finishing (the emulator's job reached COMPLETED) and
reelay showing the task `completed` (the time of its log line), as p50 / p99 / max — once with webhooks
(--public-url set) and once by polling alone. The emulator's own bookkeeping is the reference the
delays are measured against, in the same run; "told → completed" is reelay's own share (from the
webhook leaving the emulator, or the first status answer saying COMPLETED, to the task completed:
result document, download, probe, storage, commit), the rest is the emulator's lag and poll spacing.

Usage: bench/upstream_fal.py [tasks, default 10000] [mode: webhook|polling|both, default both]
Only 127.0.0.1 is used."""
import concurrent.futures
import functools
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import requests

import bench_server

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("REELAY_BIN", os.path.join(REPO, "build", "reelay"))
QUEUE_SECONDS, RUN_SECONDS = 2.0, 20.0  # every task is in flight together for a while

EMULATOR = r"""
import json, signal, sys, threading
sys.path.insert(0, sys.argv[1])
from fal_queue import FalQueue
fal = FalQueue(sys.argv[2], queue_seconds=float(sys.argv[3]), run_seconds=float(sys.argv[4]))
print(fal.base_url, flush=True)
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: done.set())
done.wait()
with open(sys.argv[5], "w") as f:
    json.dump({k: {"created": v["created"], "told": v.get("webhook_sent_at") or v.get("completed_seen_at")}
               for k, v in fal.jobs.items()}, f)
fal.stop()
"""


free_port = bench_server.free_port
cpu_seconds = bench_server.cpu_seconds


def peak_rss_mib(pid):
    return bench_server.status_kib(pid, "VmHWM") / 1024


def log_time(ts):
    """ts=2026-11-22T18:07:53.691Z → Unix seconds."""
    return time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone + int(ts[20:23]) / 1000


def quantile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def serve_inputs(work):
    """The task inputs (a video and an audio track) on a loopback HTTP server: reelay probes them at
    submit (once each: the probe cache answers the rest)."""
    folder = os.path.join(work, "inputs")
    os.makedirs(folder, exist_ok=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2",
                    "-pix_fmt", "yuv420p", os.path.join(folder, "v.mp4")], check=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                    os.path.join(folder, "a.wav")], check=True)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=folder))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def run(tasks, mode, work):
    inputs = serve_inputs(work)
    media = os.path.join(work, "result.mp4")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=1",
                    "-pix_fmt", "yuv420p", media], check=True)
    jobs_file = os.path.join(work, f"jobs-{mode}.json")
    emulator = subprocess.Popen([sys.executable, "-c", EMULATOR, os.path.join(REPO, "tests", "emulators"), media,
                                 str(QUEUE_SECONDS), str(RUN_SECONDS), jobs_file], stdout=subprocess.PIPE, text=True)
    base_url = emulator.stdout.readline().strip()
    data = os.path.join(work, f"data-{mode}")
    env = {**os.environ, "REELAY_FETCH_ALLOW": "127.0.0.1", "REELAY_ACCESS_LOG": "0",
           "REELAY_FAL_JWKS_URL": base_url + "/.well-known/jwks.json"}
    key = json.loads(subprocess.run([BIN, "init", "--data", data, "--json"], check=True, capture_output=True,
                                    text=True, env=env).stdout)["key"]
    subprocess.run([BIN, "channels", "disable", "sandbox", "--data", data], check=True, capture_output=True, env=env)
    subprocess.run([BIN, "channels", "add", "--data", data, "--provider", "fal", "--name", "fal", "--base-url", base_url,
                    "--credential", "fal_test_key", "--models", "all"], check=True, capture_output=True, env=env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    flags = ["--public-url", url, "--poll-scale", "1"] if mode == "webhook" else ["--poll-scale", "0.5"]
    log_path = os.path.join(work, f"reelay-{mode}.log")
    with open(log_path, "w") as log:
        server = subprocess.Popen([BIN, "serve", "--data", data, "--listen", f"127.0.0.1:{port}", *flags],
                                  stdout=subprocess.DEVNULL, stderr=log, env=env)
    try:
        for _ in range(200):
            try:
                if requests.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        cpu_before, started = cpu_seconds(server.pid), time.time()
        body = {"model": "lipsync-2", "video_url": inputs + "/v.mp4", "audio_url": inputs + "/a.wav"}
        sessions = {}

        def submit(_):
            import threading
            session = sessions.setdefault(threading.get_ident(), requests.Session())
            answer = session.post(url + "/v1/videos/generations", json=body,
                                  headers={"Authorization": f"Bearer {key}"}, timeout=60)
            assert answer.status_code == 200, answer.text

        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            list(pool.map(submit, range(tasks)))
        submitted = time.time() - started
        deadline = time.time() + QUEUE_SECONDS + RUN_SECONDS + 600
        completed = 0
        while time.time() < deadline:
            with open(log_path) as f:
                text = f.read()
            completed = text.count("state=completed")
            failed = text.count("state=failed")
            if completed + failed >= tasks:
                break
            time.sleep(1)
        elapsed = time.time() - started
        cpu = cpu_seconds(server.pid) - cpu_before
        rss = peak_rss_mib(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        emulator.send_signal(signal.SIGTERM)
        emulator.wait(timeout=60)

    with open(jobs_file) as f:
        jobs = json.load(f)
    upstream_done = {job: v["created"] + QUEUE_SECONDS + RUN_SECONDS for job, v in jobs.items()}
    # when reelay was told: the webhook went out, or a status request first answered COMPLETED
    told = {job: v["told"] for job, v in jobs.items() if v.get("told")}
    job_of, done_at = {}, {}
    for line in open(log_path):
        m = re.search(r"ts=(\S+) .*task=(\S+) state=(processing|completed) channel=\S+ ?(\S*)", line)
        if not m:
            continue
        if m.group(3) == "processing":
            job_of[m.group(2)] = m.group(4)
        else:
            done_at[m.group(2)] = log_time(m.group(1))
    delays = [done_at[t] - upstream_done[job_of[t]] for t in done_at if job_of.get(t) in upstream_done]
    own = [done_at[t] - told[job_of[t]] for t in done_at if job_of.get(t) in told]
    return {"mode": mode, "tasks": tasks, "completed": len(done_at), "jobs_upstream": len(upstream_done),
            "submit_seconds": round(submitted, 1), "wall_seconds": round(elapsed, 1), "cpu_seconds": round(cpu, 1),
            "peak_rss_mib": round(rss, 1),
            "delay_p50_ms": round(1000 * quantile(delays, 0.5)) if delays else None,
            "delay_p99_ms": round(1000 * quantile(delays, 0.99)) if delays else None,
            "delay_max_ms": round(1000 * max(delays)) if delays else None,
            # the part that is reelay's own: from being told (webhook sent / COMPLETED answered) to completed
            "told_to_completed_p50_ms": round(1000 * quantile(own, 0.5)) if own else None,
            "told_to_completed_p99_ms": round(1000 * quantile(own, 0.99)) if own else None}


def main():
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    mode = sys.argv[2] if len(sys.argv) > 2 else "both"
    work = tempfile.mkdtemp(prefix="reelay-bench-upstream-")
    try:
        for m in (["webhook", "polling"] if mode == "both" else [mode]):
            print(json.dumps(run(tasks, m, work)), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
