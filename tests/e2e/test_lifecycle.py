"""Crash safety (kill -9 with tasks stored and renders in flight), deadlines, the command line and
operations endpoints."""
import os
import subprocess
import time

import requests

from conftest import BIN, wait_task


def test_tasks_survive_kill9_and_resume(make_server, media):
    server = make_server(["--engine-paused"])
    ids = [server.submit({"model": "sora-2", "prompt": f"crash {i}"}).json()["id"] for i in range(3)]
    ids.append(server.submit({"model": "lipsync-2", "video_url": media["video2s.mp4"],
                              "audio_url": media["audio1s.wav"], "sync_mode": "cut_off"}).json()["id"])
    server.kill9()
    server.start([])
    for task_id in ids:
        assert wait_task(server, task_id)["status"] == "completed"


def test_kill9_during_a_render_still_completes(make_server):
    server = make_server()
    task_id = server.submit({"model": "sora-2-pro", "prompt": "slow", "duration": 12,
                             "resolution": "1080p"}).json()["id"]
    progress = wait_task(server, task_id, until={"processing"}, timeout=30)["progress"]
    time.sleep(1)
    server.kill9()
    server.start([])
    task = wait_task(server, task_id, timeout=180)
    assert task["status"] == "completed" and task["progress"] == 100 >= progress
    assert abs(task["results"][0]["duration"] - 12) < 0.2


def test_deadline_fails_the_task_with_timeout(make_server):
    server = make_server(["--task-timeout", "2"])
    task_id = server.submit({"model": "sora-2-pro", "prompt": "too slow", "duration": 20,
                             "resolution": "1080p"}).json()["id"]
    task = wait_task(server, task_id, timeout=30)
    assert task["status"] == "failed" and task["error"]["code"] == "timeout"
    paused = make_server(["--engine-paused", "--task-timeout", "1"])
    task_id = paused.submit({"model": "sora-2", "prompt": "never started"}).json()["id"]
    task = wait_task(paused, task_id, timeout=15)
    assert task["status"] == "failed" and task["error"]["code"] == "timeout"


def test_command_line(make_server, tmp_path):
    assert subprocess.run([BIN, "--help"], capture_output=True).returncode == 0
    for command in (["serve", "--help"], ["init", "--help"], ["keys", "--help"]):
        r = subprocess.run([BIN, *command], capture_output=True, text=True)
        assert r.returncode == 0 and "usage" in r.stdout
    assert subprocess.run([BIN, "frobnicate"], capture_output=True).returncode != 0
    assert subprocess.run([BIN, "serve", "--bogus"], capture_output=True).returncode != 0
    server = make_server()
    again = server.cli("init", "--json")
    assert again.stdout.strip() == "{}"
    assert "sk-" not in server.cli("init").stdout
    created = server.create_key()
    listing = server.cli("keys", "list", "--json").stdout
    assert created["id"] in listing and created["key"] not in listing and server.key not in listing
    assert server.request("GET", "/v1/tasks", key=created["key"]).status_code == 200
    assert server.cli("keys", "revoke", created["id"]).returncode == 0
    # each HTTP thread trusts a key it has checked for one second: revocation takes effect within that
    deadline = time.time() + 3
    while server.request("GET", "/v1/tasks", key=created["key"]).status_code != 401:
        assert time.time() < deadline, "revoked key still accepted"
        time.sleep(0.1)
    time.sleep(1.1)
    for _ in range(4):  # every thread has dropped it by now
        assert server.request("GET", "/v1/tasks", key=created["key"]).status_code == 401
    assert server.cli("keys", "revoke", "key_doesnotexist", check=False).returncode != 0
    log = server.read_log()
    assert server.key not in log and created["key"] not in log


def test_health_and_metrics(server):
    assert requests.get(server.url + "/healthz", timeout=5).json() == {"status": "ok"}
    assert server.request("GET", "/v1/tasks").status_code == 200
    # a request is counted when h2o disposes of it, just after its answer went out: on a loaded machine
    # the next request (on another connection, maybe another thread) can come first
    line = 'reelay_http_requests_total{route="tasks.list",status="200"}'
    deadline = time.time() + 5
    text = requests.get(server.url + "/metrics", timeout=5).text
    while line not in text and time.time() < deadline:
        time.sleep(0.05)
        text = requests.get(server.url + "/metrics", timeout=5).text
    assert line in text
    assert 'reelay_tasks{state="completed"}' in text
    assert "reelay_engine_queue_depth " in text


def test_results_leave_storage_once_their_links_expired(make_server):
    # links live 3 s after completion; the retention sweep runs every 200 ms
    server = make_server(["--link-ttl", "3", "--maintenance-interval-ms", "200"])
    task = wait_task(server, server.submit({"model": "sora-2", "prompt": "short-lived"}).json()["id"])
    assert task["status"] == "completed", task
    url = task["results"][0]["url"]
    assert requests.get(url, timeout=30).status_code == 200
    path = os.path.join(server.data, "blobs", "results", task["id"], "output.mp4")
    assert os.path.exists(path)
    assert os.path.exists(os.path.join(os.path.dirname(path), "poster.jpg"))  # goes with the folder below
    deadline = time.time() + 20
    while os.path.exists(path):
        assert time.time() < deadline, "the result outlived its link"
        time.sleep(0.2)
    assert not os.path.exists(os.path.dirname(path))
    gone = requests.get(url, timeout=10)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "link_expired"
    assert server.request("GET", f"/v1/tasks/{task['id']}").json()["status"] == "completed"
