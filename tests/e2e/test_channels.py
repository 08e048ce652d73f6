"""`reelay channels …`: provider accounts managed from the command line, credentials sealed at rest
and never printed whole, and the API's answer when no enabled channel serves a model."""
import glob
import json
import os
import sqlite3
import subprocess
import time

from conftest import BIN

FAL_KEY = "fal_live_0123456789abcdef0123456789"
KLING = "AK_live_0123456789abcdef:SK_live_fedcba9876543210secret"


def channels(server, *args, check=True, stdin=None):
    return subprocess.run([BIN, "channels", *args, "--data", server.data], capture_output=True, text=True,
                          env=server.env, check=check, input=stdin)


def listed(server):
    return {c["name"]: c for c in json.loads(channels(server, "list", "--json").stdout)}


def database_bytes(server):
    data = b""
    for path in glob.glob(os.path.join(server.data, "reelay.db*")):
        with open(path, "rb") as f:
            data += f.read()
    return data


def test_add_list_update_disable_enable_remove(make_server):
    server = make_server()
    channels(server, "add", "--provider", "fal", "--name", "fal-main", "--credential", FAL_KEY, "--models", "all",
             "--priority", "10", "--weight", "3", "--max-concurrent", "50")
    channels(server, "add", "--provider", "fal", "--name", "fal-lipsync", "--credential", FAL_KEY,
             "--models", "lipsync-2, sync-3", "--base-url", "http://127.0.0.1:9/")
    everything = listed(server)
    main = everything["fal-main"]
    assert main == {**main, "provider": "fal", "base_url": "https://queue.fal.run", "models": "all", "priority": 10,
                    "weight": 3, "max_concurrent": 50, "enabled": True}
    lipsync = everything["fal-lipsync"]
    assert lipsync["models"] == "lipsync-2,sync-3" and lipsync["base_url"] == "http://127.0.0.1:9"
    assert lipsync["priority"] == 0 and lipsync["weight"] == 1 and lipsync["max_concurrent"] == 0
    assert everything["sandbox"]["credential"] == "(none)"
    # higher priority first
    assert [c["name"] for c in json.loads(channels(server, "list", "--json").stdout)][0] == "fal-main"

    channels(server, "update", "fal-main", "--priority", "-5", "--models", "sora-2,sora-2-pro", "--max-concurrent", "0")
    main = listed(server)["fal-main"]
    assert (main["priority"], main["models"], main["max_concurrent"], main["weight"]) == (-5, "sora-2,sora-2-pro", 0, 3)

    channels(server, "disable", "fal-main")
    assert listed(server)["fal-main"]["enabled"] is False
    channels(server, "enable", "fal-main")
    assert listed(server)["fal-main"]["enabled"] is True
    channels(server, "remove", "fal-lipsync")
    assert "fal-lipsync" not in listed(server)
    gone = channels(server, "remove", "fal-lipsync", check=False)
    assert gone.returncode == 1 and "no channel named fal-lipsync" in gone.stderr


def test_credentials_are_sealed_and_only_ever_masked(make_server, tmp_path):
    server = make_server()
    channels(server, "add", "--provider", "fal", "--name", "f", "--credential", FAL_KEY, "--models", "all")
    # from standard input: never in the process list
    channels(server, "add", "--provider", "fal", "--name", "g", "--credential", "-", "--models", "all",
             stdin=FAL_KEY[::-1] + "\n")
    text = channels(server, "list").stdout
    as_json = channels(server, "list", "--json").stdout
    for secret in (FAL_KEY, FAL_KEY[::-1]):
        assert secret not in text and secret not in as_json
        assert secret.encode() not in database_bytes(server)
        assert secret[4:-4] not in text + as_json
    assert listed(server)["f"]["credential"] == FAL_KEY[:4] + "…" + FAL_KEY[-4:]
    assert listed(server)["g"]["credential"] == FAL_KEY[::-1][:4] + "…" + FAL_KEY[::-1][-4:]
    key_file = os.path.join(server.data, "credentials.key")
    assert os.stat(key_file).st_mode & 0o777 == 0o600
    # a rotated credential replaces the sealed one
    channels(server, "update", "f", "--credential", "fal_rotated_key_000000000000000000")
    assert listed(server)["f"]["credential"] == "fal_…0000"
    # a credential sealed under another data folder's key cannot be opened: the list says so instead of
    # printing garbage
    other = str(tmp_path / "other")
    subprocess.run([BIN, "init", "--data", other], check=True, capture_output=True, env=server.env)
    subprocess.run([BIN, "channels", "add", "--provider", "fal", "--name", "f", "--credential", FAL_KEY,
                    "--models", "all", "--data", other], check=True, capture_output=True, env=server.env)
    with sqlite3.connect(os.path.join(other, "reelay.db")) as db:
        foreign = db.execute("SELECT credential_sealed FROM channels WHERE name = 'f'").fetchone()[0]
    with sqlite3.connect(os.path.join(server.data, "reelay.db")) as db:
        db.execute("UPDATE channels SET credential_sealed = ? WHERE name = 'f'", (foreign,))
    assert "cannot be opened" in listed(server)["f"]["credential"]
    # and a folder whose key was swapped is refused outright (the database knows its secrets' fingerprint)
    os.rename(key_file, key_file + ".old")
    with open(key_file, "wb") as f:
        f.write(os.urandom(32))
    swapped = channels(server, "list", check=False)
    assert swapped.returncode == 1 and "credentials.key in " in swapped.stderr
    os.replace(key_file + ".old", key_file)
    # nothing of the secret reaches the server's log either
    assert FAL_KEY not in server.read_log()


