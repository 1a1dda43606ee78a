"""The outside view: what anyone on the network learns from the server without credentials.

Every fact here comes from a connection this machine opens and closes: the answer to PostgreSQL's
SSLRequest, one pinned handshake per TLS version (:func:`labkit.handshake.probe`, the lessons' engine), the
suites and groups accepted (sslyze, which speaks PostgreSQL's STARTTLS), the certificate chain as served and
whether the server asks for a client certificate, and one ``sslmode=disable`` login attempt that sends no
password. Nothing is written to the server; what it logs is connection noise.

Only what a check needs is scanned, because a full sslyze scan floods the server log (one line per refused
suite): suites are enumerated only for the versions the server accepted, and groups only when the profile
judges them.
"""
from __future__ import annotations

import datetime as dt
import socket
import ssl
import warnings
from dataclasses import dataclass, field
from typing import Any

import psycopg

from .. import handshake
from ..enumeration import accepted_by_elimination, speak_postgres_in_sslyze_checks, sslyze_version
from . import certs
from .profiles import VERSION_ORDER, Profile, group_name
from .targets import Target

PLAINTEXT_REFUSED = "refused by pg_hba"
PLAINTEXT_AUTH_ASKED = "authentication asked"
PLAINTEXT_CONNECTED = "session opened"
PLAINTEXT_OTHER = "other error"
_HBA_REFUSED = ("no pg_hba.conf entry", "pg_hba.conf rejects connection")
_AUTH_ASKED = ("no password supplied", "password authentication failed", "certificate authentication failed",
               "requires a valid client certificate", "authentication failed")


@dataclass
class OutsideView:
    """Everything observed from outside; ``chain`` is kept as certificates for the checks, PEM in JSON."""

    ssl_request: str = ""
    """``S`` (TLS offered), ``N`` (no TLS), or what went wrong."""
    direct_tls: str = ""
    """Whether a TLS handshake without SSLRequest (PostgreSQL 17's direct TLS, ALPN ``postgresql``) worked."""
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    suites: dict[str, list[str]] = field(default_factory=dict)
    """Accepted suites (OpenSSL names) per version that was enumerated."""
    groups: list[str] | None = None
    client_auth: str | None = None
    """``disabled`` / ``optional`` / ``required``: whether the server asks for a client certificate."""
    chain: list[Any] = field(default_factory=list)
    plaintext: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seen_with: str = ""
    """The client side of the observations (Python's OpenSSL, sslyze/nassl)."""

    def accepted_versions(self) -> list[str]:
        return [v for v in VERSION_ORDER if self.versions.get(v, {}).get("result") == "accepted"]

    def as_json(self, now: dt.datetime) -> dict[str, Any]:
        return {
            "ssl_request": self.ssl_request, "direct_tls": self.direct_tls, "versions": self.versions,
            "suites": self.suites, "groups": self.groups, "client_auth": self.client_auth,
            "chain": [certs.describe(cert, now) for cert in self.chain],
            "chain_pem": [certs.to_pem(cert) for cert in self.chain],
            "plaintext_login": self.plaintext, "errors": self.errors, "seen_with": self.seen_with,
        }


def observe(target: Target, profile: Profile, timeout: float = 5) -> OutsideView:
    """Run every outside observation the profile's checks need, in the cheapest order."""
    view = OutsideView(seen_with=f"client {ssl.OPENSSL_VERSION} (Python ssl); sslyze {sslyze_version()}")
    view.ssl_request = ssl_request(target.address, target.port, timeout)
    if view.ssl_request == "N":
        view.plaintext = plaintext_login(target, timeout)
    if view.ssl_request != "S":
        return view
    for version in VERSION_ORDER:
        result = handshake.probe(target.address, target.port, version, timeout=timeout)
        view.versions[version] = {"result": result.result, "negotiated": result.negotiated_version or "",
                                  "cipher": result.cipher or "", "detail": result.error or ""}
    _sslyze_scan(view, target, profile, timeout)
    view.plaintext = plaintext_login(target, timeout)
    view.direct_tls = direct_tls(target.address, target.port, timeout)
    return view


def tls13_suites_and_groups(host: str, address: str, port: int,
                            timeout: float = 5) -> tuple[list[str] | None, list[str] | None, list[str]]:
    """The TLS 1.3 suites and the key-exchange groups a server accepts, by sslyze's handshakes, and what
    could not be observed: the audit's own scan, asked for nothing else (no TLS 1.2 enumeration, so the
    server's log gets one line per refused suite or group only). Used by `labkit matrix`."""
    view = OutsideView(versions={v: {"result": "accepted" if v == "TLSv1.3" else "refused"} for v in VERSION_ORDER})
    target = Target(name=f"{host}:{port}", params={}, host=host, address=address, port=port)
    profile = Profile(name="matrix", title="TLS 1.3 suites and groups", min_tls="TLSv1.3", groups=frozenset())
    _sslyze_scan(view, target, profile, timeout)
    return view.suites.get("TLSv1.3"), view.groups, view.errors


