"""What the benchmarks share: a free loopback port, a process's CPU time and memory, and one reelay server
on a fresh data folder (SQLite, access log off). Only 127.0.0.1 is used."""
import json
import os
import socket
import subprocess
import time

import requests


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """User + system CPU seconds the process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_kib(pid, field):
    """A /proc/<pid>/status memory field (VmRSS, RssAnon, VmHWM …) in KiB; 0 when absent."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Server:
    """`reelay init` in folder/data, then `reelay serve` on a free port with flags; waits for /healthz."""

    def __init__(self, binary, folder, flags):
        self.data = os.path.join(folder, "data")
        first = json.loads(subprocess.run([binary, "init", "--data", self.data, "--json"], check=True,
                                          capture_output=True, text=True).stdout)
        self.key = first["key"]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, REELAY_ACCESS_LOG="0")
        self.log = open(os.path.join(folder, "reelay.log"), "w")
        self.process = subprocess.Popen([binary, "serve", "--data", self.data, "--listen", f"127.0.0.1:{self.port}",
                                         *flags], stdout=subprocess.DEVNULL, stderr=self.log, env=env)
        for _ in range(200):
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("reelay did not start")

    def cpu_seconds(self):
        return cpu_seconds(self.process.pid)

    def stop(self):
        self.process.terminate()
        self.process.wait(60)
        self.log.close()
