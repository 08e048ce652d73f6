"""Commands started together on a new data folder: each one creates (or finds) the database, switches it to
WAL and migrates it at the same moment as the others, and every one must succeed and be kept. (The unit
test racing_processes_migrate_a_fresh_folder_once hits the race far more often: forked processes start
within a millisecond of each other, while exec and dynamic linking spread these out.)"""
import json
import os
import subprocess

from conftest import BIN

RACERS = 8


def test_commands_started_together_on_a_fresh_folder_all_succeed(tmp_path):
    data = str(tmp_path / "data")
    os.mkdir(data)
    # Each racer is a shell that waits for the end of a pipe on its stdin, then execs the command: closing
    # the pipe starts them all at once (one Popen after another would spread them out).
    start_read, start_write = os.pipe()
    try:
        racers = [subprocess.Popen(["/bin/sh", "-c", 'read -r _; exec "$@" </dev/null', "racer", BIN, "keys",
                                    "create", "--data", data, "--json", "--credits", "7", "--name", f"racer{i}"],
                                   stdin=start_read, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for i in range(RACERS)]
    finally:
        os.close(start_read)
        os.close(start_write)
    outcomes = []
    for racer in racers:
        out, err = racer.communicate(timeout=60)
        outcomes.append((racer.returncode, out, err))
    assert all(code == 0 for code, _, _ in outcomes), [err for code, _, err in outcomes if code != 0]
    created = {json.loads(out)["id"] for _, out, _ in outcomes}
    assert len(created) == RACERS

    listed = subprocess.run([BIN, "keys", "list", "--data", data, "--json"], capture_output=True, text=True,
                            check=True).stdout
    keys = json.loads(listed)
    assert {k["id"] for k in keys} == created
    assert sorted(k["name"] for k in keys) == sorted(f"racer{i}" for i in range(RACERS))
    assert all(k["credits_available"] == 7 for k in keys)
    audit = subprocess.run([BIN, "credits", "audit", "--data", data], capture_output=True, text=True)
    assert audit.returncode == 0, audit.stdout + audit.stderr
