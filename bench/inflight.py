#!/usr/bin/python3
"""Many tasks in flight on one node, how soon a finished one shows completed, and what open event streams
cost — against the fal stand-in (build/reelay-fal-standin), with the release binary on SQLite and the
default logging (access log on).

Runs, each on a fresh data folder, a stand-in (serving a 2 s 320x240 MP4 made here with ffmpeg; --report
gives each job's submit and webhook times) and a reelay whose only channel is a fal channel on it (the
sandbox disabled), submitting sora-2 tasks (a prompt: nothing to probe at submit):

  inflight  TASKS tasks (default 100,000; --short 10,000) submitted as fast as reelay takes them over 64
            connections, webhooks on; every job takes --job-seconds (default 200 s), so all of them wait
            together. Reported: reelay's VmRSS before and with every task in flight, the growth per task,
            the CPU (cores) reelay and the stand-in use over SAMPLE seconds right after the submissions
            ("waiting") and again over the span of the first fallback polls (a webhook is expected: the
            model's usual 120 s after each job was accepted), VmHWM (peak), and that every task reaches
            completed (reelay's log).
  webhook   LATENCY tasks (default 10,000; --short 2,000) submitted at RATE a second (default 200), each job
            taking RATE's pacing + 20 s, so that every task is in flight when the first finishes and they
            then finish at RATE a second; webhooks on (--public-url). For each task: the delay from the
            stand-in sending its webhook (its --report) to the task showing completed on the key's event
            stream (GET /v1/tasks/events, one connection opened before the first submit: what a client sees,
            timed as it arrives), and to reelay's `state=completed` log line (ms, written right after the
            commit: reelay's own share, without the client's reading). Also reelay's CPU per completion.
  polling   the same without webhooks: the delay from the job completing upstream (submitted + queue + run)
            to completed on the key's stream, the poll interval in force then (README: first poll after half
            the model's usual duration, then 2 s growing ×1.5 to 30 s) and how many took longer than it,
            and the part after the poll that first saw COMPLETED (the stand-in's report).
  streams   the webhook run again with one GET /v1/tasks/{id}/events per task (STREAMS, default 10,000;
            --short 2,000) opened before the first job finishes: reelay's RSS growth per open stream, and
            the delay from the webhook to the completed event on each task's own stream, to compare with
            the webhook run's.

Percentiles are p50 / p90 / p99 / max. The client is one asyncio process (raw HTTP/1.1, keep-alive); it
shares the machine with reelay and the stand-in. Only 127.0.0.1 is used; the script raises its own
descriptor limit (RLIMIT_NOFILE) for the streams.

Usage: bench/inflight.py [--short] [--tasks N] [--latency-tasks N] [--rate R] [--streams N]
                         [--job-seconds S] [--only inflight,webhook,polling,streams] [--binary build/reelay]
                         [--standin build/reelay-fal-standin] [--keep]"""
import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time

import bench_server

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = "sora-2"  # prompt only: nothing to probe at submit
MODEL_USUAL_SECONDS = 120  # its catalog estimate: the first poll comes after half of it
CONNECTIONS = 64
SAMPLE_SECONDS = 12


# ---- processes ----

def make_media(work):
    path = os.path.join(work, "result.mp4")
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=25:duration=2", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", path], check=True)
    return path


