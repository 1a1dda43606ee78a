"""Looking at a running server from the outside: its TLS settings, its sessions, what each session got.

Why this module exists: the monitoring lessons check a server the way the guide does (``pg_settings ...
LIKE '%ssl%'``, ``pg_stat_ssl`` joined with ``pg_stat_activity``, the ``sslinfo`` functions) and need those
views in a shape that prints the same on every machine and backend: no data-directory paths, no client
addresses, no serials in the compared tables. The certificate a *new* client is served comes from
:func:`labkit.handshake.served_certificate`; :func:`pki_name` says which lab file it is.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from cryptography import x509

if TYPE_CHECKING:
    import psycopg

    from .client import AttemptResult
    from .pki import LabPKI
    from .server import LabServer

__all__ = ["SSLINFO_FUNCTIONS", "auth_method", "pki_name", "session_ssl", "settings_frame", "ssl_settings",
           "sslinfo_row", "stat_ssl"]

SSLINFO_FUNCTIONS: tuple[str, ...] = ("ssl_is_used", "ssl_version", "ssl_cipher", "ssl_client_cert_present",
                                      "ssl_client_serial", "ssl_client_dn", "ssl_issuer_dn")

_GUIDE_STAT_SSL = """
SELECT datname, pg_ssl.ssl, pg_ssl.version, pg_ssl.cipher, pg_sa.backend_type, pg_sa.usename,
       pg_sa.client_addr::text AS client_addr, application_name,
       pg_ssl.client_dn, pg_ssl.client_serial::text AS client_serial, pg_ssl.issuer_dn
FROM pg_stat_ssl pg_ssl
LEFT JOIN pg_stat_activity AS pg_sa ON pg_ssl.pid = pg_sa.pid
WHERE pg_ssl.pid <> pg_backend_pid()
ORDER BY application_name
"""


def ssl_settings(lab: LabServer) -> pd.DataFrame:
    """``SELECT name, setting FROM pg_settings WHERE name LIKE '%ssl%'`` (the guide's check), with file paths
    below the data directory written as ``$PGDATA/...`` so the table reads the same on every backend."""
    data_dir = lab.show("data_directory").rstrip("/")
    frame = lab.query("SELECT name, setting, context FROM pg_settings WHERE name LIKE '%%ssl%%' ORDER BY name")
    frame["setting"] = [s.replace(data_dir + "/", "$PGDATA/") if isinstance(s, str) else s
                        for s in frame["setting"]]
    return frame


def stat_ssl(lab: LabServer) -> pd.DataFrame:
    """The guide's monitoring query (``pg_stat_ssl`` joined with ``pg_stat_activity``), one row per client
    session, leaving out the admin session that runs it."""
    return lab.query(_GUIDE_STAT_SSL)


def sslinfo_row(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Every sslinfo function of :data:`SSLINFO_FUNCTIONS`, evaluated in the session of ``conn``.

    The extension must exist in the connected database (the lab creates it in ``postgres``)."""
    columns = ", ".join(f"{name}()" + ("::text" if name == "ssl_client_serial" else "") + f" AS {name}"
                        for name in SSLINFO_FUNCTIONS)
    cur = conn.execute(f"SELECT {columns}")  # names come from the constant above, not from a caller
    row = cur.fetchone()
    names = [d.name for d in cur.description or ()]
    return dict(zip(names, row or ()))


_SERVER_FILES = ("server_crt", "server2_crt", "server_by_root_crt", "wrong_host_crt")


def pki_name(pki: LabPKI, serial: str) -> str:
    """Which server certificate of the lab PKI has ``serial`` (hex): ``server.crt``, ``server2.crt``...;
    ``not from the lab PKI`` otherwise (e.g. the lab's bootstrap certificate)."""
    wanted = serial.lower().lstrip("0")
    for attr in _SERVER_FILES:
        path = getattr(pki.paths, attr)
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        if f"{cert.serial_number:x}" == wanted:
            return path.name
    return "not from the lab PKI"


def settings_frame(lab: LabServer, names: Sequence[str]) -> pd.DataFrame:
    """name, setting (file settings shown by file name), default, where it was set (file name only)."""
    rows = lab.execute("SELECT name, setting, boot_val, sourcefile FROM pg_settings WHERE name = ANY(%s) "
                       "ORDER BY name", (list(names),))
    out = []
    for r in rows:
        value = r["setting"]
        if r["name"].endswith("_file") and value:
            value = Path(value).name
        out.append({"name": r["name"], "setting": value, "built-in default": r["boot_val"],
                    "set in": Path(r["sourcefile"]).name if r["sourcefile"] else "(default)"})
    return pd.DataFrame(out, columns=["name", "setting", "built-in default", "set in"])


def auth_method(result: AttemptResult) -> str:
    """How the server authenticated a connected attempt, from its log ('scram-sha-256', 'cert'...)."""
    found = re.search(r"connection authenticated: .*?method=(\S+)", result.server_log)
    if found:
        return found.group(1)
    return "" if not result.connected else "(not logged)"


def session_ssl(result: AttemptResult) -> dict[str, Any]:
    """The attempt's own pg_stat_ssl row, reduced to the stable columns (ssl, version, cipher, client_dn)."""
    row = result.pg_stat_ssl or {}
    if not result.connected:
        return {"pg_stat_ssl.ssl": None, "version": None, "cipher": None}
    return {"pg_stat_ssl.ssl": row.get("ssl"), "version": row.get("version"), "cipher": row.get("cipher")}
