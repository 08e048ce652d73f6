#!/usr/bin/env python3
"""What the console's reads cost with many tasks stored: N tasks are submitted to a paused server
(SQLite, access log off), then each read the console polls is timed 21 times in a row on one connection
— the operator's tasks summary (every 2 s in the live view) and channel health (every 5 s), a key's
credits per day, the console's page, and a page of the task list as the reference. Prints the median
and the maximum of each.

    bench/admin_reads.py [TASKS] [BINARY]      (defaults: 10000, build/reelay)
"""
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_server import Server  # noqa: E402


def main():
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    binary = sys.argv[2] if len(sys.argv) > 2 else "build/reelay"
    folder = tempfile.mkdtemp(prefix="reelay-bench-admin-")
    server = Server(binary, folder, ["--engine-paused"])
    try:
        # the admin token of this folder: a new one, since init printed its own only once
        admin = json.loads(subprocess.run([binary, "admin-token", "rotate", "--json", "--data", server.data],
                                          check=True, capture_output=True, text=True).stdout)["admin_token"]
        user = {"Authorization": f"Bearer {server.key}"}

        def submit(i):
            return requests.post(server.url + "/v1/videos/generations", headers=user, timeout=60,
                                 json={"model": "sora-2", "prompt": f"task {i}", "duration": 4}).status_code

        started = time.time()
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            codes = list(pool.map(submit, range(tasks)))
        print(f"{codes.count(200)} of {tasks} tasks stored in {time.time() - started:.1f} s")
        session = requests.Session()
        operator = {"Authorization": f"Bearer {admin}"}
        for path, headers in (("/admin/v1/tasks/summary", operator), ("/admin/v1/channels/health", operator),
                              ("/v1/usage/daily?days=30", user), ("/console", {}),
                              ("/v1/tasks?limit=100", user)):
            times = []
            for _ in range(21):
                begun = time.perf_counter()
                answer = session.get(server.url + path, headers=headers, timeout=60)
                times.append((time.perf_counter() - begun) * 1000)
                assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])
            times.sort()
            print(f"{path:32} median {times[10]:7.2f} ms   max {times[-1]:7.2f} ms")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
