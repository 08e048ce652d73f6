"""Several nodes on one database, from the command line: every node's data folder must hold the same
link.secret and credentials.key (the database records a fingerprint of them, which says nothing of the
secrets); a folder with other secrets is refused by init, serve, keys, credits and channels with a
message naming the files to copy. An unreachable database or bucket at start is one clear line and
exit status 1, never the URL or its password. The PostgreSQL tests run in the cluster of
REELAY_TEST_DATABASE_URL (scripts/pg-test-cluster.sh run)."""
import json
import os
import shutil
import sqlite3
import subprocess
import time

from conftest import BIN, Server, free_port

COMMANDS = (["serve", "--listen", "127.0.0.1:0"], ["keys", "list"], ["credits", "audit"], ["channels", "list"])


def clean_env(database=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REELAY_"))}
    env["REELAY_FAL_JWKS_URL"] = "http://127.0.0.1:9/.well-known/jwks.json"
    env["REELAY_FETCH_ALLOW"] = "127.0.0.1"
    if database:
        env["REELAY_DATABASE_URL"] = database
    return env


def reelay(*args, data, database=None, timeout=60):
    return subprocess.run([BIN, *args, "--data", str(data)], capture_output=True, text=True,
                          env=clean_env(database), timeout=timeout)


class Node(Server):
    """`reelay serve` on a data folder made beforehand (Server runs init itself; a node copies a folder)."""

    def __init__(self, data, database=None):
        self.data, self.flags, self.env = str(data), [], clean_env(database)
        self.log_path = self.data + ".log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.public_url, self.process, self.key = True, None, None
        self.start()


def assert_refused_for_secrets(done, folder, file_named="link.secret"):
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert file_named in done.stderr and "credentials.key" in done.stderr, done.stderr
    assert f"from an existing node's data folder into {folder}" in done.stderr, done.stderr


def test_nodes_on_one_postgres_database_need_the_same_secrets(tmp_path, postgres_database):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    made = reelay("init", "--json", data=a, database=postgres_database)
    assert made.returncode == 0, made.stderr
    first = json.loads(made.stdout)
    sealed = reelay("channels", "add", "--provider", "fal", "--name", "f", "--credential",
                    "fal_live_0123456789abcdef0123", "--models", "all", data=a, database=postgres_database)
    assert sealed.returncode == 0, sealed.stderr

    # node B: a copy of A's folder works, and opens what A sealed
    shutil.copytree(a, b)
    listed = reelay("channels", "list", "--json", data=b, database=postgres_database)
    assert listed.returncode == 0, listed.stderr
    assert {ch["name"]: ch["credential"] for ch in json.loads(listed.stdout)}["f"] == "fal_…0123"
    node = Node(b, postgres_database)
    try:
        assert node.request("GET", "/v1/balance", key=first["key"]).status_code == 200

        # folder C, made by its own init: refused, and nothing is written to the database
        refused = reelay("init", "--json", data=c, database=postgres_database)
        assert refused.returncode == 1 and refused.stdout == ""
        assert "initialised by another node" in refused.stderr
        assert_refused_for_secrets(refused, c)
        keys = reelay("keys", "list", "--json", data=a, database=postgres_database)
        assert [k["id"] for k in json.loads(keys.stdout)] == [first["key_id"]]
        for args in COMMANDS:
            assert_refused_for_secrets(reelay(*args, data=c, database=postgres_database), c)
        # the running node was not disturbed
        assert node.request("GET", "/v1/balance", key=first["key"]).status_code == 200
    finally:
        node.stop()
    assert postgres_database.rsplit("/", 1)[1] not in refused.stderr


def test_a_swapped_secret_is_refused_on_sqlite(tmp_path):
    data = tmp_path / "d"
    assert reelay("init", data=data).returncode == 0
    assert reelay("keys", "list", data=data).returncode == 0
    for name in ("link.secret", "credentials.key"):
        path = data / name
        kept = path.read_bytes()
        path.write_bytes(os.urandom(32))
        for args in COMMANDS:
            done = reelay(*args, data=data)
            assert_refused_for_secrets(done, data, file_named=name)
            assert f"{name} in {data} does not match" in done.stderr
        path.write_bytes(kept)
        assert reelay("keys", "list", data=data).returncode == 0


def test_a_database_without_a_fingerprint_gets_the_folders(tmp_path):
    """An installation older than the fingerprint: the first command records this folder's."""
    data = tmp_path / "d"
    assert reelay("init", data=data).returncode == 0

    def fingerprint():
        with sqlite3.connect(data / "reelay.db") as db:
            return db.execute("SELECT value FROM cluster_facts WHERE name = 'secrets_fingerprint'").fetchall()

    recorded = fingerprint()
    assert len(recorded) == 1 and recorded[0][0].startswith("v1 link=")
    for name in ("link.secret", "credentials.key"):  # it says nothing of the secrets
        assert (data / name).read_bytes().hex() not in recorded[0][0]
    with sqlite3.connect(data / "reelay.db") as db:
        db.execute("DELETE FROM cluster_facts")
    assert reelay("credits", "audit", data=data).returncode == 0
    assert fingerprint() == recorded


def test_an_unreachable_database_is_one_clear_line(tmp_path):
    url = "postgres://operator:hunter2secret@127.0.0.1:1/reelaydb"
    for args in (["init"], *COMMANDS):
        started = time.monotonic()
        done = reelay(*args, data=tmp_path / "d", database=url, timeout=30)
        assert time.monotonic() - started < 15
        assert done.returncode == 1, (args, done.stderr)
        ours = [line for line in done.stderr.splitlines() if line.startswith("reelay")]
        assert len(ours) == 1 and "cannot open the PostgreSQL database" in ours[0], done.stderr
        # besides it at most the one log line saying why (libpq's message, on one line)
        others = [line for line in done.stderr.splitlines() if line not in ours]
        assert len(others) <= 1 and all(line.startswith("ts=") for line in others), done.stderr
        assert "Connection refused" in done.stderr
        assert "hunter2secret" not in done.stderr and "reelaydb" not in done.stderr
        assert done.stdout == ""


def test_serve_refuses_an_unreachable_bucket(tmp_path):
    data = tmp_path / "d"
    assert reelay("init", data=data).returncode == 0
    env = clean_env()
    env.update(AWS_ACCESS_KEY_ID="id", AWS_SECRET_ACCESS_KEY="bucket-secret-123",
               REELAY_S3_ENDPOINT=f"http://127.0.0.1:{free_port()}")
    done = subprocess.run([BIN, "serve", "--data", str(data), "--storage", "s3://nowhere/x", "--listen",
                           "127.0.0.1:0"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1
    assert "did not answer" in done.stderr and "bucket-secret-123" not in done.stderr
