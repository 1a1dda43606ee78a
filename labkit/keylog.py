"""Decrypting a recorded TLS 1.3 session with the key log libpq 18 writes (``sslkeylogfile=``).

Lesson 31 shows that a capture of a TLS session is noise. That holds only while the session's secrets stay
secret: libpq 18 can write them to a file in the NSS key log format (one line per secret: label, the
ClientHello random, the secret), the format Wireshark reads. Whoever holds the capture *and* that file reads
everything, the ``Passw0rd`` row included. To show it without asking for Wireshark, this module decrypts the
bytes :class:`labkit.capture.RecordingRelay` recorded with a small TLS 1.3 record reader on top of
``cryptography`` (RFC 8446 §5.2 and §7: HKDF-Expand-Label for key and IV, per-record nonce, AEAD), enough
for the three TLS 1.3 suites OpenSSL offers by default. TLS 1.2 sessions are refused with a clear error.

The key log file is as secret as a private key for the sessions it covers: labkit never prints its values,
only its labels, and the lesson deletes it.
"""
from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .capture import GUIDE_QUERY, GUIDE_SETUP, Chunk, RecordingRelay, printable
from .errors import InvalidValue, LabkitError

if TYPE_CHECKING:
    import pandas as pd

    from .server import LabServer

__all__ = ["SUITES", "Record", "decrypt_session", "keylog_labels", "keylog_session", "plaintext", "private_folder",
           "read_keylog", "records_frame", "tshark_available", "tshark_cross_check"]

C2S, S2C = "client→server", "server→client"
_HANDSHAKE, _APPLICATION, _CHANGE_CIPHER_SPEC, _ALERT = 0x16, 0x17, 0x14, 0x15
_CONTENT = {_HANDSHAKE: "handshake", _APPLICATION: "application data", _CHANGE_CIPHER_SPEC: "change cipher spec",
            _ALERT: "alert"}

#: TLS 1.3 cipher suites: code -> (name, hash, key length).
SUITES: dict[int, tuple[str, str, int]] = {
    0x1301: ("TLS_AES_128_GCM_SHA256", "sha256", 16),
    0x1302: ("TLS_AES_256_GCM_SHA384", "sha384", 32),
    0x1303: ("TLS_CHACHA20_POLY1305_SHA256", "sha256", 32),
}
_SECRETS = {C2S: ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0"),
            S2C: ("SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0")}


def read_keylog(path: Path) -> dict[bytes, dict[str, bytes]]:
    """The NSS key log file as {client random: {label: secret}}; comment and blank lines are skipped."""
    keys: dict[bytes, dict[str, bytes]] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 3:
            raise LabkitError(f"{path}: line {number} is not 'LABEL CLIENT_RANDOM SECRET'",
                              "pass the file libpq wrote with sslkeylogfile=")
        keys.setdefault(bytes.fromhex(parts[1]), {})[parts[0]] = bytes.fromhex(parts[2])
    return keys


def keylog_labels(path: Path) -> pd.DataFrame:
    """What the key log holds, without a single secret: label, session (first bytes of the client random),
    secret length. Plus the file's mode, which must be 0600."""
    import pandas as pd

    mode = oct(Path(path).stat().st_mode & 0o777)
    rows = [{"label": label, "client random (first 4 bytes)": random[:4].hex() + "…", "secret bytes": len(secret),
             "file mode": mode} for random, secrets in read_keylog(path).items() for label, secret in secrets.items()]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------------