class Standin:
    """The fal stand-in on a free port; stop() returns its report: request id → (submitted, webhook sent,
    first COMPLETED answer), Unix seconds (None = never)."""

    def __init__(self, binary, media, queue_ms, run_ms, work, name):
        self.report = os.path.join(work, f"standin-{name}.report")
        self.stderr = open(os.path.join(work, f"standin-{name}.err"), "w")
        self.queue_ms, self.run_ms = queue_ms, run_ms
        self.process = subprocess.Popen([binary, "--media", media, "--port", "0", "--queue-ms", str(queue_ms),
                                         "--run-ms", str(run_ms), "--report", self.report],
                                        stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        line = self.process.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError("the stand-in did not start")
        self.origin = line.split()[-1]

    def cpu_seconds(self):
        return bench_server.cpu_seconds(self.process.pid)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(60)
        self.stderr.close()
        jobs = {}
        with open(self.report) as f:
            for line in f:
                request_id, submitted, sent, answered = line.split()
                jobs[request_id] = tuple(int(v) / 1000 if int(v) else None for v in (submitted, sent, answered))
        return jobs


class Reelay:
    """`reelay init`, a key with credits for every task, the sandbox off, one fal channel on the stand-in,
    then `reelay serve` on a free port with the default logging (stderr to a file)."""

    def __init__(self, binary, work, name, standin, webhooks):
        self.data = os.path.join(work, f"data-{name}")
        self.env = {**os.environ, "REELAY_FETCH_ALLOW": "127.0.0.1",
                    "REELAY_FAL_JWKS_URL": standin.origin + "/.well-known/jwks.json"}
        self.env.pop("REELAY_ACCESS_LOG", None)

        def cli(*args):
            return subprocess.run([binary, *args, "--data", self.data], check=True, capture_output=True,
                                  text=True, env=self.env).stdout

        cli("init", "--json")
        self.key = json.loads(cli("keys", "create", "--json", "--credits", "1000000000000"))["key"]
        cli("channels", "disable", "sandbox")
        cli("channels", "add", "--provider", "fal", "--name", "fal", "--base-url", standin.origin,
            "--credential", "fal_test_key", "--models", "all")
        self.port = bench_server.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        flags = ["--public-url", self.url] if webhooks else []
        self.log_path = os.path.join(work, f"reelay-{name}.log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([binary, "serve", "--data", self.data, "--listen", f"127.0.0.1:{self.port}",
                                         *flags], stdout=subprocess.DEVNULL, stderr=self.log, env=self.env)
        deadline = time.time() + 20
        while not self.healthy():
            if time.time() > deadline or self.process.poll() is not None:
                raise RuntimeError("reelay did not start: see " + self.log_path)
            time.sleep(0.05)

    def healthy(self):
        import socket
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                return s.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def cpu_seconds(self):
        return bench_server.cpu_seconds(self.process.pid)

    def children_cpu_seconds(self):
        """CPU of its ended child processes (the previews' ffmpeg runs)."""
        with open(f"/proc/{self.process.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")

    def kib(self, field):
        return bench_server.status_kib(self.process.pid, field)

    def stop(self):
        if self.process.poll() is not None:
            print(f"# reelay had exited with status {self.process.returncode}: see {self.log_path}", flush=True)
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(120)
        self.log.close()


class LogReader:
    """Reads reelay's log as it grows: task → provider job (state=processing), task → completed time
    (the line's ts, ms), and the failures."""
    LINE = re.compile(r"ts=(\S+) .*?task=(\S+) state=(processing|completed|failed) channel=\S+ ?(\S*)")

    def __init__(self, path):
        self.file = open(path)
        self.partial = ""
        self.job_of, self.accepted_at, self.completed_at, self.failed = {}, {}, {}, {}

    def read(self):
        self.partial += self.file.read()
        lines = self.partial.split("\n")
        self.partial = lines.pop()
        for line in lines:
            if "state=" not in line:
                continue
            m = self.LINE.search(line)
            if not m:
                continue
            if m.group(3) == "processing":
                self.job_of[m.group(2)] = m.group(4)
                self.accepted_at[m.group(2)] = log_time(m.group(1))
            elif m.group(3) == "completed":
                self.completed_at[m.group(2)] = log_time(m.group(1))
            else:
                self.failed[m.group(2)] = line


def log_time(ts):
    """ts=2026-11-22T18:07:53.691Z → Unix seconds."""
    return time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone + int(ts[20:23]) / 1000


# ---- the client: raw HTTP/1.1 over asyncio ----

