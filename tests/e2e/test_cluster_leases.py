"""Several nodes on one PostgreSQL database sharing the work through leases (store.h "Nodes and their
leases", engine/node_lease.h): a killed node's tasks are taken over within 15 s, a paused node that wakes
up past its lease can change nothing and exits (status 3), a node stopping cleanly hands its tasks back at
once — and no upstream job is ever submitted twice."""
import os
import signal
import sys
import time

import requests

from cluster import database, make_cluster, query  # noqa: F401 (fixtures)
from conftest import BIN, TERMINAL, ffprobe, wait_task

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "emulators"))
from fal_queue import FalQueue  # noqa: E402
import subprocess  # noqa: E402

FAST = ["--poll-scale", "0.01", "--submit-timeout-ms", "1500", "--unknown-grace", "5"]


def fal_cluster(make_cluster, database_url, emulator, count=2, flags=FAST):
    nodes = make_cluster(database_url, count, flags=flags, public_url=False)
    first = nodes[0]
    first.cli("channels", "disable", "sandbox")
    subprocess.run([BIN, "channels", "add", "--data", first.data, "--provider", "fal", "--name", "fal-a",
                    "--base-url", emulator.base_url, "--credential", "fal_test_key", "--models", "all"],
                   check=True, capture_output=True, env=first.env)
    for node in nodes:
        node.restart()
    return nodes


def submit_sora(node, count):
    ids = []
    for _ in range(count):
        response = node.submit({"model": "sora-2", "prompt": "a lighthouse", "duration": 4})
        assert response.status_code == 200, response.text
        ids.append(response.json()["id"])
    return ids


def owners(database_url, ids):
    rows = query(database_url, "SELECT id, lease_epoch FROM tasks WHERE id IN (%s)" %
                 ",".join(f"'{i}'" for i in ids))
    return {row[0]: int(row[1]) for row in rows}


def epoch_of(database_url, node):
    rows = query(database_url, f"SELECT epoch FROM nodes WHERE name LIKE '%:{node.process.pid}' "
                               "ORDER BY epoch DESC LIMIT 1")
    return int(rows[0][0])


def check_completed(node, ids, tmp_path):
    for task_id in ids:
        task = wait_task(node, task_id, timeout=60)
        assert task["status"] == "completed", task
        download = requests.get(task["results"][0]["url"], timeout=30)
        assert download.status_code == 200
        path = os.path.join(str(tmp_path), task_id + ".mp4")
        with open(path, "wb") as f:
            f.write(download.content)
        assert abs(ffprobe(path)["duration"] - 2.0) < 0.2


def test_a_killed_nodes_tasks_are_taken_over_within_15_seconds(make_cluster, database, media, tmp_path):
    emulator = FalQueue(os.path.join(media["dir"], "video2s.mp4"), queue_seconds=4, run_seconds=4)
    try:
        a, b = fal_cluster(make_cluster, database, emulator)
        epoch_a, epoch_b = epoch_of(database, a), epoch_of(database, b)
        ids = submit_sora(a, 4)
        assert set(owners(database, ids).values()) == {epoch_a}
        for task_id in ids:
            wait_task(a, task_id, until={"processing"}, timeout=20)
        a.kill9()
        killed = time.time()
        deadline = killed + 15
        while set(owners(database, ids).values()) != {epoch_b}:
            assert time.time() < deadline, owners(database, ids)
            time.sleep(0.2)
        print(f"taken over {time.time() - killed:.1f} s after the kill")
        check_completed(b, ids, tmp_path)
        assert emulator.stats()["jobs_created"] == 4  # the jobs were followed, never submitted again
        out = b.cli("credits", "audit")
        assert out.returncode == 0 and out.stdout.startswith("ledger consistent: 1 keys, 4 tasks"), out.stdout
    finally:
        emulator.stop()


def test_a_paused_node_that_wakes_past_its_lease_changes_nothing_and_exits(make_cluster, database, media,
                                                                            tmp_path):
    emulator = FalQueue(os.path.join(media["dir"], "video2s.mp4"), queue_seconds=1, run_seconds=2)
    try:
        a, b = fal_cluster(make_cluster, database, emulator, flags=[*FAST, "--node-lease-ms", "3000"])
        epoch_b = epoch_of(database, b)
        ids = submit_sora(a, 3)
        for task_id in ids:
            wait_task(a, task_id, until={"processing"}, timeout=20)
        os.kill(a.process.pid, signal.SIGSTOP)
        deadline = time.time() + 10
        while set(owners(database, ids).values()) != {epoch_b}:
            assert time.time() < deadline, owners(database, ids)
            time.sleep(0.2)
        check_completed(b, ids, tmp_path)
        os.kill(a.process.pid, signal.SIGCONT)
        assert a.process.wait(timeout=10) == 3  # it found its lease taken and stopped
        a.log.close()
        assert "lease was lost" in a.read_log()
        for task_id in ids:  # what b finished stays finished
            assert b.request("GET", f"/v1/tasks/{task_id}").json()["status"] == "completed"
        assert emulator.stats()["jobs_created"] == 3
    finally:
        emulator.stop()


def test_a_node_stopping_cleanly_hands_its_tasks_back_at_once(make_cluster, database, media, tmp_path):
    emulator = FalQueue(os.path.join(media["dir"], "video2s.mp4"), queue_seconds=2, run_seconds=2)
    try:
        a, b = fal_cluster(make_cluster, database, emulator)
        epoch_b = epoch_of(database, b)
        ids = submit_sora(a, 3)
        for task_id in ids:
            wait_task(a, task_id, until={"processing"}, timeout=20)
        a.stop()
        stopped = time.time()
        while set(owners(database, ids).values()) != {epoch_b}:
            assert time.time() < stopped + 3, owners(database, ids)  # a claim round, not a lease
            time.sleep(0.1)
        check_completed(b, ids, tmp_path)
        assert emulator.stats()["jobs_created"] == 3
    finally:
        emulator.stop()


def test_tasks_run_where_they_were_admitted_and_both_nodes_answer_for_all(make_cluster, database):
    a, b = make_cluster(database, 2)
    ids_a = [a.submit({"model": "sora-2", "prompt": "one", "duration": 4}).json()["id"] for _ in range(3)]
    ids_b = [b.submit({"model": "sora-2", "prompt": "two", "duration": 4}).json()["id"] for _ in range(3)]
    assert set(owners(database, ids_a).values()) == {epoch_of(database, a)}
    assert set(owners(database, ids_b).values()) == {epoch_of(database, b)}
    for task_id in ids_a + ids_b:
        task = wait_task(b if task_id in ids_a else a, task_id, timeout=60)
        assert task["status"] in TERMINAL and task["status"] == "completed", task
