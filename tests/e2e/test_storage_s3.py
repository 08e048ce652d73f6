"""S3 storage from the command line: `reelay init --storage s3://…` checks the bucket (through
tests/s3/sigv4_proxy.py, which refuses a request not signed with the right secret), a wrong secret or
an unreachable endpoint is a clear error with exit status 1 that never shows the secret, and `serve`
refuses S3 storage until its file links read from it. Needs `make clients` (tests/s3's npm packages)."""
import os
import subprocess

import pytest

from conftest import BIN, REPO, free_port

SECRET = "e2e-secret-key"


@pytest.fixture(scope="module")
def s3_endpoint():
    proxy = subprocess.Popen(["/usr/bin/python3", os.path.join(REPO, "tests", "s3", "sigv4_proxy.py"), "S3RVER",
                              SECRET, "us-east-1", "reelay-e2e"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    line = proxy.stdout.readline().decode()
    assert line.startswith("READY "), "the S3 test servers did not start (run `make clients`)"
    yield f"http://127.0.0.1:{line.split()[1]}"
    proxy.stdin.close()
    proxy.wait(timeout=30)


def run(args, secret=SECRET):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "REELAY_"))}
    env.update(AWS_ACCESS_KEY_ID="S3RVER", AWS_SECRET_ACCESS_KEY=secret, REELAY_STORAGE_URL="s3://reelay-e2e/node")
    return subprocess.run([BIN, *args], env=env, capture_output=True, text=True, timeout=60)


def test_init_checks_the_bucket(tmp_path, s3_endpoint):
    done = run(["init", "--data", str(tmp_path / "d"), "--s3-endpoint", s3_endpoint, "--json"])
    assert done.returncode == 0, done.stderr
    wrong = run(["init", "--data", str(tmp_path / "d"), "--s3-endpoint", s3_endpoint], secret="not-it")
    assert wrong.returncode == 1
    assert "cannot use the storage s3://reelay-e2e/node" in wrong.stderr
    assert "403 SignatureDoesNotMatch" in wrong.stderr
    assert "not-it" not in wrong.stderr + wrong.stdout
    gone = run(["init", "--data", str(tmp_path / "d"), "--s3-endpoint", f"http://127.0.0.1:{free_port()}"])
    assert gone.returncode == 1
    assert "did not answer" in gone.stderr


def test_serve_refuses_s3_storage_for_now(tmp_path, s3_endpoint):
    assert run(["init", "--data", str(tmp_path / "d"), "--s3-endpoint", s3_endpoint]).returncode == 0
    served = run(["serve", "--data", str(tmp_path / "d"), "--s3-endpoint", s3_endpoint, "--listen", "127.0.0.1:0"])
    assert served.returncode == 1
    assert "serve cannot use S3 storage yet" in served.stderr
