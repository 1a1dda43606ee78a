"""What a PostgreSQL server accepts, enumerated on the server's terms: versions, suites per version, groups.

Why this module exists: "which suites does the server accept?" cannot be answered by expanding the
``ssl_ciphers`` string with this machine's OpenSSL (another build, another answer), nor by labkit's own
probe (Python's OpenSSL 3 cannot offer SEED, CAMELLIA-CBC with SHA-1 and other legacy suites a server built
with OpenSSL 1.1.1 still accepts). sslyze can: it speaks PostgreSQL's STARTTLS (the SSLRequest) and carries
two OpenSSL clients through nassl, a 1.1.1 one and a legacy 1.0.2 one that still offers everything. The
audit (``labkit audit``) and the lessons share this one enumeration.

Enumeration here is by *elimination*, not one suite at a time: the client offers every candidate it has
not yet seen accepted, the server picks one, that one is noted and dropped from the next offer, until the
server refuses them all. That costs (accepted + 1) handshakes per client instead of one per candidate, and
only the last handshake of each round is a refusal the server logs -- sslyze's own per-suite scan wrote
1,407 log lines on the lab, which drowned the lessons' log correlation. :func:`enumerate_lab` also marks
the log before and after and waits until the server stops writing, so a lesson's next attempt reads only
its own lines.
"""
from __future__ import annotations

import struct
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .attempt_log import collect_handshake_log
from .errors import LabkitError

if TYPE_CHECKING:
    from .server import LabServer

__all__ = ["AcceptedSets", "MAX_ELIMINATION_ROUNDS", "VERSIONS", "accepted_by_elimination", "accepted_groups",
           "chain_table", "connectivity", "enumerate_lab", "enumerate_server", "forward_secret", "served_chain",
           "speak_postgres_in_sslyze_checks", "sslyze_version"]

VERSIONS: tuple[str, ...] = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
"""PostgreSQL's spelling of the versions enumerated, oldest first."""

MAX_ELIMINATION_ROUNDS = 200
"""More accepted suites than sslyze knows cannot exist; the bound only guards against a server that lies."""

_GROUP_NAMES = {"secp256r1": "prime256v1", "prime256v1": "prime256v1", "X25519": "X25519", "X448": "X448"}


def sslyze_version() -> str:
    """The installed sslyze release, for the "seen with" line of every table built from it."""
    from importlib import metadata

    try:
        return metadata.version("sslyze")
    except metadata.PackageNotFoundError:
        return "not installed"


# PostgreSQL's CancelRequest code (protocol 3.0); a request for process 0 matches no backend.
_CANCEL_REQUEST = struct.pack("!iiii", 16, 80877102, 0, 0)


def _client_auth_with_tls_1_3_on_postgres(server_location: Any, network_config: Any) -> Any:
    """sslyze's test of "is a client certificate optional or required?" over TLS 1.3, made to speak
    PostgreSQL: after a handshake without a certificate, send a complete CancelRequest (for process 0)
    instead of sslyze's one byte "A". A server that requires the certificate aborts with an alert on the
    first read, as before; one that accepts the handshake (PostgreSQL always does: it asks for a certificate
    but leaves the verdict to pg_hba.conf) now answers at once by closing, where it used to wait for the
    rest of a startup packet until sslyze's network timeout -- measured: every connectivity check of a lab
    with ``ssl_ca_file`` set took 5.0 s instead of 0.15 s. The server logs "PID 0 in cancel request did not
    match any process" instead of "could not receive data from client"."""
    import socket

    from nassl import _nassl
    from nassl.ssl_client import ClientCertificateRequested
    from sslyze.connection_helpers.tls_connection import _HANDSHAKE_REJECTED_TLS_ERRORS, SslConnection
    from sslyze import ClientAuthRequirementEnum, TlsVersionEnum
    from sslyze.errors import ConnectionToServerFailed, ServerRejectedTlsHandshake

    connection = SslConnection(server_location=server_location, network_configuration=network_config,
                               tls_version=TlsVersionEnum.TLS_1_3, should_ignore_client_auth=True)
    try:
        connection.connect(should_retry_connection=False)
        connection.ssl_client.write(_CANCEL_REQUEST)
        connection.ssl_client.read(1)
    except (ClientCertificateRequested, ServerRejectedTlsHandshake):
        return ClientAuthRequirementEnum.REQUIRED
    except _nassl.OpenSSLError as exc:
        words = str(exc.args[0] if exc.args else exc)
        if "shut down by peer" in words:  # the server closed after our CancelRequest: no certificate needed
            return ClientAuthRequirementEnum.OPTIONAL
        if "certificate required" in words or any(known in words for known in _HANDSHAKE_REJECTED_TLS_ERRORS):
            return ClientAuthRequirementEnum.REQUIRED  # refused for want of a certificate (sslyze's own words)
        raise ConnectionToServerFailed(server_location=server_location, network_configuration=network_config,
                                       error_message=f"client-certificate check: {words}") from None
    except socket.timeout:
        return ClientAuthRequirementEnum.OPTIONAL  # a server that waits for more: it did not need a certificate
    except OSError as exc:
        raise ConnectionToServerFailed(server_location=server_location, network_configuration=network_config,
                                       error_message=f"client-certificate check: {exc}") from None
    finally:
        connection.close()
    return ClientAuthRequirementEnum.OPTIONAL


