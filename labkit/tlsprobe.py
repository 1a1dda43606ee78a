"""Ask the server directly which TLS versions it accepts, without libpq.

Why: the guide's version table (TLS 1.0 ... 1.3 against ``ssl_min_protocol_version``) cannot be measured
with libpq. The libpq 18 in psycopg's wheel is built with OpenSSL 3, whose default security level 1 refuses
to offer TLS 1.0/1.1 at all; the lab would only ever show "the client cannot", never what the *server*
does. This probe speaks just enough of PostgreSQL's protocol to start TLS itself (the 8-byte SSLRequest,
then the 'S'/'N' answer) and then runs a handshake with Python's :mod:`ssl`, pinned to exactly one version,
with ``@SECLEVEL=0`` so that old versions and ciphers can be offered, and without verifying the server's
certificate (the question is "does the server accept this version", not "do I trust it").

After a successful handshake the probe sends TLS close_notify and closes: PostgreSQL deliberately logs
nothing for a client that leaves before its startup packet, so accepted probes leave no noise in the log;
refused ones leave the server's reason ("could not accept SSL connection: unsupported protocol").

Measured on this project's labs: Python's OpenSSL 3 client *can* offer TLS 1.0/1.1 at SECLEVEL=0;
PostgreSQL 16 built with OpenSSL 1.1.1 then accepts them once ``ssl_min_protocol_version = 'TLSv1'``;
PostgreSQL 15 with OpenSSL 3 still refuses them ("no suitable signature algorithm") unless its own
``ssl_ciphers`` lowers the security level too.
"""
from __future__ import annotations

import socket
import ssl
import struct
import time
import warnings
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from .errors import InvalidValue

if TYPE_CHECKING:
    import pandas as pd

    from .server import LabServer

__all__ = ["VERSIONS", "ProbeResult", "client_can_offer", "probe", "probe_lab", "probe_matrix"]

VERSIONS: tuple[str, ...] = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
SSL_REQUEST = struct.pack("!II", 8, 80877103)  # length 8, code 1234.5679 (PostgreSQL's SSLRequest)

CLIENT_CANNOT_OFFER = "client cannot offer"
SERVER_NO_SSL = "server has no SSL"


@dataclass
class ProbeResult:
    """One probe: which version was offered, whether the server completed the handshake, and why not.

    ``accepted`` is ``None`` when the question could not be asked (this client cannot offer the version, the
    server answered 'N' to the SSL request, or the TCP connection failed).
    """

    version_asked: str
    accepted: bool | None
    negotiated_version: str | None = None
    cipher: str | None = None
    error: str | None = None
    server_log: str = ""

    @property
    def result(self) -> str:
        if self.accepted:
            return "accepted"
        if self.accepted is False:
            return "refused"
        for verdict in (CLIENT_CANNOT_OFFER, SERVER_NO_SSL):
            if (self.error or "").startswith(verdict):
                return verdict
        return "not asked"


def _tls_version(name: str) -> ssl.TLSVersion:
    with warnings.catch_warnings():  # TLSv1/TLSv1_1 are deprecated names; probing them is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        return {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
                "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}[name]


