"""Limits that hold for the cluster, not per node: a channel's --max-concurrent (counted in the store
when a task is about to be submitted) and a key's --max-concurrent (counted in the admission, under the
key's row lock) with tasks submitted on two nodes of one PostgreSQL database at once."""
import concurrent.futures
import os
import subprocess
import sys

from cluster import database, make_cluster  # noqa: F401 (fixtures)
from conftest import BIN, wait_task

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "emulators"))
from fal_queue import FalQueue  # noqa: E402

FAST = ["--poll-scale", "0.01", "--submit-timeout-ms", "1500", "--unknown-grace", "5"]


def test_a_channels_cap_holds_across_nodes(make_cluster, database, media):
    emulator = FalQueue(os.path.join(media["dir"], "video2s.mp4"), queue_seconds=0.2, run_seconds=0.8)
    try:
        a, b = make_cluster(database, 2, flags=FAST, public_url=False)
        a.cli("channels", "disable", "sandbox")
        subprocess.run([BIN, "channels", "add", "--data", a.data, "--provider", "fal", "--name", "fal-a",
                        "--base-url", emulator.base_url, "--credential", "fal_test_key", "--models", "all",
                        "--max-concurrent", "1"], check=True, capture_output=True, env=a.env)
        a.restart()
        b.restart()
        body = {"model": "sora-2", "prompt": "capped", "duration": 4}
        ids = [node.submit(body).json()["id"] for node in (a, b, a, b)]
        for task_id in ids:
            assert wait_task(a, task_id, timeout=90)["status"] == "completed"
        jobs = sorted((job["created"], job["created"] + 1.0) for job in emulator.stats()["jobs"].values())
        assert len(jobs) == 4
        # one job at a time upstream, whichever node submitted it: no job starts before the previous ended
        for (_, previous_end), (start, _) in zip(jobs, jobs[1:]):
            assert start >= previous_end - 0.05, jobs
    finally:
        emulator.stop()


def test_a_keys_concurrency_limit_holds_across_nodes(make_cluster, database):
    a, b = make_cluster(database, 2, flags=["--engine-paused"])
    key = a.create_key("--max-concurrent", "3")

    def submit(i):
        node = (a, b)[i % 2]
        return node.submit({"model": "sora-2", "prompt": f"limit {i}", "duration": 4}, key=key["key"]).status_code

    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(submit, range(24)))
    assert codes.count(200) == 3, codes
    assert codes.count(429) == 21, codes
    # exactly the three admitted tasks hold a reservation, whichever node admitted them
    tasks = a.request("GET", "/v1/tasks?limit=100", key=key["key"]).json()["data"]
    assert len(tasks) == 3
    balance = b.request("GET", "/v1/balance", key=key["key"]).json()
    assert balance["credits_reserved"] == sum(t["usage"]["credits_reserved"] for t in tasks) > 0
