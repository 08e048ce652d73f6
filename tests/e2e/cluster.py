"""Helpers for tests of several nodes: a fresh PostgreSQL database per test on the throwaway cluster that
`make test` starts (scripts/pg-test-cluster.sh sets REELAY_TEST_DATABASE_URL), and nodes sharing it."""
import os
import subprocess

import pytest

from conftest import Server


@pytest.fixture
def database(postgres_database):
    """The URL of a new, empty database (conftest.py's postgres_database), dropped after the test."""
    return postgres_database


def query(url, sql):
    """The rows of a query, as lists of strings."""
    out = subprocess.run(["psql", "-At", "-F", "\t", url, "-c", sql], check=True, capture_output=True,
                         text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


@pytest.fixture
def make_cluster(tmp_path):
    """make(database, count, flags, env) → `count` nodes of one installation on that database, sharing the
    first node's storage folder; stopped after the test."""
    started = []

    def make(database_url, count=2, flags=(), env=None, public_url=True):
        env = {**(env or {}), "REELAY_DATABASE_URL": database_url}
        first = Server(str(tmp_path / "n0"), flags, env, public_url=public_url)
        started.append(first)
        shared = ["--storage", os.path.join(first.data, "blobs")]
        first.restart([*flags, *shared])
        nodes = [first]
        for i in range(1, count):
            node = Server(str(tmp_path / f"n{i}"), [*flags, *shared], env, public_url=public_url,
                          data_from=first)
            started.append(node)
            nodes.append(node)
        return nodes

    yield make
    for s in started:
        if s.process and s.process.poll() is None:
            try:
                os.kill(s.process.pid, 18)  # SIGCONT, in case a test left it stopped
            except ProcessLookupError:
                pass
            s.stop()
