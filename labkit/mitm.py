"""A man in the middle on 127.0.0.1: a relay that terminates the client's TLS with its own certificate.

:class:`labkit.capture.RecordingRelay` only copies bytes, so over TLS it sees noise. An attacker who sits
between client and server does better: he answers the client's SSLRequest himself, completes the TLS
handshake with *his* certificate, opens his own connection to the real server (plaintext, or TLS of his own)
and reads everything in between. Whether the client lets him in is exactly what ``sslmode`` and
``channel_binding`` decide, so the course measures it with :class:`MitmRelay` instead of asserting it.

The relay never leaves loopback, is small on purpose (Python's ``ssl`` on the server side, one thread per
connection), and keeps a decrypted record of every byte it forwarded, so a lesson can ask "did the attacker
see the SCRAM exchange? the data row? the password?" of the bytes themselves.
"""
from __future__ import annotations

import selectors
import socket
import ssl
import struct
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .capture import GUIDE_QUERY, GUIDE_SETUP, Chunk, RecordingRelay
from .errors import InvalidValue, LabkitError
from .messages import client_phrase

if TYPE_CHECKING:
    import pandas as pd

    from .pki import LabPKI
    from .server import LabServer

__all__ = ["UPSTREAMS", "Disguise", "MitmRelay", "attacker_ca_disguise", "attacker_rule", "matrix",
           "other_host_disguise", "pivot", "run_through", "server_layers", "stolen_key_disguise", "what_the_relay_saw"]

UPSTREAMS = ("plain", "tls")
_SSL_REQUEST_CODE = 80877103
_GSSENC_REQUEST_CODE = 80877104
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Disguise:
    """The certificate (with its chain) and key the attacker presents to the client."""

    label: str
    cert_path: Path
    key_path: Path


def attacker_ca_disguise(directory: Path, names: Sequence[str] = ("localhost", "127.0.0.1"),
                         key_type: str = "ecdsa-p256") -> Disguise:
    """An attacker's own root CA and a server certificate from it for the server's very names: what anyone
    can make in a second. Only a client that checks the issuer can tell it from the real one."""
    from .ca import CA

    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca = CA.root("Mallory Root CA", org="mallory", key_type=key_type)
    leaf = ca.issue_server_cert(*names)
    crt, key = leaf.write(directory / "mallory-server.crt", directory / "mallory-server.key", chain=[ca.cert])
    return Disguise("attacker's own CA", crt, key)


def other_host_disguise(pki: LabPKI, host: str = "db.other-host.example", space: str = "mitm") -> Disguise:
    """A certificate the lab's own CA really issued, but for another host (a stolen key of another server
    of the same company, or a certificate obtained from a CA that issues too easily)."""
    crt, key = pki.issue_server((host,), name="mitm-other-host", space=space)  # not listed by other lessons
    chain = Path(crt).parent / "mitm-other-host-chain.crt"
    chain.write_bytes(Path(crt).read_bytes() + pki.paths.intermediate_crt.read_bytes())
    return Disguise(f"lab CA, other host ({host})", chain, key)


def stolen_key_disguise(pki: LabPKI) -> Disguise:
    """The real server's certificate and key: the control row (nothing in the client can detect it)."""
    return Disguise("the server's own key (stolen)", pki.paths.server_chain_crt, pki.paths.server_key)


class _ClientRefused(Exception):
    """The client ended the TLS handshake with the relay (it did not trust the relay's certificate)."""


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = sock.recv(size - len(data))
        if not more:
            raise ConnectionError(f"peer closed after {len(data)} of {size} bytes")
        data += more
    return data