def speak_postgres_in_sslyze_checks() -> None:
    """Make sslyze's connectivity check speak PostgreSQL where its own probe waits for a timeout (see
    :func:`_client_auth_with_tls_1_3_on_postgres`). Idempotent; every labkit entry to sslyze calls it. If
    a future sslyze renames the function, nothing is replaced and the checks are only slower again (the
    test of this function measures the time and fails)."""
    from sslyze import server_connectivity

    name = "_detect_client_auth_requirement_with_tls_1_3"
    if hasattr(server_connectivity, name):
        setattr(server_connectivity, name, _client_auth_with_tls_1_3_on_postgres)


def _tls_version(version: str) -> Any:
    from sslyze import TlsVersionEnum

    return {"TLSv1": TlsVersionEnum.TLS_1_0, "TLSv1.1": TlsVersionEnum.TLS_1_1, "TLSv1.2": TlsVersionEnum.TLS_1_2,
            "TLSv1.3": TlsVersionEnum.TLS_1_3}[version]


def connectivity(host: str, port: int, server_name: str, timeout: float = 5) -> Any:
    """sslyze's view of one PostgreSQL server (SSLRequest first): a ``ServerConnectivityInfo`` whose
    connections the enumeration reuses. Raises :class:`LabkitError` when no TLS handshake completes."""
    try:
        import sslyze
        from sslyze.errors import ConnectionToServerFailed
        from sslyze.server_connectivity import ServerConnectivityInfo, check_connectivity_to_server
    except ImportError:
        raise LabkitError("sslyze is not installed", "pip install sslyze (it is a labkit dependency)") from None
    speak_postgres_in_sslyze_checks()
    location = sslyze.ServerNetworkLocation(hostname=server_name, port=port, ip_address=host)
    config = sslyze.ServerNetworkConfiguration(
        tls_server_name_indication=server_name, network_timeout=int(timeout), network_max_retries=1,
        tls_opportunistic_encryption=sslyze.ProtocolWithOpportunisticTlsEnum.POSTGRES)
    with warnings.catch_warnings():  # sslyze's bundled trust stores hold certificates cryptography warns about
        warnings.simplefilter("ignore")
        try:
            probing = check_connectivity_to_server(location, config)
        except ConnectionToServerFailed as exc:
            raise LabkitError(f"sslyze could not complete a TLS handshake with {host}:{port}: {exc.error_message}",
                              "is TLS on (ssl = on) and does the server answer 'S' to the SSLRequest?") from None
    return ServerConnectivityInfo(server_location=location, network_configuration=config,
                                  tls_probing_result=probing)