def _context(version: str, cipher: str | None) -> ssl.SSLContext:
    """A client context that offers exactly ``version`` (raises ssl.SSLError/ValueError if it cannot)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = _tls_version(version)
        ctx.maximum_version = _tls_version(version)
    ctx.set_ciphers(f"{cipher}:@SECLEVEL=0" if cipher else "ALL:@SECLEVEL=0")
    return ctx


def client_can_offer(version: str, cipher: str | None = None) -> tuple[bool, str]:
    """Whether this Python's OpenSSL can send a ClientHello for ``version`` (no network involved).

    Runs the first step of a handshake into memory buffers: if OpenSSL produces a ClientHello the
    version can be offered; "no protocols available"/"no ciphers available" means it cannot.
    """
    _check_version(version)
    try:
        ctx = _context(version, cipher)
        tls = ctx.wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_side=False)
        tls.do_handshake()
    except ssl.SSLWantReadError:
        return True, ""
    except (ssl.SSLError, ValueError) as exc:
        return False, _ssl_message(exc) if isinstance(exc, ssl.SSLError) else str(exc)
    return True, ""


def _ssl_message(exc: ssl.SSLError) -> str:
    """'[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version (_ssl.c:1006)' -> the words only,
    which are what libpq prints and what the catalogue matches."""
    text = str(exc.args[1] if len(exc.args) > 1 else exc.args[0] if exc.args else exc)
    if "] " in text:
        text = text.split("] ", 1)[1]
    return text.split(" (_ssl.c", 1)[0].strip()


def _check_version(version: str) -> None:
    if version not in VERSIONS:
        raise InvalidValue("version", version, VERSIONS, "PostgreSQL's names, as in ssl_min_protocol_version")


def probe(host: str, port: int, version: str, cipher: str | None = None, timeout: float = 3) -> ProbeResult:
    """Offer only ``version`` (and ``cipher``, an OpenSSL TLS<=1.2 cipher string) to a PostgreSQL server."""
    _check_version(version)
    if cipher and version == "TLSv1.3":
        return ProbeResult(version, None, error=CLIENT_CANNOT_OFFER + ": Python's ssl cannot restrict TLS 1.3 "
                                                                      "cipher suites; probe TLS 1.3 without cipher")
    can, why = client_can_offer(version, cipher)
    if not can:
        return ProbeResult(version, None, error=f"{CLIENT_CANNOT_OFFER}: {why}")
    ctx = _context(version, cipher)
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        return ProbeResult(version, None, error=f"could not connect to {host}:{port}: {exc.strerror or exc}")
    with raw:
        try:
            raw.sendall(SSL_REQUEST)
            answer = raw.recv(1)
        except OSError as exc:
            return ProbeResult(version, None, error=f"no answer to the SSL request: {exc}")
        if answer != b"S":
            return ProbeResult(version, None, error=SERVER_NO_SSL if answer == b"N" else
                               f"unexpected answer to the SSL request: {answer!r}")
        try:
            tls = ctx.wrap_socket(raw, do_handshake_on_connect=True)
        except ssl.SSLError as exc:
            return ProbeResult(version, False, error=_ssl_message(exc))
        except OSError as exc:  # the server closed without an alert
            return ProbeResult(version, False, error=f"connection closed during the handshake: {exc}")
        negotiated, suite = tls.version(), (tls.cipher() or (None,))[0]
        try:
            tls.unwrap()  # close_notify: PostgreSQL logs nothing for a client that leaves before its startup packet
        except (ssl.SSLError, OSError):
            pass
        finally:
            tls.close()
    return ProbeResult(version, True, negotiated_version=negotiated, cipher=suite)


def probe_lab(lab: LabServer, version: str, cipher: str | None = None, timeout: float = 3,
              log_wait: float = 0.5) -> ProbeResult:
    """:func:`probe` against the lab, with what the server logged about it in ``server_log``.

    A refused handshake is logged by the backend a moment after the client has seen the alert, so the log is
    read until its "could not accept SSL connection" line appears (at most ``log_wait`` seconds); accepted
    probes leave no line (see the module docstring).
    """
    mark = lab.log_mark()
    result = probe(lab.host, lab.port, version, cipher, timeout)
    if result.accepted is False:
        deadline = time.monotonic() + log_wait
        log = lab.log_since(mark)
        while "could not accept SSL connection" not in log and time.monotonic() < deadline:
            time.sleep(0.002)
            log = lab.log_since(mark)
        result.server_log = "\n".join(line for line in log.splitlines() if "connection received" not in line)
    return result


def probe_matrix(lab: LabServer, versions: tuple[str, ...] = VERSIONS, cipher: str | None = None,
                 timeout: float = 3, log_wait: float = 0.5) -> pd.DataFrame:
    """Probe each version against the lab: one row each, with the verdict and what the server logged."""
    import pandas as pd

    rows = []
    for version in versions:
        result = probe_lab(lab, version, cipher, timeout, log_wait)
        rows.append({**asdict(result), "result": result.result,
                     "server_log": "\n".join(line.split("  ", 1)[-1] for line in result.server_log.splitlines())})
    columns = ["version_asked", "result", "accepted", "negotiated_version", "cipher", "error", "server_log"]
    return pd.DataFrame(rows, columns=columns)