class MitmRelay(RecordingRelay):
    """Listen on 127.0.0.1, answer SSLRequest with ``S``, do TLS with ``disguise``, connect on to the server.

    ``upstream="plain"`` talks to the server without TLS (the server then offers no channel binding);
    ``upstream="tls"`` makes its own TLS connection (the server offers SCRAM-SHA-256-PLUS, bound to *its*
    certificate). ``chunks`` holds the decrypted bytes, ``events`` what happened per connection. Listening,
    accepting and stopping are :class:`~labkit.capture.RecordingRelay`'s; only what is done with each
    connection differs.
    """

    def __init__(self, target_host: str, target_port: int, disguise: Disguise, *, upstream: str = "plain") -> None:
        if target_host not in _LOOPBACK:
            raise InvalidValue("target_host", target_host, _LOOPBACK, "the relay only forwards to loopback")
        if upstream not in UPSTREAMS:
            raise InvalidValue("upstream", upstream, UPSTREAMS)
        if not isinstance(disguise, Disguise):
            raise InvalidValue("disguise", disguise, "a Disguise",
                               "use attacker_ca_disguise(), other_host_disguise() or stolen_key_disguise()")
        self.disguise, self.upstream = disguise, upstream
        self._tls_server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls_server.load_cert_chain(str(disguise.cert_path), str(disguise.key_path))
        self._tls_client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._tls_client.check_hostname = False  # the attacker does not care whom he talks to
        self._tls_client.verify_mode = ssl.CERT_NONE
        self.events: dict[int, list[str]] = {}
        super().__init__(target_host, int(target_port))

    @property
    def connections(self) -> int:
        """How many connections the relay has accepted so far."""
        return self._connections

    def __enter__(self) -> MitmRelay:
        self.start()
        return self

    def _event(self, number: int, text: str) -> None:
        with self._lock:
            self.events.setdefault(number, []).append(text)

    def _pump(self, client: socket.socket, number: int) -> None:
        """One connection, as the attacker serves it (the accept loop runs each in its own thread)."""
        server: socket.socket | None = None
        try:
            client.settimeout(10)
            first, client = self._client_side(client, number)
            server = self._server_side(number)
            if first:
                server.sendall(first)
            self._forward(number, client, server)
        except _ClientRefused:
            pass  # already noted: the client would not talk to the relay
        except (OSError, ssl.SSLError, ConnectionError, LabkitError) as exc:
            why = str(exc).splitlines()[0] if isinstance(exc, LabkitError) else type(exc).__name__
            self._event(number, f"relay gave up: {why}")
        finally:
            for sock in (client, server):
                if sock is not None:
                    sock.close()

    def _client_side(self, client: socket.socket, number: int) -> tuple[bytes, socket.socket]:
        """Answer the client's opening; returns bytes to forward (a plaintext startup) and the socket."""
        while True:
            head = _recv_exactly(client, 8)
            length, code = struct.unpack("!II", head)
            if length == 8 and code == _GSSENC_REQUEST_CODE:
                client.sendall(b"N")
                continue
            if length == 8 and code == _SSL_REQUEST_CODE:
                client.sendall(b"S")
                try:
                    tls = self._tls_server.wrap_socket(client, server_side=True)
                except ssl.SSLError as exc:
                    self._event(number, f"client refused the relay's certificate ({exc.reason or 'TLS error'})")
                    raise _ClientRefused from exc
                self._event(number, f"client TLS: {tls.version()}")
                return b"", tls
            self._event(number, "client sent a plaintext startup")
            return head, client

    def _server_side(self, number: int) -> socket.socket:
        server = socket.create_connection(self.target, timeout=10)
        if self.upstream == "plain":
            self._event(number, "to the server: plaintext")
            return server
        server.sendall(struct.pack("!II", 8, _SSL_REQUEST_CODE))
        if _recv_exactly(server, 1) != b"S":
            raise LabkitError("the server refused TLS to the relay", "turn ssl on in the lab (layer_ssl_on)")
        tls = self._tls_client.wrap_socket(server)
        self._event(number, f"to the server: {tls.version()}")
        return tls

    def _forward(self, number: int, client: socket.socket, server: socket.socket) -> None:
        """Forward both ways in one thread (an SSL object must not be read and written from two threads),
        keeping each decrypted read. Sockets are non-blocking; bytes OpenSSL already holds are drained
        through ``pending()``, which ``select`` cannot see."""
        peers = {client: (server, "client→server"), server: (client, "server→client")}
        for sock in peers:
            sock.setblocking(False)
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            while not self._stop.is_set():
                ready = {key.fileobj for key, _ in selector.select(timeout=0.1)}
                ready |= {s for s in peers if isinstance(s, ssl.SSLSocket) and s.pending()}
                for sock in ready:
                    other, direction = peers[sock]  # type: ignore[index]
                    try:
                        data = sock.recv(65536)  # type: ignore[union-attr]
                    except (ssl.SSLWantReadError, BlockingIOError):
                        continue
                    except (OSError, ssl.SSLError):
                        data = b""
                    if not data:
                        return
                    with self._lock:
                        self.chunks.append(Chunk(number, direction, data, time.monotonic()))
                    other.setblocking(True)
                    try:
                        other.sendall(data)
                    except OSError:
                        return
                    finally:
                        other.setblocking(False)

    def wait_idle(self, wait: float = 5.0) -> None:
        """Until every connection so far has ended (bounded by ``wait``): the server's last bytes (its reply
        to a failed login) may still be in flight when the client has already returned."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(t.is_alive() for t in self._threads[1:]):
            time.sleep(0.01)

    def decrypted(self, connections: Sequence[int] | None = None, direction: str | None = None) -> bytes:
        """The decrypted bytes of ``connections`` (all by default), one direction or both, in order."""
        with self._lock:
            return b"".join(c.data for c in self.chunks if (connections is None or c.connection in connections)
                            and (direction is None or c.direction == direction))


# --------------------------------------------------------------------------------------------------------
# Reading the decrypted bytes as PostgreSQL messages
# --------------------------------------------------------------------------------------------------------


def _messages(data: bytes, *, startup: bool) -> Iterator[tuple[str, bytes]]:
    """(type, body) of each protocol message; the client's first message (startup) has no type byte."""
    pos = 0
    if startup and len(data) >= 8:
        (length,) = struct.unpack("!I", data[:4])
        yield "startup", data[4:length]
        pos = length
    while pos + 5 <= len(data):
        kind = chr(data[pos])
        (length,) = struct.unpack("!I", data[pos + 1:pos + 5])
        yield kind, data[pos + 5:pos + 1 + length]
        pos += 1 + length