def test_bad_input_is_refused_and_changes_nothing(make_server):
    server = make_server()
    before = listed(server)
    cases = [
        (["add", "--provider", "nope", "--name", "x", "--credential", "k", "--models", "all"], "unknown provider"),
        (["add", "--provider", "fal", "--name", "x", "--models", "all"], "needs --credential"),
        (["add", "--provider", "fal", "--name", "bad name", "--credential", "k", "--models", "all"], "--name"),
        (["add", "--provider", "fal", "--name", "x/..", "--credential", "k", "--models", "all"], "--name"),
        (["add", "--provider", "fal", "--name", "x", "--credential", "has space", "--models", "all"], "form KEY"),
        (["add", "--provider", "kling", "--name", "x", "--credential", "no-colon", "--models", "all"],
         "ACCESS_KEY:SECRET_KEY"),
        (["add", "--provider", "creatify", "--name", "x", "--credential", ":key", "--models", "all"],
         "API_ID:API_KEY"),
        (["add", "--provider", "fal", "--name", "x", "--credential", "k", "--models", "gpt-9"], "unknown model"),
        (["add", "--provider", "fal", "--name", "x", "--credential", "k", "--models", "all", "--base-url",
          "ftp://example.com"], "--base-url"),
        (["add", "--provider", "fal", "--name", "x", "--credential", "k", "--models", "all", "--base-url",
          "https://user:pw@example.com"], "--base-url"),
        (["add", "--provider", "fal", "--name", "x", "--credential", "k", "--models", "all", "--priority", "1e3"],
         "--priority"),
        (["add", "--provider", "fal", "--name", "x", "--credential", "k", "--models", "all", "--weight", "0"],
         "--weight"),
        (["add", "--provider", "sandbox", "--name", "x", "--credential", "k", "--models", "all"], "no --credential"),
        (["add", "--provider", "fal", "--name", "sandbox", "--credential", "k", "--models", "all"], "exists"),
        (["update", "nope", "--priority", "1"], "no channel named nope"),
        (["update", "sandbox", "--provider", "fal"], "cannot change"),
        (["enable"], "exactly one channel"),
        (["frobnicate"], "unknown channels command"),
        (["list", "--bogus"], "unknown or incomplete flag"),
    ]
    for args, message in cases:
        result = channels(server, *args, check=False)
        assert result.returncode in (1, 2), (args, result)
        assert message in result.stderr, (args, result.stderr)
    assert listed(server) == before


def test_no_enabled_channel_answers_503_until_one_is_enabled(make_server, media):
    server = make_server()
    body = {"model": "sora-2", "prompt": "a lighthouse at dusk"}
    assert server.submit(body).status_code == 200
    channels(server, "disable", "sandbox")
    deadline = time.time() + 5  # the API re-reads channels every 2 s
    while True:
        response = server.submit(body)
        if response.status_code == 503 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["type"] == "service_unavailable_error" and "sora-2" in error["message"]
    assert int(response.headers["Retry-After"]) > 0
    channels(server, "enable", "sandbox")
    deadline = time.time() + 5
    while server.submit(body).status_code != 200:
        assert time.time() < deadline, "the re-enabled channel was never used"
        time.sleep(0.2)