async def read_response(reader):
    """(status, body) of one response (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, chunked = 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
        elif name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length)
    body = b"".join([chunk async for chunk in read_chunks(reader)])
    await reader.readuntil(b"\r\n")  # the end of the (empty) trailer
    return status, body


async def submit_tasks(port, key, count, connections=CONNECTIONS, rate=None):
    """Submits count tasks over `connections` keep-alive connections, as fast as reelay answers or, with a
    rate, the i-th no sooner than i / rate seconds after the first; returns their ids in submit order."""
    body = json.dumps({"model": MODEL, "prompt": "a lighthouse at dusk"}).encode()
    request = (f"POST /v1/videos/generations HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    ids, taken, started = [], [0], time.time()

    async def one_connection():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while taken[0] < count:
                index = taken[0]
                taken[0] += 1
                if rate:
                    await asyncio.sleep(max(0.0, started + index / rate - time.time()))
                writer.write(request)
                status, answer = await read_response(reader)
                if status != 200:
                    raise RuntimeError(f"submit answered {status}: {answer[:200]!r}")
                ids.append(json.loads(answer)["id"])
        finally:
            writer.close()

    await asyncio.gather(*(one_connection() for _ in range(min(connections, count))))
    return ids


async def read_chunks(reader):
    """Yields the decoded chunks of a chunked response body until it ends."""
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            return
        chunk = await reader.readexactly(size + 2)
        yield chunk[:-2]


async def open_stream(port, key, path):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200") or b"chunked" not in head.lower():
        raise RuntimeError(f"{path}: {head[:80]!r}")
    return reader, writer


class KeyStream:
    """GET /v1/tasks/events: when each task of the key was first seen completed (client clock)."""

    def __init__(self):
        self.completed_at = {}
        self.task = None

    async def run(self, port, key, opened):
        reader, writer = await open_stream(port, key, "/v1/tasks/events")
        opened.set_result(True)
        buffer = b""
        try:
            async for chunk in read_chunks(reader):
                now = time.time()
                buffer += chunk
                *events, buffer = buffer.split(b"\n\n")
                for event in events:
                    for line in event.split(b"\n"):
                        if line.startswith(b"data: ") and b'"status":"completed"' in line:
                            task_id = json.loads(line[6:])["id"]
                            self.completed_at.setdefault(task_id, now)
        finally:
            writer.close()

    async def start(self, port, key):
        opened = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(self.run(port, key, opened))
        await opened


class TaskStreams:
    """One GET /v1/tasks/{id}/events per task: when each stream's completed event arrived (client clock)."""

    def __init__(self):
        self.completed_at = {}
        self.open = 0
        self.tasks = []

    async def one(self, port, key, task_id, opened):
        reader, writer = await open_stream(port, key, f"/v1/tasks/{task_id}/events")
        self.open += 1
        opened.set_result(True)
        try:
            async for chunk in read_chunks(reader):
                if b'"status":"completed"' in chunk:
                    self.completed_at.setdefault(task_id, time.time())
        finally:
            self.open -= 1
            writer.close()

    async def open_all(self, port, key, task_ids, batch=200):
        for start in range(0, len(task_ids), batch):
            futures = []
            for task_id in task_ids[start:start + batch]:
                opened = asyncio.get_running_loop().create_future()
                futures.append(opened)
                self.tasks.append(asyncio.create_task(self.one(port, key, task_id, opened)))
            await asyncio.gather(*futures)

    def close_all(self):
        for task in self.tasks:
            task.cancel()


# ---- figures ----

