"""Helpers shared by scripts/torture and scripts/bench-cluster: a throwaway PostgreSQL
cluster, a `thalo serve` process that can be killed and restarted, and HTTP requests.
Only the Python standard library."""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

PG_BIN = "/usr/lib/postgresql/15/bin"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """A throwaway PostgreSQL cluster."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="thalo-pg-torture-")
        os.chmod(self.dir, 0o777)
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self._as_postgres([f"{PG_BIN}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync"])
        self._as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "-o",
                           f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on", "start"])
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, command):
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--"] + command
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def restart(self, down_seconds):
        """Stops the cluster at once (as a crash would), waits, and starts it again."""
        self._as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "immediate", "stop"])
        time.sleep(down_seconds)
        self._as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "-o",
                           f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on", "start"])

    def stop(self):
        try:
            self._as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    """`thalo serve` that can be killed and restarted on the same port and data."""

    def __init__(self, binary, data, database_url, extra=()):
        self.binary = binary
        self.extra = list(extra)
        self.data = data
        self.database_url = database_url
        self.port = free_port()
        self.process = None
        self.log = open(os.path.join(data, "serve.log"), "ab")

    def start(self):
        command = [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data, "--log-level", "warning"]
        if self.database_url:
            command += ["--database-url", self.database_url]
        command += self.extra
        self.process = subprocess.Popen(command, stdout=self.log, stderr=self.log, env={**os.environ, "NO_COLOR": "1"})
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"thalo serve exited with {self.process.returncode}; see {self.log.name}")
            try:
                status, _ = request(self.port, "GET", "/health", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit("thalo serve did not answer /health within 120 s")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def request(port, method, path, body=None, headers=None, timeout=10):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body)
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        connection.request(method, path, body=data, headers=all_headers)
        response = connection.getresponse()
        text = response.read().decode()
        return response.status, (json.loads(text) if text else None)
    finally:
        connection.close()
