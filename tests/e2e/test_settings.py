"""The settings table seen from outside: every command's --help is printed from it, a flag beats its
REELAY_* variable, which beats the default, and a value that does not fit stops the command with exit
status 2, naming the flag or the variable and what is allowed, before anything is touched."""
import os
import subprocess
import time

import requests

from conftest import BIN


def run(*args, env=None):
    full = dict(os.environ)
    for name in list(full):
        if name.startswith("REELAY_") and name != "REELAY_BIN":
            del full[name]
    full.update(env or {})
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=full, timeout=60)


def test_every_command_prints_its_help_from_the_table():
    for command in ("init", "serve", "keys", "credits", "channels", "settings"):
        result = run(command, "--help")
        assert result.returncode == 0 and result.stdout.startswith("usage: reelay " + command), result
        assert "--help" in result.stdout
    serve = run("serve", "--help").stdout
    for flag, variable in (("--listen HOST:PORT", "REELAY_LISTEN"), ("--fetch-allow LIST", "REELAY_FETCH_ALLOW"),
                           ("--ffmpeg PROGRAM", "REELAY_FFMPEG"), ("--log-level LEVEL", "REELAY_LOG_LEVEL"),
                           ("--access-log", "REELAY_ACCESS_LOG"), ("--fal-jwks-url URL", "REELAY_FAL_JWKS_URL")):
        assert flag in serve and variable in serve, flag
    assert "--credential SECRET" in run("channels", "--help").stdout
    overview = run("--help")
    assert overview.returncode == 0 and "settings" in overview.stdout and "--data DIR" in overview.stdout
    listing = run("settings")
    assert listing.returncode == 0 and "REELAY_MAINTENANCE_INTERVAL_MS" in listing.stdout
    markdown = run("settings", "--markdown").stdout
    assert markdown.startswith("| flag | environment | default | commands | meaning |\n")
    assert "| `--threads N` | `REELAY_THREADS` |" in markdown


def test_a_value_that_does_not_fit_stops_with_status_2(tmp_path):
    data = str(tmp_path / "data")
    cases = [
        (["serve", "--threads", "300"], {}, "--threads must be a whole number from 0 to 256 (got '300')"),
        (["serve"], {"REELAY_THREADS": "abc"}, "REELAY_THREADS must be a whole number from 0 to 256"),
        (["serve", "--listen", "8080"], {}, "--listen must be HOST:PORT"),
        (["serve"], {"REELAY_LISTEN": "127.0.0.1:99999"}, "REELAY_LISTEN must be HOST:PORT"),
        (["serve"], {"REELAY_FETCH_MAX_BYTES": "12x"}, "REELAY_FETCH_MAX_BYTES must be a whole number"),
        (["serve"], {"REELAY_PUBLIC_URL": "ftp://example.com"}, "REELAY_PUBLIC_URL must be an absolute http(s)"),
        (["serve", "--poll-scale", "0"], {}, "--poll-scale must be a number from 0.001 to 100"),
        (["serve"], {"REELAY_ENGINE_PAUSED": "maybe"}, "REELAY_ENGINE_PAUSED must be 1, true"),
        (["serve", "--access-log=sometimes"], {}, "--access-log must be 1, true"),
        (["init"], {"REELAY_LOG_LEVEL": "loud"}, "REELAY_LOG_LEVEL must be one of debug, info, warn or error"),
        (["init", "--listen", "127.0.0.1:1"], {}, "--listen is not a flag of init"),
        (["serve", "--bogus"], {}, "unknown or incomplete flag '--bogus'"),
        (["keys", "create", "--rpm", "-1"], {}, "--rpm must be a whole number from 0 to 1000000"),
    ]
    for args, env, message in cases:
        result = run(*args, "--data", data, env=env)
        assert result.returncode == 2 and message in result.stderr, (args, env, result.stderr)
    assert not os.path.exists(data)  # refused before anything was created


def logged_eventually(server, text, timeout=5):
    """The server's log once it holds text (or after timeout: the caller's assertion then says so)."""
    deadline = time.time() + timeout
    log = server.read_log()
    while text not in log and time.time() < deadline:
        time.sleep(0.05)
        log = server.read_log()
    return log


def test_a_flag_beats_its_variable_which_beats_the_default(make_server, tmp_path):
    # The fixture gives --listen, --data and --public-url as flags: the variables' nonsense is never read.
    quiet = make_server(env={"REELAY_LISTEN": "nonsense", "REELAY_PUBLIC_URL": "nonsense",
                             "REELAY_LOG_LEVEL": "warn"})
    assert requests.get(quiet.url + "/healthz", timeout=5).status_code == 200
    quiet.request("GET", "/v1/tasks")
    # the variable beats the default (info): neither the start line nor request lines are logged
    assert "msg=\"serving\"" not in quiet.read_log() and "msg=\"request\"" not in quiet.read_log()

    loud = make_server(flags=["--log-level", "info"], env={"REELAY_LOG_LEVEL": "warn", "REELAY_ACCESS_LOG": "0"})
    loud.request("GET", "/v1/tasks")
    # the start line is written just after the listener opens, so /healthz can answer before it
    log = logged_eventually(loud, "msg=\"serving\"")
    assert "msg=\"serving\"" in log and "msg=\"request\"" not in log

    plain = make_server(flags=["--access-log=1"], env={"REELAY_ACCESS_LOG": "0"})
    plain.request("GET", "/v1/tasks")
    # a request line is written when h2o disposes of the request, just after its answer went out
    assert "msg=\"request\"" in logged_eventually(plain, "msg=\"request\"")

    # REELAY_DATA stands in for --data, and --data beats it
    listed = run("keys", "list", "--json", env={"REELAY_DATA": plain.data})
    assert listed.returncode == 0 and plain.key_id in listed.stdout
    elsewhere = run("keys", "list", "--json", "--data", str(tmp_path / "nothing"), env={"REELAY_DATA": plain.data})
    assert elsewhere.returncode == 1 and plain.key_id not in elsewhere.stdout