def _connect(info: Any, version: str, *, legacy: bool, suites: list[str] | None = None,
             groups: list[Any] | None = None) -> Any | None:
    """One handshake at ``version`` offering ``suites`` (TLS <= 1.2 names or TLS 1.3 names) and ``groups``;
    the connection when the server completed it (closed by the caller), None when it refused."""
    from nassl.ssl_client import ClientCertificateRequested, OpenSSLError
    from sslyze.errors import ServerRejectedTlsHandshake, ServerTlsConfigurationNotSupported, TlsHandshakeTimedOut

    connection = info.get_preconfigured_tls_connection(override_tls_version=_tls_version(version),
                                                       should_use_legacy_openssl=legacy)
    client = connection.ssl_client
    try:
        if suites is not None and version == "TLSv1.3":
            client.set_ciphersuites(":".join(suites))
        elif suites is not None:
            client.set_cipher_list(":".join(suites))
        if groups is not None:
            client.set_groups(groups)
    except Exception:  # noqa: BLE001 - nassl raises OpenSSLError when this client knows none of the names
        connection.close()
        return None
    try:
        connection.connect()
    except (ClientCertificateRequested, ServerTlsConfigurationNotSupported):
        pass  # the suite and group were negotiated before the client stopped
    except (ServerRejectedTlsHandshake, TlsHandshakeTimedOut, OpenSSLError, OSError):
        connection.close()
        return None
    return connection


def _pick(info: Any, version: str, read: Any, counter: list[int] | None, **offer: Any) -> Any:
    """One counted handshake (:func:`_connect` with ``offer``): what ``read`` takes from the client once the
    server completed it (the suite or the ephemeral key it chose), None when it refused."""
    if counter is not None:
        counter[0] += 1
    connection = _connect(info, version, **offer)
    if connection is None:
        return None
    try:
        return read(connection.ssl_client)
    finally:
        connection.close()


def accepted_by_elimination(info: Any, version: str, counter: list[int] | None = None) -> list[str]:
    """The suites (OpenSSL names) the server accepts at ``version``, in the order it picked them.

    TLS 1.2 uses nassl's OpenSSL 1.1.1 client first, then the legacy 1.0.2 one for the suites only it can
    offer; TLS 1.0/1.1 the legacy one alone (as sslyze does); TLS 1.3 the 1.1.1 one. ``counter`` (a
    one-element list) is incremented once per handshake, so a caller can say what the enumeration cost.
    """
    from sslyze.plugins.openssl_cipher_suites.cipher_suites import CipherSuitesRepository

    names = sorted(s.openssl_name for s in CipherSuitesRepository.get_all_cipher_suites(_tls_version(version)))
    clients = {"TLSv1.2": (False, True), "TLSv1.3": (False,)}.get(version, (True,))
    accepted: list[str] = []
    for legacy in clients:
        for _ in range(MAX_ELIMINATION_ROUNDS):
            offer = [name for name in names if name not in accepted]
            if not offer:
                break
            chosen = _pick(info, version, lambda client: client.get_current_cipher_name() or None, counter,
                           legacy=legacy, suites=offer)
            if chosen is None or chosen in accepted or chosen not in offer:
                break
            accepted.append(chosen)
    return accepted


def accepted_groups(info: Any, version: str, counter: list[int] | None = None) -> list[str]:
    """The key-exchange groups the server accepts at ``version`` (TLS 1.2 or 1.3), by elimination: every
    group nassl's 1.1.1 client knows is offered, the one the server used is read from the ephemeral key and
    dropped, until the server refuses the rest. Names in OpenSSL's spelling (``prime256v1``, ``X25519``)."""
    from nassl.ephemeral_key_info import EcDhEphemeralKeyInfo, OpenSslEcNidEnum

    remaining = list(OpenSslEcNidEnum)
    found: list[str] = []
    for _ in range(len(remaining)):
        key = _pick(info, version, lambda client: client.get_ephemeral_key(), counter, legacy=False,
                    groups=remaining)
        if not isinstance(key, EcDhEphemeralKeyInfo) or key.curve not in remaining:
            break
        remaining.remove(key.curve)
        found.append(_GROUP_NAMES.get(key.curve_name, key.curve_name))
    return found


@dataclass
class AcceptedSets:
    """What one server accepted: versions, suites per accepted version, groups, and what it cost."""

    versions: dict[str, bool] = field(default_factory=dict)
    suites: dict[str, list[str]] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)
    client_auth: str = ""
    handshakes: int = 0
    log_lines: int | None = None
    """Lines the server wrote to its log during the enumeration (None when the log was not read)."""
    seen_with: str = ""

    def tls12_counts(self) -> dict[str, int]:
        """TLS 1.2 suites accepted, and how many of them lack forward secrecy (no ECDHE/DHE key exchange)."""
        suites = self.suites.get("TLSv1.2", [])
        return {"suites": len(suites), "without forward secrecy": sum(1 for s in suites if not forward_secret(s))}


