#!/usr/bin/python3
"""What a hostile client costs the server, for one or more reelay binaries side by side in the same run
(e.g. the release build of an older commit next to the current one: the older one is the reference).

For each binary, on a fresh data folder, with 2 HTTP threads (release builds give meaningful numbers):
  flood   4 connections pipeline GET /v1/models until their buffers are full (about 80,000 requests) and
          hang up without reading; reported: how long /healthz then takes, and how long until the
          server's CPU use falls quiet (< 5 % over 100 ms, at most 60 s watched).
  head    POST /v1/videos/generations announcing 120 MB (and a 2 MB body on a 1 MiB route) without
          sending it; reported: time to the first byte of the answer (no answer in 10 s: "none") and
          the status.
  base64  a 40 MiB file sent to POST /v1/files/upload/base64 with --threads 1 (so /healthz shares the
          upload's loop); reported: growth of the server's RssAnon, the slowest /healthz meanwhile, and
          the upload's time.

Usage: bench/hostile_client.py BINARY [BINARY…]     (default: build/reelay)
Only 127.0.0.1 is used."""
import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import requests

import bench_server

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Server(bench_server.Server):
    def __init__(self, binary, folder, threads):
        super().__init__(binary, folder, ["--threads", str(threads)])

    def rss_anon_kib(self):
        return bench_server.status_kib(self.process.pid, "RssAnon")

    def stop(self):
        self.process.kill()
        self.process.wait()
        self.log.close()


def timed_health(server):
    started = time.monotonic()
    requests.get(server.url + "/healthz", timeout=120)
    return time.monotonic() - started


def flood(server):
    request = f"GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.key}\r\n\r\n".encode()
    batch = request * 2000
    sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(4)]
    queued = [0] * len(sockets)
    for s in sockets:
        s.setblocking(False)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and min(queued) < 20000 * len(request):
        progress = False
        for i, s in enumerate(sockets):
            try:
                n = s.send(batch[queued[i] % len(batch):])
                queued[i] += n
                progress = progress or n > 0
            except BlockingIOError:
                pass
        if not progress:
            time.sleep(0.01)
    for s in sockets:
        s.close()
    health = timed_health(server)
    ended = time.monotonic()
    quiet_after = None
    while time.monotonic() - ended < 60:
        before = server.cpu_seconds()
        time.sleep(0.1)
        if server.cpu_seconds() - before < 0.005:
            quiet_after = time.monotonic() - ended
            break
    requests_sent = sum(queued) // len(request)
    quiet = f"{quiet_after:.1f} s" if quiet_after is not None else "> 60 s"
    return f"{requests_sent} requests abandoned; /healthz {health * 1000:.0f} ms; CPU quiet after {quiet}"


def head_only(server, head):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        started = time.monotonic()
        s.sendall(head)
        try:
            first = s.recv(64)
        except socket.timeout:
            return "none in 10 s"
        if not first:
            return f"closed without an answer after {(time.monotonic() - started) * 1000:.0f} ms"
        return f"{first.split(b' ')[1].decode()} after {(time.monotonic() - started) * 1000:.1f} ms"


def base64_upload(server):
    data = os.urandom(40 << 20)
    body = json.dumps({"file_data": base64.b64encode(data).decode(), "filename": "big.bin"}).encode()
    del data
    before = server.rss_anon_kib()
    peak, slowest, stop = [before], [0.0], threading.Event()

    def sample():  # its own thread: a /healthz held up by the server must not hold up the sampling
        while not stop.is_set():
            peak[0] = max(peak[0], server.rss_anon_kib())
            time.sleep(0.002)

    def watch():
        while not stop.is_set():
            started = time.monotonic()
            requests.get(server.url + "/healthz", timeout=60)
            slowest[0] = max(slowest[0], time.monotonic() - started)
            time.sleep(0.01)

    sampler, watcher = threading.Thread(target=sample), threading.Thread(target=watch)
    sampler.start()
    watcher.start()
    started = time.monotonic()
    answer = requests.post(server.url + "/v1/files/upload/base64", data=body, timeout=300,
                           headers={"Authorization": f"Bearer {server.key}", "Content-Type": "application/json"})
    took = time.monotonic() - started
    time.sleep(0.2)
    stop.set()
    sampler.join()
    watcher.join()
    return (f"status {answer.status_code}; RssAnon +{(peak[0] - before) / 1024:.1f} MiB; slowest /healthz "
            f"{slowest[0] * 1000:.0f} ms; upload {took:.2f} s")


def main():
    binaries = sys.argv[1:] or [os.path.join(REPO, "build", "reelay")]
    for binary in binaries:
        print(f"== {binary}")
        with tempfile.TemporaryDirectory(prefix="reelay-hostile-") as folder:
            server = Server(binary, os.path.join(folder, "a"), threads=2)
            try:
                print("flood  ", flood(server))
                print("head   120 MB announced:", head_only(
                    server, b"POST /v1/videos/generations HTTP/1.1\r\nHost: x\r\nContent-Length: 120000000\r\n\r\n"))
                print("head   2 MB announced:  ", head_only(
                    server, b"POST /v1/videos/generations HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n"))
            finally:
                server.stop()
            server = Server(binary, os.path.join(folder, "b"), threads=1)
            try:
                print("base64 ", base64_upload(server))
            finally:
                server.stop()


if __name__ == "__main__":
    main()
