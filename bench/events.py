#!/usr/bin/python3
"""What open live event streams (GET /v1/tasks/{id}/events) cost one node.

Two runs on fresh data folders, the release binary, 2 HTTP threads, SQLite:
  idle     the engine paused, TASKS pending tasks; N streams opened over them (a small asyncio client,
           one socket each); reported: the server's RSS growth per open stream (VmRSS after − before,
           / N) and its CPU (user+system, % of one core) over IDLE seconds with every stream open.
  changing the engine running, TASKS sandbox tasks (--render-concurrency 2) moving through their
           progress; N streams over them; reported: the server's CPU while they change and the events
           delivered (streams close once their task ends).
The ffmpeg renders are child processes: their CPU is not counted (only the server's own).

Usage: bench/events.py [N] [BINARY]     (default: 10000 build/reelay)
Needs a descriptor limit above N + 100 (the script raises its own soft limit). Only 127.0.0.1."""
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import requests

import bench_server

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = 50
IDLE = 10
CHANGING = 15


class Server(bench_server.Server):
    def __init__(self, binary, folder, flags):
        super().__init__(binary, folder, ["--threads", "2", *flags])

    def submit(self, prompt):
        r = requests.post(self.url + "/v1/videos/generations", headers={"Authorization": f"Bearer {self.key}"},
                          json={"model": "sora-2", "prompt": prompt}, timeout=30)
        r.raise_for_status()
        return r.json()["id"]

    def rss_kib(self):
        return bench_server.status_kib(self.process.pid, "VmRSS")


        self.log.close()


class Streams:
    """N open streams; counts the events they receive."""

    def __init__(self):
        self.events = 0
        self.open = 0
        self.tasks = []

    async def one(self, port, key, task_id, opened):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /v1/tasks/{task_id}/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n"
                     "Accept: text/event-stream\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head[:80])
        self.open += 1
        opened.set_result(True) if not opened.done() else None
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                self.events += chunk.count(b"\nevent: task\n")
        finally:
            self.open -= 1
            writer.close()

    async def open_all(self, server, task_ids, n):
        for i in range(n):
            opened = asyncio.get_running_loop().create_future()
            self.tasks.append(asyncio.create_task(self.one(server.port, server.key, task_ids[i % len(task_ids)],
                                                           opened)))
            await opened
            if i % 1000 == 999:
                await asyncio.sleep(0)

    def close_all(self):
        for task in self.tasks:
            task.cancel()


async def idle_run(binary, n):
    with tempfile.TemporaryDirectory() as folder:
        server = Server(binary, folder, ["--engine-paused"])
        task_ids = [server.submit(f"idle {i}") for i in range(TASKS)]
        await asyncio.sleep(1)
        before = server.rss_kib()
        streams = Streams()
        started = time.time()
        await streams.open_all(server, task_ids, n)
        opening = time.time() - started
        await asyncio.sleep(2)
        after = server.rss_kib()
        cpu0, t0 = server.cpu_seconds(), time.time()
        await asyncio.sleep(IDLE)
        cpu = (server.cpu_seconds() - cpu0) / (time.time() - t0) * 100
        print(f"idle:     {streams.open} streams open (in {opening:.1f} s); RSS {before} → {after} KiB: "
              f"{(after - before) * 1024 / max(n, 1):.0f} bytes per stream; CPU {cpu:.1f} % of a core over {IDLE} s")
        streams.close_all()
        server.stop()


async def changing_run(binary, n):
    with tempfile.TemporaryDirectory() as folder:
        server = Server(binary, folder, ["--engine-paused"])
        task_ids = [server.submit(f"changing {i}") for i in range(TASKS)]
        server.stop()  # restarted running: the tasks move only once every stream is open
        server.process = None
        server.log = open(os.path.join(folder, "reelay.log"), "a")
        env = dict(os.environ, REELAY_ACCESS_LOG="0")
        server.process = subprocess.Popen([binary, "serve", "--data", server.data, "--listen",
                                           f"127.0.0.1:{server.port}", "--threads", "2", "--render-concurrency",
                                           "2"], stdout=subprocess.DEVNULL, stderr=server.log, env=env)
        for _ in range(200):
            try:
                if requests.get(server.url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        streams = Streams()
        await streams.open_all(server, task_ids, n)
        cpu0, t0, events0 = server.cpu_seconds(), time.time(), streams.events
        await asyncio.sleep(CHANGING)
        elapsed = time.time() - t0
        cpu = (server.cpu_seconds() - cpu0) / elapsed * 100
        print(f"changing: {n} streams over {TASKS} moving tasks; {streams.events - events0} events delivered in "
              f"{elapsed:.0f} s ({streams.open} streams still open); CPU {cpu:.1f} % of a core")
        streams.close_all()
        server.stop()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    binary = sys.argv[2] if len(sys.argv) > 2 else os.path.join(REPO, "build", "reelay")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1000), hard))
    asyncio.run(idle_run(binary, n))
    asyncio.run(changing_run(binary, n))


if __name__ == "__main__":
    main()