def forward_secret(suite: str) -> bool:
    """Whether an OpenSSL suite name uses an ephemeral key exchange (every TLS 1.3 suite does)."""
    return suite.startswith(("TLS_", "ECDHE-", "DHE-", "EDH-"))


def enumerate_server(host: str, port: int, server_name: str, *, versions: tuple[str, ...] = VERSIONS,
                     groups: bool = True, timeout: float = 5) -> AcceptedSets:
    """Enumerate versions, suites and (``groups=True``) groups of one PostgreSQL server by elimination."""
    from .handshake import check_version

    for version in versions:
        check_version(version, "versions")
    info = connectivity(host, port, server_name, timeout)
    sets = AcceptedSets(client_auth=info.tls_probing_result.client_auth_requirement.name.lower(),
                        seen_with=f"sslyze {sslyze_version()} (nassl: OpenSSL 1.1.1 and legacy 1.0.2 clients)")
    counter = [0]
    for version in versions:
        accepted = accepted_by_elimination(info, version, counter)
        sets.versions[version] = bool(accepted)
        if accepted:
            sets.suites[version] = accepted
    top = next((v for v in ("TLSv1.3", "TLSv1.2") if sets.versions.get(v)), None)
    if groups and top is not None:
        sets.groups = accepted_groups(info, top, counter)
    sets.handshakes = counter[0]
    return sets


def enumerate_lab(lab: LabServer, *, server_name: str = "localhost", versions: tuple[str, ...] = VERSIONS,
                  groups: bool = True, settle: float = 2.0) -> AcceptedSets:
    """:func:`enumerate_server` against the lab, with the log lines it caused counted and kept out of the
    next reader's window: after the scan the log is watched until it stops growing (at most ``settle``
    seconds), so no late line of a refused handshake lands in the next attempt's log. Counted are the lines
    of the scan's backends (:func:`labkit.attempt_log.collect_handshake_log`), not a late line of labkit's
    own admin connection."""
    mark = lab.log_mark()
    sets = enumerate_server(lab.host, lab.port, server_name, versions=versions, groups=groups)
    deadline, last = time.monotonic() + settle, lab.log_mark()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = lab.log_mark()
        if now == last:
            break
        last = now
    sets.log_lines = len([line for line in collect_handshake_log(lab, mark, wait=0).splitlines() if line.strip()])
    return sets


def served_chain(host: str, port: int, server_name: str = "localhost", timeout: float = 5) -> list[Any]:
    """The certificates the server sends, in the order it sends them (``cryptography`` certificates), as a
    fresh client receives them through sslyze's connection. Python's ``ssl`` shows only the leaf; this is
    what tells "the server completes its chain from ``ssl_ca_file``" and "it sends the root too" apart."""
    from cryptography import x509
    from nassl.ssl_client import ClientCertificateRequested

    info = connectivity(host, port, server_name, timeout)
    connection = info.get_preconfigured_tls_connection(override_tls_version=_tls_version("TLSv1.2"))
    try:
        try:
            connection.connect()
        except ClientCertificateRequested:
            pass  # the chain arrived before the request for a client certificate (TLS 1.2 order)
        pems = connection.ssl_client.get_received_chain()
    finally:
        connection.close()
    return [x509.load_pem_x509_certificate(pem.encode()) for pem in pems]


def chain_table(lab: LabServer, server_name: str = "localhost") -> Any:
    """:func:`served_chain` of the lab as a table: position, subject and issuer CN, and whether the
    certificate is a self-signed root (a trust anchor a client must already have: sending it is useless,
    and scanners flag it)."""
    import pandas as pd
    from cryptography.x509.oid import NameOID

    def cn(name: Any) -> str:
        found = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(found[0].value) if found else name.rfc4514_string()

    chain = served_chain(lab.host, lab.port, server_name)
    return pd.DataFrame([{"sent as": position, "subject": cn(cert.subject), "issuer": cn(cert.issuer),
                          "self-signed root": cert.subject == cert.issuer}
                         for position, cert in enumerate(chain, start=1)])
