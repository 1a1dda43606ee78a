"""Talk TLS to the server directly, without libpq: the one SSLRequest-then-handshake routine and what is
built on it (version probes, the certificate a new client is served, handshake timing).

Why: several lessons ask questions libpq cannot answer. The libpq 18 in psycopg's wheel is built with
OpenSSL 3, whose default security level refuses to offer TLS 1.0/1.1 at all, so the lab would only ever
show "the client cannot", never what the *server* does; sslinfo describes the client's certificate, not
the one the server hands a new client; and a libpq connect times a login, not a handshake. Here labkit
speaks just enough of PostgreSQL's protocol to start TLS itself -- the 8-byte SSLRequest, then the
'S'/'N' answer -- and runs the handshake with Python's :mod:`ssl`, pinned to one version and with
``@SECLEVEL=0`` so old versions and ciphers can be offered, without verifying the server (the question is
"does it accept this", not "do I trust it").

After a handshake the probe sends TLS close_notify: PostgreSQL deliberately logs nothing for a client that
leaves before its startup packet, so accepted probes leave no noise in the log; refused ones leave the
server's reason ("could not accept SSL connection: unsupported protocol").

Measured on this project's labs: Python's OpenSSL 3 client *can* offer TLS 1.0/1.1 at SECLEVEL=0;
PostgreSQL 16 built with OpenSSL 1.1.1 then accepts them once ``ssl_min_protocol_version = 'TLSv1'``;
PostgreSQL 15 with OpenSSL 3 still refuses them ("no suitable signature algorithm") unless its own
``ssl_ciphers`` lowers the security level too.
"""
from __future__ import annotations

import hashlib
import re
import socket
import ssl
import statistics
import struct
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .attempt_log import LOG_WAIT_SECONDS, collect_handshake_log
from .errors import InvalidValue, LabkitError

if TYPE_CHECKING:
    import pandas as pd

    from .server import LabServer

__all__ = ["HRR_RANDOM", "SSL_REQUEST", "VERSIONS", "HandshakeFailure", "HandshakeTrace", "ProbeResult", "ServedCertificate", "client_can_offer",
           "direct_probe", "direct_with_log",
           "expected_version", "python_can_offer",
           "handshake_times", "handshake_trace", "probe", "trace_table", "probe_lab", "probe_matrix", "probe_with_log", "served_certificate",
           "tls_connection"]

VERSIONS: tuple[str, ...] = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
"""PostgreSQL's names for the TLS versions (``ssl_min_protocol_version``), oldest first: the one list."""

SSL_REQUEST = struct.pack("!II", 8, 80877103)  # length 8, code 1234.5679 (PostgreSQL's SSLRequest)

CLIENT_CANNOT_OFFER = "client cannot offer"
SERVER_NO_SSL = "server has no SSL"


def check_version(version: object, name: str = "version", allowed: Sequence[str] = VERSIONS) -> str:
    """``version`` if it is one of PostgreSQL's TLS version names, else :class:`InvalidValue`."""
    if version not in allowed:
        raise InvalidValue(name, version, tuple(allowed), "PostgreSQL's names, as in ssl_min_protocol_version; "
                                                         "TLS 1.0 is spelled 'TLSv1'")
    return str(version)


# --------------------------------------------------------------------------------------------------------
# The one routine
# --------------------------------------------------------------------------------------------------------


