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

__all__ = ["SSLINFO_FUNCTIONS", "auth_method", "new_client_view", "pki_name", "requirements", "server_openssl_release", "session_ssl",
           "settings_frame", "ssl_settings", "sslinfo_extension", "sslinfo_row", "stat_ssl", "tls_floor_by_release", "versions"]

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


# --------------------------------------------------------------------------------------------------------
# The guide's requirements (Fase #1), checked on both sides
# --------------------------------------------------------------------------------------------------------


def _at_least(text: object, minimum: tuple[int, ...]) -> bool | None:
    """Whether the version in ``text`` is at least ``minimum``; None when no version was observed (a
    library whose banner could not be read is not thereby too old)."""
    numbers = tuple(int(n) for n in re.findall(r"\d+", str(text or ""))[:len(minimum)])
    if not numbers:
        return None
    return len(numbers) == len(minimum) and numbers >= minimum


def versions(lab: LabServer) -> pd.DataFrame:
    """Which PostgreSQL and which OpenSSL copies take part, on each side (the server's, libpq's, Python's).
    The guide's ``openssl version`` prints the command-line tool's library, which need not be the one the
    server loaded; this reads the library the server process really uses."""
    from .doctor import client_facts

    facts, client = lab.facts(), client_facts()
    rows = [("server", "PostgreSQL (select version())", lab.execute("select version()")[0]["version"]),
            ("server", "SSL library (ssl_library)", facts["ssl_library"]),
            ("server", "OpenSSL loaded by postgres", facts.get("server_openssl_banner") or facts["server_openssl"]),
            ("server", "how the lab runs it", facts["backend"]),
            ("client", "libpq (psycopg)", client["libpq_version"]),
            ("client", "OpenSSL inside libpq", client["client_openssl"]),
            ("client", "OpenSSL of Python's ssl (raw probe)", client["python_openssl"])]
    return pd.DataFrame(rows, columns=["side", "component", "found"])


def server_openssl_release(lab: LabServer) -> dict[str, str | None]:
    """The server's OpenSSL as its own banner says (``OpenSSL 1.1.1  11 Sep 2018``): the version, the patch
    letter (none: the branch's first release, without any of its later fix releases) and the release date
    -- what a security reviewer needs, and what "1.1.1" alone does not say."""
    import re

    banner = lab.backend.server_openssl_banner()
    found = re.match(r"OpenSSL (\d+)\.(\d+)\.(\d+)([a-z]?)\S*\s+(.+)$", banner or "")
    if not found:
        return {"banner": banner, "version": None, "patch letter": None, "released": None}
    major, minor, fix, letter, date = found.groups()
    return {"banner": banner, "version": f"{major}.{minor}.{fix}{letter}",
            "patch letter": letter or "(none)",
            "released": date}


def tls_floor_by_release(majors: tuple[int, ...] = (12, 13, 14, 15, 16, 17)) -> pd.DataFrame:
    """The built-in ``ssl_min_protocol_version`` of every PostgreSQL major installed on this machine, read
    from each binary (:func:`labkit.backends.local.built_in_default`): when the TLS 1.2 floor arrived, measured."""
    from .backends.local import built_in_default

    found = built_in_default("ssl_min_protocol_version", majors)
    return pd.DataFrame([{"PostgreSQL": major, "built-in ssl_min_protocol_version": value or "(not installed here)"}
                         for major, value in found.items()])


def sslinfo_extension(lab: LabServer) -> pd.DataFrame:
    """The guide's ``select * from pg_available_extensions where name = 'sslinfo'``."""
    return lab.query("select name, default_version, installed_version, comment "
                     "from pg_available_extensions where name = 'sslinfo'")


def requirements(lab: LabServer, default_probe: pd.DataFrame, role: str = "conssl") -> pd.DataFrame:
    """The guide's requirements as a checklist: requirement, how it was checked, ok. Names no version
    number (it is compared between machines). ``default_probe`` is :func:`labkit.handshake.probe_matrix`
    at the server's default settings. ``ok`` is None where the thing was not observed (e.g. the server's
    libcrypto could not be read), never False."""
    from .doctor import client_facts

    facts, client = lab.facts(), client_facts()
    rows = lab.execute("select rolsuper, rolcanlogin, coalesce(rolpassword like 'SCRAM-SHA-256$%%', false) "
                       "as scram from pg_authid where rolname = %s", (role,))
    who = rows[0] if rows else {"rolsuper": False, "rolcanlogin": False, "scram": False}
    accepted = set(default_probe.loc[default_probe["result"] == "accepted", "version_asked"])
    python_openssl = str(client["python_openssl"]).split()[1] if " " in str(client["python_openssl"]) else ""
    checks = [
        ("#1 server OpenSSL >= 1.1.1", "library the postgres binary loads",
         _at_least(facts["server_openssl"], (1, 1, 1))),
        ("#1 client OpenSSL >= 1.1.1 (libpq)", "libcrypto bundled with libpq",
         _at_least(client["client_openssl"], (1, 1, 1))),
        ("#1 probe OpenSSL >= 1.1.1 (Python)", "ssl.OPENSSL_VERSION", _at_least(python_openssl, (1, 1, 1))),
        ("#2 supported PostgreSQL (>= 12)", "server_version_num", int(facts["server_version_num"]) >= 120000),
        ("#2 server speaks TLS 1.2 and 1.3", "raw handshake probe, default settings",
         {"TLSv1.2", "TLSv1.3"} <= accepted),
        ("built with SSL", "current_setting('ssl_library')", facts["ssl_library"] == "OpenSSL"),
        ("sslinfo available", "pg_available_extensions", not sslinfo_extension(lab).empty),
        (f"role {role}: login, not superuser", "pg_authid", bool(who["rolcanlogin"] and not who["rolsuper"])),
        (f"{role} cannot read the server's files", "pg_read_file() as that role, on the server key",
         rows != [] and not role_reads_server_files(lab, role)),
        (f"{role} password stored as SCRAM", "pg_authid.rolpassword prefix", bool(who["scram"])),
    ]
    return pd.DataFrame(checks, columns=["requirement", "checked with", "ok"])


def role_reads_server_files(lab: LabServer, role: str) -> bool:
    """Whether ``role`` can read a file of the server's account (``pg_read_file`` on the active server key):
    a superuser can, and on a shared machine that account also owns the keys of every other lab. Measured by
    trying it over a real TLS connection as that role."""
    import psycopg

    from .roles import role_password

    key = lab.show("ssl_key_file")
    try:
        with psycopg.connect(**lab.conninfo(user=role, password=role_password(lab, role), passfile=None,
                                            sslmode="require")) as conn:
            conn.execute("select pg_read_file(%s, 0, 1)", (key,))
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


def new_client_view(lab: LabServer, pki: LabPKI, step: str, **attempt_keywords: Any) -> dict[str, Any]:
    """What a client connecting *now* gets: which lab certificate the server presents (and its serial),
    and whether an attempt with ``attempt_keywords`` connects -- the check after every rotation step.
    A server that is not running presents nothing and nobody connects."""
    from .client import attempt
    from .handshake import served_certificate

    if not lab.status()["running"]:
        return {"step": step, "new client connects": False, "certificate presented": "(server down)",
                "serial": "", "psql": ""}
    served = served_certificate(lab.host, lab.port)
    tried = attempt(lab, label=step, **attempt_keywords)
    return {"step": step, "new client connects": tried.connected,
            "certificate presented": pki_name(pki, served.serial), "serial": served.serial, "psql": tried.psql}
