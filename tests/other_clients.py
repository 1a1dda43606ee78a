"""Two clients nobody here wrote, driven like labkit's own attempt(): Debian's psql 15 and node-postgres.

Why: the catalogue promises to read any client's words. psql 15 is libpq 15 on the system's OpenSSL 3.0;
node-postgres is node's own TLS stack (OpenSSL 3 inside node) with its own wording. Each run is a real
process against the real lab server, with an empty HOME (no ~/.postgresql, no ~/.pgpass) and no PG*
variable inherited, and returns what the client printed and the server-log lines of the same moment.
node-postgres is installed with npm into a cache folder once per machine.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from labkit import catalogue
from labkit.attempt_log import collect_log
from labkit.other_clients import DEBIAN_PSQL, run_psql
from labkit.server import LabServer

PSQL15 = DEBIAN_PSQL
NODE_CACHE = Path("/var/cache/labkit/node")
NODE_SCRIPT = Path(__file__).parent / "data" / "node_pg_attempt.js"


@dataclass
class Seen:
    """What one client printed and what the server logged meanwhile; ``key`` is the catalogue's reading."""

    client: str
    connected: bool
    text: str
    server_log: str
    measured: str | None = None  # a key the client's own driver measured (labkit's attempt() retries)
    settled: bool = True  # False: the client ended without reporting anything (node-postgres, see its script)

    @property
    def key(self) -> str | None:
        if self.measured is not None:
            return self.measured
        entry = catalogue.classify(self.text, self.server_log)
        return entry.key if entry else None

    def __str__(self) -> str:
        return (f"[{self.client}] connected={self.connected} key={self.key}\n client: {self.text}\n"
                f" log: {self.server_log}")


def _observe(lab: LabServer, client: str, mark: int, connected: bool, text: str) -> Seen:
    # collect_log waits for every backend of the window to log its end; "connection to server at" makes it
    # wait as for a libpq failure that reached the server (node's words do not say so).
    log = collect_log(lab, mark, False, None, text if "connection to server at" in text
                      else f'connection to server at "x", port 1 failed: {text}')
    return Seen(client, connected, text, log)


def psql15(lab: LabServer, sql: str = "SELECT 1", env: dict[str, str] | None = None, **params: Any) -> Seen:
    """Run Debian's psql 15 (labkit's :func:`~labkit.other_clients.run_psql`) with these libpq keywords."""
    if not PSQL15.exists():
        pytest.skip(f"Debian's psql 15 is not installed at {PSQL15} (apt-get install postgresql-client-15)")
    mark = lab.log_mark()
    connected, text = run_psql(lab, binary=PSQL15, sql=sql, env=env, connect_timeout=5, **params)
    return _observe(lab, "psql 15", mark, connected, text)


def node_modules() -> Path:
    """node-postgres in the cache folder, installed with npm the first time."""
    modules = NODE_CACHE / "node_modules"
    if not (modules / "pg" / "package.json").exists():
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            pytest.skip("node and npm are not installed: node-postgres cannot be reproduced here")
        NODE_CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(NODE_CACHE), "pg@8"],
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, f"npm install pg failed: {done.stderr[-800:]}"
    return modules


def node_pg(lab: LabServer, *, user: str, password: str | None = None, ssl: dict[str, Any] | None = None,
            sql: str | None = None, channel_binding: bool = False, port: int | None = None) -> Seen:
    """One node-postgres connection (``ssl``: ca/cert/key/crl file paths, passphrase; ``None`` = no TLS)."""
    config = {"host": lab.host, "port": port or lab.port, "user": user, "password": password,
              "ssl": False if ssl is None else {k: v if isinstance(v, bool) else str(v) for k, v in ssl.items()},
              "sql": sql,
              "channelBinding": channel_binding}
    env = dict(os.environ, NODE_PATH=str(node_modules()))
    mark = lab.log_mark()
    done = subprocess.run(["node", str(NODE_SCRIPT), json.dumps(config)], capture_output=True, text=True,
                          timeout=60, env=env, check=False)
    assert done.stdout.strip(), f"node printed nothing: {done.stderr[-800:]}"
    out = json.loads(done.stdout.strip().splitlines()[-1])
    seen = _observe(lab, "node-postgres", mark, bool(out["connected"]) and not out["error"], out["error"])
    seen.settled = bool(out.get("settled", True))
    return seen