class HandshakeFailure(LabkitError):
    """The TLS conversation did not get as far as a completed handshake; ``stage`` says where it stopped:
    ``connect`` (no TCP), ``request`` (no answer to SSLRequest), ``no-ssl`` (the server answered 'N'),
    ``answer`` (something else), ``refused`` (a TLS alert), ``closed`` (dropped mid-handshake)."""

    def __init__(self, stage: str, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.stage = stage


def _tls_version(name: str) -> ssl.TLSVersion:
    with warnings.catch_warnings():  # TLSv1/TLSv1_1 are deprecated names; probing them is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        return {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
                "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}[name]


def client_context(version: str | None = None, cipher: str | None = None) -> ssl.SSLContext:
    """A client context that verifies nothing and offers exactly ``version`` (any version when None), with
    ``cipher`` (an OpenSSL TLS<=1.2 cipher string) or everything at ``@SECLEVEL=0``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = _tls_version(version)
        ctx.set_ciphers(f"{cipher}:@SECLEVEL=0" if cipher else "ALL:@SECLEVEL=0")
    return ctx


def ssl_message(exc: ssl.SSLError) -> str:
    """'[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version (_ssl.c:1006)' -> the words only,
    which are what libpq prints and what the catalogue matches."""
    text = str(exc.args[1] if len(exc.args) > 1 else exc.args[0] if exc.args else exc)
    if "] " in text:
        text = text.split("] ", 1)[1]
    return text.split(" (_ssl.c", 1)[0].strip()


def _ssl_requested(host: str, port: int, timeout: float, nodelay: bool, direct: bool = False) -> socket.socket:
    """A TCP connection on which the server has answered 'S' to PostgreSQL's SSLRequest (the caller closes
    it); :class:`HandshakeFailure` naming the stage otherwise. ``direct=True`` (PostgreSQL 17's direct TLS)
    sends no SSLRequest: the ClientHello is the first thing the server reads."""
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise HandshakeFailure("connect", f"could not connect to {host}:{port}: {exc.strerror or exc}",
                               "is the lab running? (lab.status())") from None
    if nodelay:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if direct:
        return raw
    try:
        raw.sendall(SSL_REQUEST)
        answer = raw.recv(1)
    except OSError as exc:
        raw.close()
        raise HandshakeFailure("request", f"no answer to the SSL request: {exc}") from None
    if answer != b"S":
        raw.close()
        if answer == b"N":
            raise HandshakeFailure("no-ssl", SERVER_NO_SSL, "turn TLS on first (ssl = on)")
        raise HandshakeFailure("answer", f"unexpected answer to the SSL request: {answer!r}")
    return raw


@contextmanager
def tls_connection(host: str, port: int, context: ssl.SSLContext, *, timeout: float = 3,
                   close_notify: bool = True, nodelay: bool = False, direct: bool = False) -> Iterator[ssl.SSLSocket]:
    """TCP connect, PostgreSQL's SSLRequest, the server's 'S', a TLS handshake: yields the TLS socket
    with the handshake complete. Raises :class:`HandshakeFailure` naming the stage where it stopped.

    On leaving, the socket sends close_notify (``close_notify=True``: PostgreSQL logs nothing for such a
    client) or is just dropped (for timing: waiting for the close would add the TCP delayed-ACK time to TLS
    1.3, whose session tickets arrive after the handshake -- measured ~45 ms). ``direct``: no SSLRequest
    (see :func:`direct_probe`).
    """
    raw = _ssl_requested(host, port, timeout, nodelay, direct)
    with raw:
        try:
            tls = context.wrap_socket(raw, do_handshake_on_connect=True)
        except ssl.SSLError as exc:
            raise HandshakeFailure("refused", ssl_message(exc), "see the server log") from None
        except OSError as exc:  # the server closed without an alert
            raise HandshakeFailure("closed", f"connection closed during the handshake: {exc}") from None
        try:
            yield tls
        finally:
            if close_notify:
                try:
                    tls.unwrap()
                except (ssl.SSLError, OSError):
                    pass
            tls.close()


# --------------------------------------------------------------------------------------------------------
# Probes: does the server accept this version (and suite)?
# --------------------------------------------------------------------------------------------------------


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
    alpn: str | None = None
    """The application protocol the server selected (direct TLS: ``postgresql``), None when none was."""

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


def client_can_offer(version: str, cipher: str | None = None) -> tuple[bool, str]:
    """Whether this Python's OpenSSL can send a ClientHello for ``version`` (no network involved).

    Runs the first step of a handshake into memory buffers: if OpenSSL produces a ClientHello the
    version can be offered; "no protocols available"/"no ciphers available" means it cannot.
    """
    check_version(version)
    try:
        tls = client_context(version, cipher).wrap_bio(ssl.MemoryBIO(), ssl.MemoryBIO(), server_side=False)
        tls.do_handshake()
    except ssl.SSLWantReadError:
        return True, ""
    except (ssl.SSLError, ValueError) as exc:
        return False, ssl_message(exc) if isinstance(exc, ssl.SSLError) else str(exc)
    return True, ""


def probe(host: str, port: int, version: str, cipher: str | None = None, timeout: float = 3) -> ProbeResult:
    """Offer only ``version`` (and ``cipher``, an OpenSSL TLS<=1.2 cipher string) to a PostgreSQL server."""
    check_version(version)
    if cipher and version == "TLSv1.3":
        return ProbeResult(version, None, error=CLIENT_CANNOT_OFFER + ": Python's ssl cannot restrict TLS 1.3 "
                                                                      "cipher suites; probe TLS 1.3 without cipher")
    can, why = client_can_offer(version, cipher)
    if not can:
        return ProbeResult(version, None, error=f"{CLIENT_CANNOT_OFFER}: {why}")
    try:
        with tls_connection(host, port, client_context(version, cipher), timeout=timeout) as tls:
            negotiated, suite = tls.version(), (tls.cipher() or (None,))[0]
    except HandshakeFailure as exc:
        return ProbeResult(version, False if exc.stage in ("refused", "closed") else None, error=exc.message)
    return ProbeResult(version, True, negotiated_version=negotiated, cipher=suite)


def probe_lab(lab: LabServer, version: str, cipher: str | None = None, timeout: float = 3,
              log_wait: float = LOG_WAIT_SECONDS) -> ProbeResult:
    """:func:`probe` against the lab, with what the server logged about it in ``server_log``.

    A refused handshake is logged by the backend a moment after the client has seen the alert, so the log is
    read until its reason appears (at most ``log_wait`` seconds); accepted probes leave no line (see the
    module docstring).
    """
    return _with_log(lab, lambda: probe(lab.host, lab.port, version, cipher, timeout), log_wait)


def _with_log(lab: LabServer, run: Callable[[], ProbeResult], log_wait: float) -> ProbeResult:
    """``run()``, then, when the server refused it or cut it short, that handshake's backend's lines
    (``connection received`` left out) in ``server_log``
    (:func:`labkit.attempt_log.collect_handshake_log`: not whatever else the log received meanwhile)."""
    mark = lab.log_mark()
    result = run()
    if result.accepted is False or (result.accepted and result.error):
        log = collect_handshake_log(lab, mark, log_wait)
        result.server_log = "\n".join(line for line in log.splitlines() if "connection received" not in line)
    return result


def probe_matrix(lab: LabServer, versions: tuple[str, ...] = VERSIONS, cipher: str | None = None,
                 timeout: float = 3, log_wait: float = LOG_WAIT_SECONDS) -> pd.DataFrame:
    """Probe each version against the lab: one row each, with the verdict and what the server logged."""
    import pandas as pd

    rows = []
    for version in versions:
        result = probe_lab(lab, version, cipher, timeout, log_wait)
        rows.append({**asdict(result), "result": result.result,
                     "server_log": "\n".join(line.split("  ", 1)[-1] for line in result.server_log.splitlines())})
    columns = ["version_asked", "result", "accepted", "negotiated_version", "cipher", "error", "server_log"]
    return pd.DataFrame(rows, columns=columns)


def probe_with_log(lab: LabServer, version: str, cipher: str | None = None, *, label: str = "",
                   log_wait: float = LOG_WAIT_SECONDS) -> dict[str, Any]:
    """One table row: :func:`probe_lab`'s verdict, negotiated version and suite, the client's words and the
    server's reason for a refusal (without timestamp and pid)."""
    result = probe_lab(lab, version, cipher, log_wait=log_wait)
    reasons = [re.sub(r"^.*?\b(LOG|FATAL|DETAIL|DETALLE|HINT):\s+", "", ln)
               for ln in (result.server_log or "").splitlines()  # English, or a server logging in Spanish
               if re.search(r"could not accept SSL connection|no se pudo aceptar una conexión SSL|"
                            r"\b(DETAIL|DETALLE|HINT):", ln)]
    return {"label": label, "offered_version": version, "offered_cipher": cipher or "(any)",
            "result": result.result.split(":")[0], "negotiated_version": result.negotiated_version,
            "negotiated_cipher": result.cipher, "client_error": result.error or "",
            "server_log": " | ".join(reasons)}


STARTUP = struct.pack("!II", 23, 196608) + b"user\0postgres\0\0"
"""A protocol 3.0 startup packet (user postgres): what a client sends once TLS is up."""


def direct_probe(host: str, port: int, alpn: Sequence[str] = ("postgresql",), timeout: float = 3) -> ProbeResult:
    """PostgreSQL 17's direct TLS (libpq's ``sslnegotiation=direct``): a ClientHello as the first bytes,
    no SSLRequest, offering ``alpn`` (nothing when empty). Once the handshake completes a startup packet is
    sent and the server's first byte read, because a 17+ server that dislikes the ALPN may complete the
    handshake and close only then: ``accepted`` with ``error`` says so. Servers before 17 read the
    ClientHello as a startup packet and close (``refused``)."""
    context = client_context()
    if alpn:
        context.set_alpn_protocols(list(alpn))
    try:
        with tls_connection(host, port, context, timeout=timeout, direct=True) as tls:
            result = ProbeResult("direct", True, tls.version(), (tls.cipher() or (None,))[0],
                                 alpn=tls.selected_alpn_protocol())
            try:
                tls.sendall(STARTUP)
                answer = tls.recv(1)
            except (ssl.SSLError, OSError):
                answer = b""
            if answer != b"R":  # 'R': an authentication request, the server took the startup packet
                result.error = "closed after the handshake"
    except HandshakeFailure as exc:
        return ProbeResult("direct", False if exc.stage in ("refused", "closed") else None, error=exc.message)
    return result


def direct_with_log(lab: LabServer, alpn: Sequence[str] = ("postgresql",), *, label: str = "",
                    log_wait: float = LOG_WAIT_SECONDS) -> dict[str, Any]:
    """One table row: :func:`direct_probe` against the lab, what the client saw and the server logged."""
    result = _with_log(lab, lambda: direct_probe(lab.host, lab.port, alpn), log_wait)
    lines = [re.sub(r"^.*?\b(LOG|FATAL|DETAIL|HINT):\s+", "", ln) for ln in result.server_log.splitlines()]
    return {"label": label, "ALPN offered": " ".join(alpn) or "(none)", "handshake": result.result,
            "ALPN selected": result.alpn or "", "version": result.negotiated_version,
            "client saw": result.error or ("authentication asked" if result.accepted else ""),
            "server_log": " | ".join(ln for ln in lines if ln)}


# --------------------------------------------------------------------------------------------------------
# The certificate a new client is served
# --------------------------------------------------------------------------------------------------------


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
    """The server's leaf certificate, as ``openssl s_client -starttls postgres`` would show it (nothing is
    verified: the point is to see what a new client is handed right now)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    with tls_connection(host, port, client_context(), timeout=timeout) as tls:
        der, version = tls.getpeercert(binary_form=True), tls.version()
    if not der:
        raise LabkitError("the server presented no certificate", "check ssl_cert_file")
    cert = x509.load_der_x509_certificate(der)
    return ServedCertificate(serial=f"{cert.serial_number:x}", subject=cert.subject.rfc4514_string(),
                             issuer=cert.issuer.rfc4514_string(), not_after=cert.not_valid_after_utc.isoformat(),
                             sha256=cert.fingerprint(hashes.SHA256()).hex(), tls_version=version)


# --------------------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------------------


HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()
"""RFC 8446 4.1.3: a HelloRetryRequest is a ServerHello whose random is SHA-256("HelloRetryRequest")."""

GROUPS = {0x0017: "prime256v1", 0x0018: "secp384r1", 0x0019: "secp521r1", 0x001D: "X25519", 0x001E: "X448",
          0x0100: "ffdhe2048", 0x0101: "ffdhe3072", 0x0102: "ffdhe4096"}
"""IANA TLS group numbers -> OpenSSL's names (the spelling of ``ssl_ecdh_curve``)."""


@dataclass
class HandshakeTrace:
    """One handshake as seen on the wire by the client: how many times it had to wait for the server
    (round trips after the SSLRequest), whether the server sent a HelloRetryRequest and for which group, the
    group the key exchange finally used, and how long it took (TCP connect to completed handshake)."""

    version: str | None
    cipher: str | None
    round_trips: int
    hello_retry: bool
    retry_group: str | None
    group: str | None
    ms: float
    key_shares: tuple[str, ...] = ()
    """The groups the client sent key shares for in its first ClientHello (read from its own bytes)."""
    direct: bool = False
    """Direct TLS (no SSLRequest); otherwise the SSLRequest's own round trip comes first (``total_round_trips``)."""
    alpn: str | None = None

    @property
    def total_round_trips(self) -> int:
        return self.round_trips + (0 if self.direct else 1)


class _ServerFlight:
    """Reads the server's TLS records as they arrive and keeps what is still in clear text: the ServerHello
    (or HelloRetryRequest) random and extensions, and TLS 1.2's ServerKeyExchange curve."""

    def __init__(self) -> None:
        self.records = b""
        self.messages = b""
        self.encrypted = False
        self.hellos: list[dict[str, Any]] = []
        self.kx_group: int | None = None

    def feed(self, data: bytes) -> None:
        self.records += data
        while len(self.records) >= 5:
            kind, _, length = struct.unpack("!BHH", self.records[:5])
            if len(self.records) < 5 + length:
                return
            fragment, self.records = self.records[5:5 + length], self.records[5 + length:]
            tls13 = bool(self.hellos) and self.hellos[-1]["version"] == 0x0304
            if kind == 23 or (kind == 20 and not tls13):  # application data, or TLS 1.2's ChangeCipherSpec
                self.encrypted = True
            elif kind == 22 and not self.encrypted:
                self.messages += fragment
                self._read_messages()

    def _read_messages(self) -> None:
        while len(self.messages) >= 4:
            kind, length = self.messages[0], int.from_bytes(self.messages[1:4], "big")
            if len(self.messages) < 4 + length:
                return
            body, self.messages = self.messages[4:4 + length], self.messages[4 + length:]
            if kind == 2:
                self.hellos.append(_server_hello(body))
            elif kind == 12 and len(body) >= 3 and body[0] == 3:  # ECDHE ServerKeyExchange: named curve
                self.kx_group = int.from_bytes(body[1:3], "big")


def _server_hello(body: bytes) -> dict[str, Any]:
    """random, selected version (supported_versions) and key_share group of one ServerHello body."""
    pos = 35 + body[34] + 3  # version, random, session id, cipher suite, compression
    extensions: dict[int, bytes] = {}
    if pos + 2 <= len(body):
        end = pos + 2 + int.from_bytes(body[pos:pos + 2], "big")
        pos += 2
        while pos + 4 <= end:
            kind, length = struct.unpack("!HH", body[pos:pos + 4])
            extensions[kind] = body[pos + 4:pos + 4 + length]
            pos += 4 + length
    return {"retry": body[2:34] == HRR_RANDOM,
            "version": int.from_bytes(extensions[43][:2], "big") if 43 in extensions else None,
            "group": int.from_bytes(extensions[51][:2], "big") if 51 in extensions else None}


def _client_key_shares(data: bytes) -> list[str]:
    """The groups of the key shares in the client's first ClientHello (its first TLS record), by name."""
    if len(data) < 9 or data[0] != 22 or data[5] != 1:
        return []
    body = data[9:]
    pos = 34 + 1 + body[34]  # version, random, session id
    pos += 2 + int.from_bytes(body[pos:pos + 2], "big")  # cipher suites
    pos += 1 + body[pos]  # compression methods
    end = pos + 2 + int.from_bytes(body[pos:pos + 2], "big")
    pos += 2
    while pos + 4 <= end:
        kind, length = struct.unpack("!HH", body[pos:pos + 4])
        if kind == 51:
            shares, at, stop = [], pos + 6, pos + 4 + length
            while at + 4 <= stop:
                group, size = struct.unpack("!HH", body[at:at + 4])
                shares.append(_group_name(group) or "")
                at += 4 + size
            return shares
        pos += 4 + length
    return []


def _group_name(number: int | None) -> str | None:
    return None if number is None else GROUPS.get(number, f"0x{number:04x}")


def handshake_trace(host: str, port: int, version: str, *, client_group: str | None = None,
                    timeout: float = 3, direct: bool = False) -> HandshakeTrace:
    """One handshake pinned to ``version`` through memory buffers, so every flight is seen: the client counts
    a round trip each time it sends and must wait for the server, and reads the server's clear-text
    ServerHello (a HelloRetryRequest when its random is :data:`HRR_RANDOM`). ``client_group`` limits the
    client to one group (``set_ecdh_curve``); by default Python's OpenSSL offers its own list, X25519 first,
    with a key share for X25519 only. The connection is dropped without close_notify, as in timing.
    ``direct``: PostgreSQL 17's direct TLS, ALPN ``postgresql``, no SSLRequest (:func:`direct_probe`)."""
    context = client_context()
    context.minimum_version = context.maximum_version = _tls_version(check_version(version))
    if client_group is not None:
        context.set_ecdh_curve(client_group)
    if direct:
        context.set_alpn_protocols(["postgresql"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_side=False)
    flight, round_trips, shares = _ServerFlight(), 0, None
    started = time.perf_counter()
    with _ssl_requested(host, port, timeout, nodelay=True, direct=direct) as raw:
        while True:
            try:
                tls.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            except ssl.SSLError as exc:
                raise HandshakeFailure("refused", ssl_message(exc), "see the server log") from None
            data = outgoing.read()
            if data:
                raw.sendall(data)
                shares = _client_key_shares(data) if shares is None else shares
            if done:
                break
            round_trips += bool(data)
            chunk = raw.recv(65536)
            if not chunk:
                raise HandshakeFailure("closed", "connection closed during the handshake")
            flight.feed(chunk)
            incoming.write(chunk)
        elapsed = (time.perf_counter() - started) * 1000
    retries = [h for h in flight.hellos if h["retry"]]
    final = next((h for h in reversed(flight.hellos) if not h["retry"]), {})
    return HandshakeTrace(version=tls.version(), cipher=(tls.cipher() or (None,))[0], round_trips=round_trips,
                          hello_retry=bool(retries), retry_group=_group_name(retries[0]["group"]) if retries else None,
                          group=_group_name(final.get("group") or flight.kx_group), ms=round(elapsed, 3),
                          key_shares=tuple(shares or ()), direct=direct, alpn=tls.selected_alpn_protocol())


def trace_table(lab: LabServer, versions: Sequence[str] = ("TLSv1.2", "TLSv1.3"), *,
                client_group: str | None = None) -> pd.DataFrame:
    """One :func:`handshake_trace` per version against the lab, as a table of what is stable (round trips,
    HelloRetryRequest, groups, suite); the time is in ``ms`` for a caller that wants it."""
    import pandas as pd

    rows = []
    for version in versions:
        t = handshake_trace(lab.host, lab.port, version, client_group=client_group)
        rows.append({"version": t.version, "client key shares": " ".join(t.key_shares) or "(none: TLS 1.2)",
                     "round trips": t.round_trips, "HelloRetryRequest": t.hello_retry,
                     "group asked for by the retry": t.retry_group or "", "group used": t.group, "suite": t.cipher,
                     "ms": t.ms})
    return pd.DataFrame(rows)


def handshake_ms(host: str, port: int, version: str, timeout: float = 3) -> float | None:
    """Milliseconds from TCP connect to a completed handshake at ``version`` (SSLRequest included); None
    when the server refused (:func:`handshake_trace`'s time)."""
    try:
        return handshake_trace(host, port, version, timeout=timeout).ms
    except HandshakeFailure:
        return None


def handshake_times(lab: LabServer, versions: Sequence[str] = ("TLSv1.2", "TLSv1.3"), repeats: int = 15,
                    *, client_group: str | None = None, direct: bool = False) -> pd.DataFrame:
    """Median / min / max milliseconds of a TLS handshake per version (TCP connect + SSLRequest + handshake,
    no PostgreSQL login), from ``repeats`` handshakes each, interleaved so that a busy moment hits both; with
    the round trips each took and how many met a HelloRetryRequest (see :func:`handshake_trace`); with
    ``direct``, PostgreSQL 17's direct TLS (``total_round_trips`` counts the SSLRequest's where there is one)."""
    import pandas as pd

    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= 200:
        raise InvalidValue("repeats", repeats, "an integer from 1 to 200")
    for version in versions:
        check_version(version, "versions", ("TLSv1.2", "TLSv1.3"))
    traces: dict[str, list[HandshakeTrace]] = {v: [] for v in versions}
    for _ in range(repeats):
        for version in versions:
            try:
                traces[version].append(handshake_trace(lab.host, lab.port, version, client_group=client_group,
                                                       direct=direct))
            except HandshakeFailure:
                pass
    rows = []
    for version, done in traces.items():
        ms = [t.ms for t in done]
        rows.append({"version": version, "handshakes": len(done),
                     "round_trips": max((t.round_trips for t in done), default=None),
                     "total_round_trips": max((t.total_round_trips for t in done), default=None),
                     "hello_retries": sum(t.hello_retry for t in done),
                     "group": ", ".join(sorted({t.group or "?" for t in done})) or None,
                     "median_ms": round(statistics.median(ms), 2) if ms else None,
                     "min_ms": round(min(ms), 2) if ms else None, "max_ms": round(max(ms), 2) if ms else None})
    return pd.DataFrame(rows, columns=["version", "handshakes", "round_trips", "total_round_trips", "hello_retries",
                                       "group", "median_ms", "min_ms", "max_ms"])


def expected_version(server_min: str, server_max: str, client_max: str, client_floor: str = "TLSv1.2") -> str | None:
    """The version a client capped at ``client_max`` should negotiate with a server allowing
    ``server_min``..``server_max`` ('' = no cap), or None when the ranges do not meet. ``client_floor`` is
    the lowest version the client library can really offer (TLS 1.2 for OpenSSL 3 at its default level)."""
    for name, value in (("server_min", server_min), ("client_max", client_max), ("client_floor", client_floor)):
        check_version(value, name)
    if server_max:
        check_version(server_max, "server_max")
    low = max(VERSIONS.index(server_min), VERSIONS.index(client_floor))
    high = min(VERSIONS.index(server_max) if server_max else len(VERSIONS) - 1, VERSIONS.index(client_max))
    return VERSIONS[high] if low <= high else None


def python_can_offer() -> dict[str, bool]:
    """Per protocol the guide lists (SSLv2, SSLv3 and :data:`VERSIONS`): can this Python's OpenSSL offer it."""
    return {"SSLv2": ssl.HAS_SSLv2, "SSLv3": ssl.HAS_SSLv3, **{v: client_can_offer(v)[0] for v in VERSIONS}}
