"""Helpers for the post-implementation lessons (Fase 3 of the guide): monitoring, traffic, rotation, passphrase.

Why this module exists: those lessons look at a running server from the outside -- which TLS sessions it
holds, which certificate it hands a *new* client, what its log said after a reload -- and need the same
few views in a shape that prints identically on every machine and on both backends (no data-directory
paths, no client addresses, no serials in the compared tables). Each function here does one of them.

- :func:`ssl_settings` -- the guide's ``pg_settings ... LIKE '%ssl%'`` with paths shown relative to PGDATA.
- :func:`stat_ssl` -- the guide's ``pg_stat_ssl`` ⋈ ``pg_stat_activity`` query, minus the observer's own row.
- :func:`sslinfo_row` -- every ``sslinfo`` function, evaluated inside one open session.
- :func:`served_certificate` -- the certificate a *new* client is handed right now (PostgreSQL's SSLRequest,
  then a TLS handshake with Python's :mod:`ssl`, ``getpeercert(binary_form=True)``); sslinfo cannot tell
  this, it only describes the client's certificate.
- :func:`pki_name` -- which lab PKI file a served serial belongs to.
- :func:`log_lines` -- server log lines without the timestamp/pid prefix, filtered, for a table.
- :func:`passphrase_script` -- the ``ssl_passphrase_command`` script: it prints a passphrase *file*.
"""
from __future__ import annotations

import re
import socket
import ssl
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from .errors import LabkitError

if TYPE_CHECKING:
    import psycopg

    from .pki import LabPKI
    from .server import LabServer

__all__ = ["ROUTINE_LOG", "SSLINFO_FUNCTIONS", "ServedCertificate", "log_lines", "passphrase_script", "pki_name",
           "served_certificate", "ssl_settings", "sslinfo_row", "stat_ssl"]

SSL_REQUEST = struct.pack("!II", 8, 80877103)  # PostgreSQL's SSLRequest: length 8, code 1234.5679

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


@dataclass(frozen=True)
class ServedCertificate:
    """The certificate the server presented to a fresh TLS handshake."""

    serial: str  # hex, as openssl x509 -serial prints it (lower case)
    subject: str  # RFC 4514 (``CN=localhost,O=pgtls-lab``)
    issuer: str
    not_after: str
    sha256: str
    tls_version: str | None


def served_certificate(host: str, port: int, timeout: float = 3) -> ServedCertificate:
    """Open a new connection, send PostgreSQL's SSLRequest, run a TLS handshake without verifying anything,
    and return the server's leaf certificate. What ``openssl s_client -starttls postgres`` would show."""
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise LabkitError(f"could not connect to {host}:{port}: {exc.strerror or exc}",
                          "is the lab running? (lab.status())") from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with raw:
        raw.sendall(SSL_REQUEST)
        answer = raw.recv(1)
        if answer != b"S":
            raise LabkitError(f"the server answered {answer!r} to the SSL request (not 'S')",
                              "turn TLS on first (ssl = on)")
        try:
            tls = context.wrap_socket(raw)
        except (ssl.SSLError, OSError) as exc:
            raise LabkitError(f"TLS handshake failed: {exc}", "see the server log") from None
        try:
            der = tls.getpeercert(binary_form=True)
            version = tls.version()
            try:
                tls.unwrap()  # close_notify: PostgreSQL logs nothing for a client leaving before its startup packet
            except (ssl.SSLError, OSError):
                pass
        finally:
            tls.close()
    if not der:
        raise LabkitError("the server presented no certificate", "check ssl_cert_file")
    cert = x509.load_der_x509_certificate(der)
    return ServedCertificate(serial=f"{cert.serial_number:x}", subject=cert.subject.rfc4514_string(),
                             issuer=cert.issuer.rfc4514_string(), not_after=cert.not_valid_after_utc.isoformat(),
                             sha256=cert.fingerprint(hashes.SHA256()).hex(), tls_version=version)


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


_PREFIX = re.compile(r"^\S+ \S+ \S+ \[\d+\] (?:\S*@\S* )?")


ROUTINE_LOG = (r"connection received|connection authorized|connection authenticated|checkpoint|"
               r"background worker|database system|listening on|starting PostgreSQL|shutting down|"
               r"aborting any active|fast shutdown|received SIGHUP|parameter \"")
"""Log lines that every start, stop, reload or connection writes: left out of lesson tables."""


def log_lines(text: str, pattern: str = r"LOG:|FATAL:|DETAIL:|WARNING:|ERROR:",
              exclude: str = ROUTINE_LOG) -> list[str]:
    """Log lines matching ``pattern`` and not ``exclude``, without the timestamp/pid/user prefix, and with
    data-directory paths cut to ``tls/<file>`` so they read the same on every backend."""
    out = []
    for line in text.splitlines():
        if not re.search(pattern, line) or (exclude and re.search(exclude, line)):
            continue
        line = _PREFIX.sub("", line).strip()
        line = re.sub(r'"[^"]*/(tls/[^"/]+)"', r'"\1"', line)
        out.append(line)
    return out


def passphrase_script(passphrase_file: str = "passphrase.txt") -> bytes:
    """A POSIX shell script for ``ssl_passphrase_command`` that prints the passphrase kept in a file next
    to it (so the secret is never written into the script or into postgresql.conf)."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+", passphrase_file):
        raise LabkitError(f"unsafe passphrase file name {passphrase_file!r}", "use a plain file name")
    return ("#!/bin/sh\n"
            "# ssl_passphrase_command: print the server key's passphrase on stdout, nothing else.\n"
            f'exec cat "$(dirname "$0")/{passphrase_file}"\n').encode()