def quantiles(values):
    """p50 / p90 / p99 / max in ms, and the count."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(ordered), "p50_ms": round(1000 * pick(0.5)), "p90_ms": round(1000 * pick(0.9)),
            "p99_ms": round(1000 * pick(0.99)), "max_ms": round(1000 * ordered[-1])}


def poll_interval_at(age):
    """The documented back-off: (the poll interval in force at `age` seconds after acceptance, when the
    next poll is due at the latest)."""
    at, interval = MODEL_USUAL_SECONDS / 2, 2.0
    if age < at:
        return at, at
    while at + interval < age:
        at += interval
        interval = min(interval * 1.5, 30.0)
    return interval, at + interval


async def wait_until(predicate, timeout, step=0.5):
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            return False
        await asyncio.sleep(step)
    return True


# ---- runs ----

async def sample_cpu(reelay, standin, seconds):
    """(reelay's cores, the stand-in's cores) over the next `seconds`."""
    cpu0, standin0, t0 = reelay.cpu_seconds(), standin.cpu_seconds(), time.time()
    await asyncio.sleep(seconds)
    elapsed = time.time() - t0
    return round((reelay.cpu_seconds() - cpu0) / elapsed, 3), round((standin.cpu_seconds() - standin0) / elapsed, 3)


async def run_inflight(args, work, media):
    tasks = args.tasks
    standin = Standin(args.standin, media, 1000, args.job_seconds * 1000 - 1000, work, "inflight")
    reelay = Reelay(args.binary, work, "inflight", standin, webhooks=True)
    log = LogReader(reelay.log_path)
    try:
        await asyncio.sleep(1)
        rss_before = reelay.kib("VmRSS")
        started = time.time()
        ids = await submit_tasks(reelay.port, reelay.key, tasks)
        submitted = time.time()
        await wait_until(lambda: (log.read(), len(log.job_of) >= tasks)[1], 60)
        # while they wait: after the submissions, then when the first fallback polls are due (a webhook is
        # expected: the model's whole usual duration after each submit)
        await asyncio.sleep(max(0.0, submitted + 2 - time.time()))
        log.read()
        in_flight = len(log.job_of) - len(log.completed_at) - len(log.failed)
        waiting = await sample_cpu(reelay, standin, args.sample_seconds)
        rss_waiting = reelay.kib("VmRSS")
        # each task's first fallback poll comes the model's usual duration after its job was accepted: the
        # window spans them all (the accepting took longer than the submitting), ending before any job does
        accepted = sorted(log.accepted_at.values())
        polls_from = accepted[0] + MODEL_USUAL_SECONDS + 1
        polls_until = min(accepted[-1] + MODEL_USUAL_SECONDS + 2, started + args.job_seconds - 1)
        polling = None
        if polls_until - polls_from >= args.sample_seconds:
            await asyncio.sleep(max(0.0, polls_from - time.time()))
            polling = await sample_cpu(reelay, standin, polls_until - polls_from)
        rss_polling = reelay.kib("VmRSS")
        ok = args.skip_completion or await wait_until(
            lambda: (log.read(), len(log.completed_at) + len(log.failed) >= tasks)[1], args.job_seconds + 3600,
            step=1)
        finished = time.time()
        result = {"run": "inflight", "tasks": tasks, "submit_seconds": round(submitted - started, 1),
                  "submits_per_second": round(tasks / (submitted - started)),
                  "in_flight_while_sampled": in_flight,
                  "rss_before_mib": round(rss_before / 1024, 1), "rss_in_flight_mib": round(rss_waiting / 1024, 1),
                  "bytes_per_task": round((rss_waiting - rss_before) * 1024 / tasks),
                  "cpu_cores_waiting": waiting[0], "standin_cpu_cores_waiting": waiting[1],
                  "accepting_seconds": round(accepted[-1] - accepted[0], 1),
                  "first_fallback_polls_window_s": round(polls_until - polls_from, 1) if polling else None,
                  "cpu_cores_first_fallback_polls": polling[0] if polling else None,
                  "standin_cpu_cores_first_fallback_polls": polling[1] if polling else None,
                  "rss_after_first_fallback_polls_mib": round(rss_polling / 1024, 1),
                  "sample_seconds": args.sample_seconds,
                  "completed": len(log.completed_at), "failed": len(log.failed), "all_done": ok,
                  "all_completed_after_s": round(finished - started, 1),
                  "vm_hwm_mib": round(reelay.kib("VmHWM") / 1024, 1)}
        assert len(ids) == tasks
        return result
    finally:
        reelay.stop()
        standin.stop()


async def run_latency(args, work, media, name, webhooks, streams=0):
    tasks = args.latency_tasks
    pace = tasks / args.rate  # submitting takes this long; the jobs then finish at the same rate
    job_seconds = pace + 20 if webhooks else max(MODEL_USUAL_SECONDS / 2 + 15, pace + 20)
    standin = Standin(args.standin, media, 1000, int(job_seconds * 1000) - 1000, work, name)
    reelay = Reelay(args.binary, work, name, standin, webhooks=webhooks)
    log = LogReader(reelay.log_path)
    key_stream, task_streams = KeyStream(), TaskStreams()
    result = {"run": name, "tasks": tasks}
    try:
        await asyncio.sleep(1)
        await key_stream.start(reelay.port, reelay.key)
        started = time.time()
        ids = await submit_tasks(reelay.port, reelay.key, tasks, rate=args.rate)
        result.update({"rate_per_second": args.rate, "submit_seconds": round(time.time() - started, 1),
                       "job_seconds": job_seconds})
        if streams:
            await asyncio.sleep(1)
            before = reelay.kib("VmRSS")
            opening = time.time()
            await task_streams.open_all(reelay.port, reelay.key, ids[:streams])
            await asyncio.sleep(2)
            after = reelay.kib("VmRSS")
            result.update({"streams_open": task_streams.open, "streams_open_seconds": round(time.time() - opening, 1),
                           "bytes_per_stream": round((after - before) * 1024 / streams),
                           "streams_opened_before_first_due": time.time() < started + job_seconds})
        await asyncio.sleep(max(0.0, started + job_seconds - 1 - time.time()))
        log.read()
        result["in_flight_at_first_due"] = len(log.job_of) - len(log.completed_at) - len(log.failed)
        cpu0, children0 = reelay.cpu_seconds(), reelay.children_cpu_seconds()
        await wait_until(lambda: (log.read(), len(log.completed_at) + len(log.failed) >= tasks)[1],
                         job_seconds + 600, step=0.5)
        cpu = reelay.cpu_seconds() - cpu0
        await asyncio.sleep(2)  # the last events on their way
        log.read()
        done = max(1, len(log.completed_at))
        result.update({"completed": len(log.completed_at), "failed": len(log.failed),
                       "cpu_ms_per_completion": round(1000 * cpu / done, 2),
                       "previews_cpu_ms_per_completion_so_far": round(
                           1000 * (reelay.children_cpu_seconds() - children0) / done, 1),
                       "vm_hwm_mib": round(reelay.kib("VmHWM") / 1024, 1)})
    finally:
        task_streams.close_all()
        if key_stream.task:
            key_stream.task.cancel()
        reelay.stop()
        jobs = standin.stop()
    told, done = {}, {}
    for task_id, job in log.job_of.items():
        if job not in jobs:
            continue
        submitted, sent, answered = jobs[job]
        done[task_id] = submitted + job_seconds
        told[task_id] = sent if webhooks else answered
    if webhooks:
        result["webhook_to_event"] = quantiles([key_stream.completed_at[t] - told[t] for t in told
                                                if told[t] and t in key_stream.completed_at])
        result["webhook_to_log"] = quantiles([log.completed_at[t] - told[t] for t in told
                                              if told[t] and t in log.completed_at])
        if streams:
            result["webhook_to_task_stream_event"] = quantiles(
                [task_streams.completed_at[t] - told[t] for t in told if told[t] and t in task_streams.completed_at])
    else:
        delays, own, intervals, late = [], [], [], 0
        for t, finished_at in done.items():
            if t not in key_stream.completed_at:
                continue
            delay = key_stream.completed_at[t] - finished_at
            interval, _ = poll_interval_at(job_seconds)  # its age since acceptance (the submit answered)
            delays.append(delay)
            intervals.append(interval)
            late += delay > interval + 0.1
            if told.get(t):
                own.append(key_stream.completed_at[t] - told[t])
        result["job_done_to_event"] = quantiles(delays)
        result["poll_interval_in_force_s"] = max(intervals) if intervals else None
        result["later_than_one_interval"] = late
        result["completed_answer_to_event"] = quantiles(own)
    return result


async def main_async(args):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(args.streams * 2 + 4096, 16384))
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    work = tempfile.mkdtemp(prefix="reelay-bench-inflight-")
    print(f"# {os.cpu_count()} cores, {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') >> 30} GiB, "
          f"load {os.getloadavg()[0]:.2f}; work in {work}", flush=True)
    try:
        media = make_media(work)
        runs = args.only.split(",")
        results = []
        if "inflight" in runs:
            results.append(await run_inflight(args, work, media))
            print(json.dumps(results[-1]), flush=True)
        if "webhook" in runs:
            results.append(await run_latency(args, work, media, "webhook", webhooks=True))
            print(json.dumps(results[-1]), flush=True)
        if "polling" in runs:
            results.append(await run_latency(args, work, media, "polling", webhooks=False))
            print(json.dumps(results[-1]), flush=True)
        if "streams" in runs:
            results.append(await run_latency(args, work, media, "streams", webhooks=True, streams=args.streams))
            print(json.dumps(results[-1]), flush=True)
        return results
    finally:
        if args.keep:
            print(f"# kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true",
                        help="10,000 tasks in flight (jobs of 40 s), 2,000 for latency and streams (make bench)")
    parser.add_argument("--tasks", type=int)
    parser.add_argument("--latency-tasks", type=int)
    parser.add_argument("--streams", type=int)
    parser.add_argument("--job-seconds", type=int, default=200)
    parser.add_argument("--rate", type=float, default=200,
                        help="latency runs: tasks submitted (and so finishing) per second")
    parser.add_argument("--sample-seconds", type=float, default=SAMPLE_SECONDS)
    parser.add_argument("--only", default="inflight,webhook,polling,streams")
    parser.add_argument("--binary", default=os.path.join(REPO, "build", "reelay"))
    parser.add_argument("--standin", default=os.path.join(REPO, "build", "reelay-fal-standin"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, reports)")
    parser.add_argument("--skip-completion", action="store_true",
                        help="inflight: stop once memory and CPU are measured (a quick look, not a result)")
    args = parser.parse_args()
    args.tasks = args.tasks or (10000 if args.short else 100000)
    args.latency_tasks = args.latency_tasks or (2000 if args.short else 10000)
    args.streams = min(args.streams or (2000 if args.short else 10000), args.latency_tasks)
    if args.short:
        args.job_seconds = min(args.job_seconds, 40)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
