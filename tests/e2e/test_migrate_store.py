"""`reelay migrate-store`: a SQLite installation (keys, credits, a channel, finished and unfinished tasks)
moved into an empty PostgreSQL database, then served from there: the key works, balances and ledgers
are the same, the unfinished task runs to completion, the finished task's result link still verifies
(link.secret came along in the folder), the credit audit passes. A target that is not empty is refused.
Runs in the cluster of REELAY_TEST_DATABASE_URL (scripts/pg-test-cluster.sh run)."""
import json

import requests

from conftest import wait_task
from test_cluster_cli import Node, reelay


def submit(server, key, prompt):
    r = server.submit({"model": "sora-2", "prompt": prompt}, key=key)
    assert r.status_code == 200, r.text
    return r.json()["id"]


def ledgers(data, key_ids, database=None):
    shown = {}
    for key_id in key_ids:
        done = reelay("credits", "show", key_id, "--json", data=data, database=database)
        assert done.returncode == 0, done.stderr
        shown[key_id] = json.loads(done.stdout)
    return shown


def test_a_sqlite_installation_moves_to_postgres_and_keeps_working(make_server, postgres_database):
    server = make_server()
    key = server.create_key("--max-concurrent", "3")
    added = server.cli("channels", "add", "--provider", "fal", "--name", "spare", "--credential",
                       "fal_live_0123456789abcdef0123", "--models", "all", "--disabled")
    assert added.returncode == 0
    finished = submit(server, key["key"], "finished before the move")
    done = wait_task(server, finished, key=key["key"])
    assert done["status"] == "completed"
    server.restart([*server.flags, "--engine-paused"])
    unfinished = submit(server, key["key"], "left for the new database")
    server.stop()
    key_ids = [server.key_id, key["id"]]
    before = ledgers(server.data, key_ids)
    assert before[key["id"]]["credits_reserved"] > 0  # the unfinished task holds its reservation

    moved = reelay("migrate-store", "--from", "sqlite:", "--to", postgres_database, data=server.data)
    assert moved.returncode == 0, moved.stderr
    lines = moved.stdout
    assert "keys              2" in lines and "channels          2" in lines
    assert "tasks             2 (1 unfinished" in lines
    assert "Credit audit of the copy: ok" in lines
    assert postgres_database not in moved.stdout + moved.stderr

    # the copy answers the same, through the command line …
    assert ledgers(server.data, key_ids, postgres_database) == before
    listed = reelay("channels", "list", "--json", data=server.data, database=postgres_database)
    spare = {c["name"]: c for c in json.loads(listed.stdout)}["spare"]
    assert spare["credential"] == "fal_…0123" and spare["enabled"] is False
    # … and served: the key works, the unfinished task runs, the old result link still verifies
    node = Node(server.data, postgres_database)
    try:
        assert node.request("GET", "/v1/balance", key=key["key"]).status_code == 200
        assert wait_task(node, unfinished, key=key["key"], timeout=60)["status"] == "completed"
        old = node.request("GET", f"/v1/tasks/{finished}", key=key["key"]).json()
        assert old["status"] == "completed"
        link = done["results"][0]["url"]  # signed by the old server; the copied link.secret verifies it
        assert link.startswith(server.url) and old["results"][0]["url"] == node.url + link[len(server.url):]
        fetched = requests.get(node.url + link[len(server.url):], timeout=30)
        assert fetched.status_code == 200 and len(fetched.content) > 1000
        tampered = node.url + link[len(server.url):-1] + ("0" if link[-1] != "0" else "1")
        assert requests.get(tampered, timeout=30).status_code in (403, 404)
    finally:
        node.stop()
    audit = reelay("credits", "audit", data=server.data, database=postgres_database)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    after = ledgers(server.data, [key["id"]], postgres_database)[key["id"]]
    assert after["credits_reserved"] == 0
    assert [e["kind"] for e in after["ledger"]][-1] == "settle"

    # a target that already holds an installation is refused, and nothing is changed
    again = reelay("migrate-store", "--from", "sqlite:", "--to", postgres_database, data=server.data)
    assert again.returncode == 1 and "not empty" in again.stderr
    assert ledgers(server.data, [key["id"]], postgres_database)[key["id"]] == after


def test_migrate_store_needs_both_databases(tmp_path):
    data = tmp_path / "d"
    assert reelay("init", data=data).returncode == 0
    missing = reelay("migrate-store", "--from", "sqlite:", data=data)
    assert missing.returncode == 2 and "needs --from URL and --to URL" in missing.stderr
    same = reelay("migrate-store", "--from", "sqlite:", "--to", "sqlite:", data=data)
    assert same.returncode == 2 and "same database" in same.stderr
    nowhere = reelay("migrate-store", "--from", "sqlite:", "--to", "postgres://u:pw@127.0.0.1:1/x", data=data)
    assert nowhere.returncode == 1 and "cannot open the PostgreSQL database" in nowhere.stderr
    empty = reelay("migrate-store", "--from", "sqlite:", "--to", "postgres://u:pw@127.0.0.1:1/x",
                   data=tmp_path / "none")
    assert empty.returncode == 1 and "no database" in empty.stderr
