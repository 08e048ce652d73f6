"""A database that goes away while serving: a node on its own private PostgreSQL cluster
(scripts/pg-test-cluster.sh start/down/up/stop) answers 503 store_unavailable with Retry-After — never 500,
never after more than a few seconds — while the cluster is down, /healthz says the database is unreachable,
and once the cluster is back the same node serves again within seconds and every task it acknowledged
before the outage completes."""
import os
import subprocess
import tempfile
import time

import pytest
import requests

from conftest import REPO, Server, wait_task

SCRIPT = os.path.join(REPO, "scripts", "pg-test-cluster.sh")


@pytest.fixture
def private_cluster():
    folder = tempfile.mkdtemp(prefix="reelay-pg-outage.")
    os.rmdir(folder)  # the script wants a new (or empty) folder
    url = subprocess.run([SCRIPT, "start", folder], check=True, capture_output=True, text=True).stdout.strip()
    yield folder, url
    subprocess.run([SCRIPT, "stop", folder], capture_output=True)


def test_a_database_outage_answers_503_and_heals(tmp_path, private_cluster):
    folder, url = private_cluster
    server = Server(str(tmp_path), env={"REELAY_DATABASE_URL": url})
    try:
        acknowledged = []
        for i in range(3):
            created = server.submit({"model": "sora-2", "prompt": f"before {i}"})
            assert created.status_code == 200, created.text
            acknowledged.append(created.json()["id"])
        subprocess.run([SCRIPT, "down", folder], check=True)
        time.sleep(1.2)  # past the key cache
        for _ in range(3):
            for response in (server.submit({"model": "sora-2", "prompt": "during"}),
                             server.request("GET", f"/v1/tasks/{acknowledged[0]}"),
                             server.request("GET", "/v1/tasks"),
                             server.request("GET", "/v1/balance")):
                assert response.status_code == 503, (response.request.url, response.status_code, response.text)
                assert response.headers.get("Retry-After"), response.headers
                error = response.json()["error"]
                assert error["code"] == "store_unavailable" and error["type"] == "service_unavailable_error"
                assert response.elapsed.total_seconds() < 5
            health = requests.get(server.url + "/healthz", timeout=10)
            assert health.status_code == 503 and health.json()["database"] == "unreachable"
            time.sleep(0.5)
        subprocess.run([SCRIPT, "up", folder], check=True)
        deadline = time.time() + 10
        while requests.get(server.url + "/healthz", timeout=10).status_code != 200:
            assert time.time() < deadline, "the node did not come back with its database"
            time.sleep(0.2)
        for task_id in acknowledged:
            assert wait_task(server, task_id, timeout=120)["status"] == "completed"
        after = server.submit({"model": "sora-2", "prompt": "after"})
        assert after.status_code == 200, after.text
        assert wait_task(server, after.json()["id"])["status"] == "completed"
        assert server.process.poll() is None
    finally:
        server.stop()