# TLS records
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One TLS record of one direction, and what it held once decrypted."""

    direction: str
    number: int
    outer_type: int
    wire_bytes: int
    inner_type: int | None = None
    keys: str = ""
    plaintext: bytes = b""


def _records(stream: bytes) -> list[tuple[int, bytes, bytes]]:
    """(content type, 5-byte header, payload) of each complete record in ``stream``."""
    out, pos = [], 0
    while pos + 5 <= len(stream):
        kind, _version, length = struct.unpack("!BHH", stream[pos:pos + 5])
        if pos + 5 + length > len(stream):
            break
        out.append((kind, stream[pos:pos + 5], stream[pos + 5:pos + 5 + length]))
        pos += 5 + length
    return out


def _hkdf_expand_label(secret: bytes, label: str, length: int, hash_name: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

    full = b"tls13 " + label.encode()
    info = struct.pack("!H", length) + bytes([len(full)]) + full + b"\0"
    algorithm = hashes.SHA384() if hash_name == "sha384" else hashes.SHA256()
    return HKDFExpand(algorithm=algorithm, length=length, info=info).derive(secret)


class _Direction:
    """Traffic keys of one direction: the handshake keys first, then the application keys (each with its
    own record counter), switched when a record no longer authenticates under the current ones."""

    def __init__(self, suite: int, secrets: Sequence[tuple[str, bytes]]) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

        _name, hash_name, key_length = SUITES[suite]
        aead = ChaCha20Poly1305 if suite == 0x1303 else AESGCM
        self._keys = [(label, aead(_hkdf_expand_label(s, "key", key_length, hash_name)),
                       _hkdf_expand_label(s, "iv", 12, hash_name)) for label, s in secrets]
        self._current, self._sequence = 0, 0

    def open(self, header: bytes, payload: bytes) -> tuple[str, int, bytes]:
        from cryptography.exceptions import InvalidTag

        while self._current < len(self._keys):
            label, aead, iv = self._keys[self._current]
            nonce = bytes(a ^ b for a, b in zip(iv, self._sequence.to_bytes(12, "big")))
            try:
                inner = aead.decrypt(nonce, payload, header).rstrip(b"\0")
            except InvalidTag:
                self._current, self._sequence = self._current + 1, 0
                continue
            self._sequence += 1
            return label, inner[-1], inner[:-1]
        raise LabkitError("a record does not decrypt with any key of the key log",
                          "the key log must come from the very session that was recorded")


def _hello(records: Iterable[tuple[int, bytes, bytes]], kind: int) -> bytes:
    for outer, _header, payload in records:
        if outer == _HANDSHAKE and payload[:1] == bytes([kind]):
            return payload
    raise LabkitError("no TLS hello in the recording", "record the whole connection, from the SSLRequest on")


def decrypt_session(chunks: Sequence[Chunk], keylog: Mapping[bytes, Mapping[str, bytes]],
                    connection: int = 1) -> list[Record]:
    """Every TLS record of one relayed connection, decrypted with the matching secrets of ``keylog``.

    The PostgreSQL prelude is skipped (the 8-byte SSLRequest, the server's ``S``); the session is found
    by the ClientHello random, its suite read from the ServerHello."""
    streams = {d: b"".join(c.data for c in chunks if c.connection == connection and c.direction == d)
               for d in (C2S, S2C)}
    if not streams[C2S].startswith(struct.pack("!II", 8, 80877103)) or streams[S2C][:1] != b"S":
        raise LabkitError(f"connection {connection} did not open with SSLRequest and 'S'",
                          "decrypt a TLS session recorded by RecordingRelay")
    parsed = {C2S: _records(streams[C2S][8:]), S2C: _records(streams[S2C][1:])}
    client_hello, server_hello = _hello(parsed[C2S], 1), _hello(parsed[S2C], 2)
    random = client_hello[6:38]
    session_id_length = server_hello[38]
    suite = struct.unpack("!H", server_hello[39 + session_id_length:41 + session_id_length])[0]
    if suite not in SUITES:
        raise LabkitError(f"cipher suite 0x{suite:04x} is not a TLS 1.3 suite this reader knows",
                          "connect with ssl_min_protocol_version=TLSv1.3")
    secrets = keylog.get(random)
    if not secrets:
        raise LabkitError("the key log holds no secret for this session's ClientHello random",
                          "use the key log written by the client of this very session")
    out: list[Record] = []
    for direction, records in parsed.items():
        keys = _Direction(suite, [(label, secrets[label]) for label in _SECRETS[direction] if label in secrets])
        for number, (outer, header, payload) in enumerate(records, 1):
            if outer != _APPLICATION:
                out.append(Record(direction, number, outer, len(header) + len(payload)))
                continue
            label, inner_type, plain = keys.open(header, payload)
            out.append(Record(direction, number, outer, len(header) + len(payload), inner_type, label, plain))
    return out


def plaintext(records: Iterable[Record], direction: str) -> bytes:
    """The decrypted application data of one direction: the PostgreSQL protocol as the server read it."""
    return b"".join(r.plaintext for r in records if r.direction == direction and r.inner_type == _APPLICATION)


def records_frame(records: Sequence[Record], limit: int = 70) -> pd.DataFrame:
    """One row per record: what the wire showed (outer type, size) and what it held (inner type, keys
    used, the plaintext the way ``tcpdump -A`` prints text)."""
    import pandas as pd

    return pd.DataFrame([{"direction": r.direction, "record": r.number,
                          "on the wire": _CONTENT.get(r.outer_type, "?"), "bytes": r.wire_bytes,
                          "inside": _CONTENT.get(r.inner_type, "-") if r.inner_type else "(clear)",
                          "decrypted with": r.keys or "-",
                          "plaintext (printable)": printable(r.plaintext, limit) if r.plaintext else ""}
                         for r in records])


# --------------------------------------------------------------------------------------------------------
# The lesson's session: recorded, with a key log
# --------------------------------------------------------------------------------------------------------


def keylog_session(lab: LabServer, *, user: str, password: str, keylog: Path, sslmode: str = "require",
                   sslrootcert: Path | None = None, setup: Sequence[str] = GUIDE_SETUP,
                   query: str = GUIDE_QUERY) -> dict[str, Any]:
    """Lesson 31's session through a :class:`RecordingRelay`, with libpq writing the session's secrets to
    ``keylog`` (``sslkeylogfile=``, libpq 18+). TLS 1.3 is required so the reader above applies.
    Returns the rows, the recorded chunks, and the protocol and cipher the server's pg_stat_ssl reports."""
    from .client import session

    keylog = Path(keylog)
    if keylog.exists():
        raise InvalidValue("keylog", str(keylog), "a file that does not exist yet",
                           "libpq appends to it; start from a new file per session")
    with RecordingRelay(lab.host, lab.port) as relay:
        with session(lab, sslmode=sslmode, user=user, password=password, sslrootcert=sslrootcert,
                     ssl_min_protocol_version="TLSv1.3",
                     extra={"port": relay.port, "sslkeylogfile": keylog}) as conn:
            for statement in setup:
                conn.execute(statement)
            rows = conn.execute(query).fetchall()
            tls = conn.execute("select version, cipher from pg_stat_ssl where pid = pg_backend_pid()").fetchone()
        chunks = list(relay.chunks)
    if not keylog.exists():
        raise LabkitError("libpq wrote no key log", "sslkeylogfile needs libpq 18 or newer (psycopg's wheel has it)")
    return {"rows": rows, "chunks": chunks, "protocol": tls[0], "cipher": tls[1]}


def private_folder(prefix: str = "labkit-keylog-") -> Path:
    """A new folder only we may enter (0700): where a key log is written and, at the end, deleted."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(folder, 0o700)
    return folder


# --------------------------------------------------------------------------------------------------------
# The same, the Wireshark way: tcpdump for the capture, tshark with the key log
# --------------------------------------------------------------------------------------------------------


def tshark_available() -> tuple[bool, str]:
    """Whether the cross-check can run: tshark installed (Debian's ``tshark`` package) and tcpdump allowed."""
    import shutil

    from .capture import tcpdump_available

    if not shutil.which("tshark"):
        return False, "tshark is not installed (apt-get install tshark)"
    return tcpdump_available()


def _counted(names: Sequence[str]) -> str:
    """``a, b, b, b`` as ``a, b ×3``: one packet may carry a dozen Parameter status messages."""
    out: list[list[Any]] = []
    for name in names:
        if out and out[-1][0] == name:
            out[-1][1] += 1
        else:
            out.append([name, 1])
    return ", ".join(name if n == 1 else f"{name} ×{n}" for name, n in out)


def _tshark_rows(pcap: Path, port: int, keylog: Path | None) -> list[dict[str, str]]:
    import subprocess

    keys = ["-o", f"tls.keylog_file:{keylog}"] if keylog else []
    done = subprocess.run(["tshark", "-n", "-r", str(pcap), *keys, "-d", f"tcp.port=={port},pgsql", "-Y", "pgsql",
                           "-T", "fields", "-E", "separator=|", "-e", "pgsql.type", "-e", "pgsql.query",
                           "-e", "pgsql.val.data"], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise LabkitError(f"tshark failed (exit {done.returncode}): {done.stderr.strip()[-300:]}",
                          "check that the capture file is complete")
    rows = []
    for line in done.stdout.splitlines():
        kind, query, values = (line.split("|") + ["", ""])[:3]
        shown = ", ".join(bytes.fromhex(v).decode(errors="replace") for v in values.split(",") if v)
        rows.append({"messages (tshark)": _counted(kind.split(",")), "query": query, "row values": shown})
    return rows


def tshark_cross_check(lab: LabServer, *, user: str, password: str, keylog: Path, sslmode: str = "require",
                       sslrootcert: Path | None = None) -> dict[str, Any]:
    """Lesson 31's session captured by tcpdump on ``lo`` while libpq writes ``keylog``, then read by tshark
    twice: without the key log (only the SSLRequest is PostgreSQL to it) and with it (every message)."""
    import pandas as pd

    from .capture import TcpdumpCapture
    from .client import session

    with TcpdumpCapture(lab.port) as cap:
        with session(lab, sslmode=sslmode, user=user, password=password, sslrootcert=sslrootcert,
                     ssl_min_protocol_version="TLSv1.3", extra={"sslkeylogfile": keylog}) as conn:
            for statement in GUIDE_SETUP:
                conn.execute(statement)
            conn.execute(GUIDE_QUERY).fetchall()
    try:
        return {"'Passw0rd' in the pcap": cap.contains("Passw0rd"),
                "without": pd.DataFrame(_tshark_rows(cap.pcap, lab.port, None)),
                "with": pd.DataFrame(_tshark_rows(cap.pcap, lab.port, keylog))}
    finally:
        cap.cleanup()
