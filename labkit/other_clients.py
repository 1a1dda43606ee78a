"""Clients other than psycopg's libpq: Debian's ``psql`` 15 (the system libpq 15 and OpenSSL 3.0).

Why this module exists: an error text belongs to a client *and its OpenSSL*, not to PostgreSQL. psycopg's
wheel brings libpq 18 with OpenSSL 3.5, Debian's psql 15 the system's libpq 15 with OpenSSL 3.0, and the
two word the same TLS alert differently (``ssl/tls alert ...`` against ``sslv3 alert ...``). To say which
client prints which, the course runs both against the same server state; each client's OpenSSL is read from
the library it really loads (``ldd``, then the library's own version banner).

Passwords go through ``PGPASSWORD`` in the child's environment, never on a command line or in a result;
``HOME`` is an empty folder, so no ``~/.postgresql`` or ``~/.pgpass`` of this machine takes part.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidValue, LabkitError

if TYPE_CHECKING:
    from .server import LabServer

__all__ = ["DEBIAN_PSQL", "ClientRun", "client_openssl", "psql_attempt", "psql_version", "run_psql"]

DEBIAN_PSQL = Path("/usr/lib/postgresql/15/bin/psql")
"""Debian 12's psql 15, linked with the system libpq and OpenSSL."""

_PREFIX = re.compile(r'^(psql: error: )?(connection to server at "[^"]*" \([^)]*\), port \d+ failed: |'
                     r'connection to server at "[^"]*", port \d+ failed: )')


@dataclass(frozen=True)
class ClientRun:
    """One connection attempt by an external client: whether it connected and what it printed."""

    client: str
    openssl: str | None
    connected: bool
    message: str


def psql_version(binary: Path = DEBIAN_PSQL) -> str:
    """``psql (PostgreSQL) 15.x (Debian ...)`` -> ``15.x``; :class:`LabkitError` when it does not run."""
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise LabkitError(f"{binary} cannot be run: {exc}", "apt-get install postgresql-client-15") from None
    found = re.search(r"\(PostgreSQL\) (\S+)", out)
    return found.group(1) if found else out.strip()


def client_openssl(binary: Path = DEBIAN_PSQL) -> str | None:
    """The banner of the OpenSSL ``binary`` loads (``OpenSSL 3.0.19 27 Jan 2026``), None if none."""
    from .binaries import _linked_libcrypto, openssl_banner_in

    library = _linked_libcrypto(binary)
    return openssl_banner_in(library) if library else None


def run_psql(lab: LabServer, *, binary: Path = DEBIAN_PSQL, sql: str = "select 1", env: dict[str, str] | None = None,
             timeout: float = 30, **params: Any) -> tuple[bool, str]:
    """Run ``binary -X -At -c sql`` against the lab with libpq keywords ``params`` (host, port and dbname default
    to the lab's); return whether it connected and what it printed on stderr (passphrase prompts dropped).

    The child inherits no ``PG*`` variable and gets an empty ``HOME`` (``env`` adds variables); a
    ``password`` keyword travels as ``PGPASSWORD``, never on the command line."""
    from psycopg.conninfo import make_conninfo

    if not binary.exists():
        raise InvalidValue("binary", str(binary), "an installed psql", "apt-get install postgresql-client-15")
    password = params.pop("password", None)
    keywords = {"host": lab.host, "port": lab.port, "dbname": "postgres", "connect_timeout": 10,
                **{k: str(v) for k, v in params.items() if v is not None}}
    with tempfile.TemporaryDirectory(prefix="labkit-psql-home-") as home:
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        child_env.update(HOME=home, LC_ALL="C", PGPASSFILE=str(Path(home) / "no-pgpass"), **(env or {}))
        if password is not None:
            child_env["PGPASSWORD"] = str(password)
        try:
            run = subprocess.run([str(binary), "-X", "-At", "-d", make_conninfo(**keywords), "-c", sql],
                                 capture_output=True, text=True, timeout=timeout, env=child_env,
                                 stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired:
            raise LabkitError(f"psql did not finish within {timeout:.0f} s", "is the lab running?") from None
    text = "\n".join(line for line in run.stderr.splitlines() if "Enter PEM pass phrase" not in line).strip()
    return run.returncode == 0, text


def psql_attempt(lab: LabServer, *, binary: Path = DEBIAN_PSQL, user: str = "postgres", password: str | None = None,
                 timeout: float = 20, **params: Any) -> ClientRun:
    """One ``select 1`` by ``binary`` (:func:`run_psql`); the message is its first line without the
    ``connection to server at ... failed:`` prefix."""
    connected, text = run_psql(lab, binary=binary, user=user, password=password, timeout=timeout, **params)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    message = _PREFIX.sub("", lines[0]) if lines else ""
    return ClientRun(client=f"psql {psql_version(binary)} (libpq 15)", openssl=client_openssl(binary),
                     connected=connected, message=message)