def what_the_relay_saw(client_bytes: bytes, server_bytes: bytes, *, password: str,
                       needle: str = "Passw0rd") -> dict[str, Any]:
    """What the decrypted record holds: the SCRAM mechanisms the server offered, the client's choice and
    its GS2 header (``n,,`` no binding, ``y,,`` "I could but you can't", ``p=tls-server-end-point,,``
    bound), whether the data row and the role's password are in it."""
    offered: list[str] = []
    for kind, body in _messages(server_bytes, startup=False):
        if kind == "R" and body[:4] == struct.pack("!I", 10):
            offered = [m.decode() for m in body[4:].split(b"\0") if m]
    chosen = gs2 = ""
    for kind, body in _messages(client_bytes, startup=True):
        if kind == "p" and b"SCRAM" in body[:20]:
            mechanism, _, rest = body.partition(b"\0")
            first = rest[4:].decode(errors="replace")
            chosen, gs2 = mechanism.decode(), first[:first.find(",", first.find(",") + 1) + 1]
            break
    return {"server offered": ", ".join(offered) or "-", "client chose": chosen or "-", "GS2 header": gs2 or "-",
            f"'{needle}' seen": needle.encode() in server_bytes,
            "password seen": bool(password) and password.encode() in client_bytes + server_bytes}


def run_through(lab: LabServer, relay: MitmRelay, *, sslmode: str, channel_binding: str | None, user: str,
                password: str | None, sslrootcert: Path | None = None, sslcert: Path | None = None,
                sslkey: Path | None = None) -> dict[str, Any]:
    """One login through ``relay`` (an :func:`labkit.client.attempt`: connected? the client's error text and
    catalogue key, the TLS the client believes in and the TLS the server saw), then, if it got in, the
    guide's ``clientes`` session, so the record shows whether the data row crossed the attacker's hands."""
    from .client import attempt, session

    keywords: dict[str, Any] = {"sslmode": sslmode, "user": user, "password": password, "sslrootcert": sslrootcert,
                                "sslcert": sslcert, "sslkey": sslkey, "channel_binding": channel_binding,
                                "extra": {"port": relay.port}}
    before = relay.connections
    result = attempt(lab, label=f"{sslmode}/{channel_binding}", **keywords)
    if result.connected:
        with session(lab, **keywords) as conn:
            for statement in GUIDE_SETUP:
                conn.execute(statement)
            conn.execute(GUIDE_QUERY).fetchall()
    relay.wait_idle()
    mine = range(before + 1, relay.connections + 1)
    phrase = client_phrase(result.error_text).removeprefix("FATAL:").strip() if result.error_text else ""
    seen = what_the_relay_saw(relay.decrypted(mine, "client→server"), relay.decrypted(mine, "server→client"),
                              password=password or "")
    events = [e for n in mine for e in relay.events.get(n, [])]
    return {"connected": result.connected, "client TLS": result.ssl if result.connected else None,
            "server saw TLS": (result.pg_stat_ssl or {}).get("ssl") if result.connected else None, **seen,
            "attacker": _attacker_verdict(result.connected, seen["'Passw0rd' seen"], result.error_key or phrase),
            "client error": phrase,
            "catalogue key": result.error_key or "", "relay": "; ".join(dict.fromkeys(events)), "psql": result.psql}