def ssl_request(address: str, port: int, timeout: float) -> str:
    """Send the 8-byte SSLRequest and read the one-byte answer; close without starting TLS."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as raw:
            raw.sendall(handshake.SSL_REQUEST)
            answer = raw.recv(1)
    except OSError as exc:
        return f"could not connect to {address}:{port}: {exc.strerror or exc}"
    if answer in (b"S", b"N"):
        return answer.decode()
    return f"unexpected answer {answer!r}"


def direct_tls(address: str, port: int, timeout: float) -> str:
    """Try TLS straight away with ALPN ``postgresql`` (17+); older servers read it as a bad startup packet."""
    result = handshake.direct_probe(address, port, timeout=timeout)
    if not result.accepted:
        return f"not accepted ({result.error})"
    return f"accepted (ALPN {result.alpn})" if result.alpn else "accepted without ALPN"


def plaintext_login(target: Target, timeout: float) -> dict[str, str]:
    """One ``sslmode=disable`` start-up as the target's role (or ``postgres``), with no password at all.

    The question is whether pg_hba.conf lets an unencrypted TCP connection reach authentication. No secret is
    sent in the clear: the password is empty and no passfile is read, whatever the target string says.
    """
    user = target.user or "postgres"
    params = {"host": target.host, "hostaddr": target.address, "port": str(target.port), "user": user,
              "dbname": target.params.get("dbname") or user, "sslmode": "disable", "gssencmode": "disable",
              "password": "", "passfile": "/nonexistent/labkit-audit", "connect_timeout": str(int(timeout)),
              "application_name": "labkit audit (plaintext probe)"}
    try:
        conn = psycopg.connect(**params)
    except psycopg.OperationalError as exc:
        message = _last_line(str(exc))
        if any(text in message for text in _HBA_REFUSED):
            outcome = PLAINTEXT_REFUSED
        elif any(text in message for text in _AUTH_ASKED):
            outcome = PLAINTEXT_AUTH_ASKED
        else:
            outcome = PLAINTEXT_OTHER
        return {"user": user, "outcome": outcome, "message": message}
    conn.close()
    return {"user": user, "outcome": PLAINTEXT_CONNECTED,
            "message": "an unencrypted session was opened without any password (and closed at once)"}


def _last_line(message: str) -> str:
    """libpq's message is ``connection to server at ... failed: FATAL: ...``; keep the server's words."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    text = lines[-1] if lines else message
    for marker in ("FATAL:", "ERROR:"):
        if marker in text:
            return " ".join(text[text.index(marker):].split())
    return text.rsplit("failed: ", 1)[-1]


_ELIMINATION_VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2")


def _sslyze_scan(view: OutsideView, target: Target, profile: Profile, timeout: float) -> None:
    """The served chain, whether a client certificate is asked for, TLS 1.3 suites and (when the profile
    judges them) groups through sslyze's scan commands; suites of TLS 1.2 and below by elimination."""
    try:
        import sslyze
    except ImportError:
        view.errors.append("sslyze is not installed (pip install sslyze): suites, chain and groups not observed")
        return
    speak_postgres_in_sslyze_checks()
    wanted = [v for v in VERSION_ORDER if view.versions.get(v, {}).get("result") != "refused"]
    commands = {sslyze.ScanCommand.CERTIFICATE_INFO}
    if "TLSv1.3" in wanted:
        commands.add(sslyze.ScanCommand.TLS_1_3_CIPHER_SUITES)
    if profile.groups is not None:
        commands.add(sslyze.ScanCommand.ELLIPTIC_CURVES)
    location = sslyze.ServerNetworkLocation(hostname=target.host, port=target.port, ip_address=target.address)
    config = sslyze.ServerNetworkConfiguration(
        tls_server_name_indication=target.host, network_timeout=int(timeout), network_max_retries=1,
        tls_opportunistic_encryption=sslyze.ProtocolWithOpportunisticTlsEnum.POSTGRES)
    scanner = sslyze.Scanner(per_server_concurrent_connections_limit=2, concurrent_server_scans_limit=1)
    with warnings.catch_warnings():  # sslyze's bundled trust stores hold certificates cryptography warns about
        warnings.simplefilter("ignore")
        scanner.queue_scans([sslyze.ServerScanRequest(server_location=location, network_configuration=config,
                                                      scan_commands=commands)])
        results = list(scanner.get_results())
    result = results[0]
    if result.scan_status != sslyze.ServerScanStatusEnum.COMPLETED:
        trace = result.connectivity_error_trace
        reason = _last_line(str(trace)) if trace is not None else str(result.connectivity_status)
        view.errors.append(f"sslyze could not connect: {reason}")
        return
    view.client_auth = result.connectivity_result.client_auth_requirement.name.lower()
    scan = result.scan_result
    if "TLSv1.3" in wanted:
        attempt = scan.tls_1_3_cipher_suites
        if attempt.result is None:
            view.errors.append(f"sslyze TLSv1.3 suites: {attempt.status.name} {attempt.error_reason or ''}")
        else:
            view.suites["TLSv1.3"] = [s.cipher_suite.openssl_name for s in attempt.result.accepted_cipher_suites]
    from sslyze.server_connectivity import ServerConnectivityInfo

    info = ServerConnectivityInfo(server_location=location, network_configuration=config,
                                         tls_probing_result=result.connectivity_result)
    for version in (v for v in _ELIMINATION_VERSIONS if v in wanted):
        view.suites[version] = accepted_by_elimination(info, version)
    for version, accepted in view.suites.items():
        probe = view.versions.get(version, {})
        if probe.get("result") not in ("accepted", "refused"):  # our client could not ask: sslyze's answer
            probe["result"] = "accepted" if accepted else "refused"
            probe["detail"] = (probe.get("detail", "") + "; judged by sslyze's handshakes").lstrip("; ")
    cert_info = scan.certificate_info
    if cert_info.result is not None and cert_info.result.certificate_deployments:
        view.chain = list(cert_info.result.certificate_deployments[0].received_certificate_chain)
    else:
        view.errors.append(f"sslyze certificate scan: {cert_info.status.name} {cert_info.error_reason or ''}")
    if profile.groups is not None:
        curves = scan.elliptic_curves
        if curves.result is not None:
            view.groups = sorted({group_name(c.name) for c in curves.result.supported_curves or []})
        else:
            view.errors.append(f"sslyze groups: {curves.status.name} {curves.error_reason or ''}")