def _attacker_verdict(connected: bool, saw_data: bool, why: str) -> str:
    """One word per login for the pivot: did the attacker get the data, or did the client stop him?"""
    if connected:
        return "read the data" if saw_data else "connected, data not seen"
    return f"stopped: {why}"


def attacker_rule(value: Any) -> str:
    """A :func:`labkit.tables.cells` rule for the attacker verdict: stopped is good, read the data bad."""
    text = str(value)
    return "good" if text.startswith("stopped") else "bad" if text.startswith(("read", "connected")) else "neutral"


def matrix(lab: LabServer, pki: LabPKI, *, disguises: Sequence[Disguise], user: str, password: str,
           cert_user: str | None = None, sslmodes: Sequence[str] = ("require", "verify-ca", "verify-full"),
           bindings: Sequence[str] = ("prefer", "disable", "require")) -> pd.DataFrame:
    """Every login of the lesson's table, each through a relay: for each disguise and upstream (plain,
    TLS), each sslmode and channel_binding with SCRAM; then, when ``cert_user`` is given, certificate
    logins (the lab's client certificate) through a relay that speaks TLS to the server."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for disguise in disguises:
        for upstream in UPSTREAMS:
            with MitmRelay(lab.host, lab.port, disguise, upstream=upstream) as relay:
                for sslmode in sslmodes:
                    root = None if sslmode == "require" else pki.paths.combined_crt
                    for binding in bindings:
                        rows.append({"auth": "scram", "attacker certificate": disguise.label, "to server": upstream,
                                     "sslmode": sslmode, "channel_binding": binding,
                                     **run_through(lab, relay, sslmode=sslmode, channel_binding=binding, user=user,
                                                   password=password, sslrootcert=root)})
                    if cert_user and upstream == "tls":
                        rows.append({"auth": "cert", "attacker certificate": disguise.label, "to server": upstream,
                                     "sslmode": sslmode, "channel_binding": "prefer",
                                     **run_through(lab, relay, sslmode=sslmode, channel_binding="prefer",
                                                   user=cert_user, password=None, sslrootcert=root,
                                                   sslcert=pki.paths.client_crt, sslkey=pki.paths.client_key)})
    return pd.DataFrame(rows)


def server_layers(pki: LabPKI, *, scram_user: str = "sinssl", cert_user: str = "conssl") -> list[Any]:
    """The lab the table is measured on: TLS on, the lab CAs trusted for client certificates, ``cert_user``
    by certificate over ``hostssl`` only, ``scram_user`` by SCRAM over any TCP line (so a relay may reach the
    server with or without TLS: the attacker picks)."""
    from .layers import layer_ca, layer_hostssl, layer_ssl_on

    return [layer_ssl_on(pki), layer_ca(pki, "combined"),
            layer_hostssl("cert", (cert_user,), clientcert="verify-full",
                          extra_rules=(f"host  all  {scram_user}  0.0.0.0/0  scram-sha-256",))]


def pivot(table: pd.DataFrame) -> pd.DataFrame:
    """The attacker's verdict per disguise, path to the server, auth and sslmode (rows) and channel_binding
    (columns); certificate logins were measured with the default channel_binding only ("-" elsewhere)."""
    wide = table.pivot_table(index=["attacker certificate", "to server", "auth", "sslmode"],
                             columns="channel_binding", values="attacker", aggfunc="first", sort=False)
    return wide.reindex(columns=["disable", "prefer", "require"]).fillna("-")
