"""Seeing what crosses the wire, without root: a recording relay, and tcpdump where it can run.

The guide proves encryption with ``tcpdump -A`` as root. Learners on a laptop or in a hosted notebook are
rarely root, so :class:`RecordingRelay` sits between the client and the server on 127.0.0.1 and keeps a
copy of every byte it forwards. It sees exactly what tcpdump would see in the TCP payloads. Where tcpdump is
installed and we may capture, :class:`TcpdumpCapture` records the same conversation the guide's way.
"""
from __future__ import annotations

import os
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import LabkitError

if TYPE_CHECKING:
    from .server import LabServer


@dataclass(frozen=True)
class Chunk:
    """One read from one side of one relayed connection."""

    connection: int
    direction: str  # "client→server" or "server→client"
    data: bytes
    at: float


def printable(data: bytes, limit: int = 80) -> str:
    """Bytes as tcpdump -A shows them: printable ASCII kept, everything else a dot."""
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in data[:limit])
    return text + ("…" if len(data) > limit else "")


class RecordingRelay:
    """A loopback TCP relay that records both directions of every connection it forwards."""

    def __init__(self, target_host: str, target_port: int) -> None:
        if target_host not in ("127.0.0.1", "localhost", "::1"):
            raise LabkitError(f"the relay only forwards to loopback, not {target_host!r}", "use the lab's host")
        self.target = (target_host, target_port)
        self.chunks: list[Chunk] = []
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connections = 0

    @property
    def port(self) -> int:
        """Point the client here instead of at the server."""
        return int(self._listener.getsockname()[1])

    def start(self) -> RecordingRelay:
        accept = threading.Thread(target=self._accept_loop, name="relay-accept", daemon=True)
        accept.start()
        self._threads.append(accept)
        return self

    def stop(self) -> None:
        self._stop.set()
        try:
            self._listener.close()
        except OSError:
            pass
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> RecordingRelay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            self._connections += 1
            pump = threading.Thread(target=self._pump, args=(client, self._connections), daemon=True)
            pump.start()
            self._threads.append(pump)

    def _pump(self, client: socket.socket, number: int) -> None:
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        peers = {client: (server, "client→server"), server: (client, "server→client")}
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            open_ends = 2
            while open_ends and not self._stop.is_set():
                for key, _ in selector.select(timeout=0.1):
                    sock = key.fileobj
                    other, direction = peers[sock]  # type: ignore[index]
                    try:
                        data = sock.recv(65536)  # type: ignore[union-attr]
                    except OSError:
                        data = b""
                    if not data:
                        selector.unregister(sock)
                        open_ends -= 1
                        try:
                            other.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        continue
                    with self._lock:
                        self.chunks.append(Chunk(number, direction, data, time.monotonic()))
                    try:
                        other.sendall(data)
                    except OSError:
                        open_ends = 0
        client.close()
        server.close()

    # -- what was seen -------------------------------------------------------------------------------
    def transcript(self, direction: str | None = None) -> bytes:
        """Every recorded byte (optionally one direction only), in order."""
        with self._lock:
            return b"".join(c.data for c in self.chunks if direction is None or c.direction == direction)

    def contains(self, needle: str | bytes) -> bool:
        """Whether ``needle`` appears in clear anywhere in the recorded traffic."""
        raw = needle.encode() if isinstance(needle, str) else needle
        return raw in self.transcript()

    def clear(self) -> None:
        with self._lock:
            self.chunks.clear()

    def frame(self, limit: int = 80) -> pd.DataFrame:
        """One row per recorded chunk: connection, direction, size, and what tcpdump -A would print."""
        with self._lock:
            rows = [{"connection": c.connection, "direction": c.direction, "bytes": len(c.data),
                     "as ASCII (tcpdump -A)": printable(c.data, limit)} for c in self.chunks]
        return pd.DataFrame(rows, columns=["connection", "direction", "bytes", "as ASCII (tcpdump -A)"])


def tcpdump_available() -> tuple[bool, str]:
    """Whether tcpdump exists and we may capture on the loopback interface (root, or CAP_NET_RAW)."""
    path = shutil.which("tcpdump") or ("/usr/sbin/tcpdump" if Path("/usr/sbin/tcpdump").exists() else None)
    if not path:
        return False, "tcpdump is not installed"
    if os.geteuid() != 0:
        return False, "capturing needs root (the relay shows the same bytes without it)"
    return True, path


class TcpdumpCapture:
    """``tcpdump -i lo -s 0 -w FILE 'tcp port P'`` for the duration of a ``with`` block.

    tcpdump reads packets from a kernel buffer at its own pace: stopping it right after the session can drop
    the last packets (seen under load: the plaintext row missing from the file), and its "listening on" line
    only says the capture is open. So each end is proved by a marker: a UDP datagram with a random payload
    that the socket sends to itself over ``lo``, captured by the same filter. Once the start marker is in the
    file the capture is armed; once the end marker is, every packet before it is written too (``-U`` writes
    each packet as it is processed, in order)."""

    MARKER_WAIT = 30.0  # seconds; tcpdump may be slow to be scheduled on a busy machine

    def __init__(self, port: int) -> None:
        ok, how = tcpdump_available()
        if not ok:
            raise LabkitError(f"cannot run tcpdump: {how}", "use RecordingRelay instead")
        self.port = int(port)
        self.tcpdump = how
        self._dir = Path(tempfile.mkdtemp(prefix="labkit-pcap-"))
        self.pcap = self._dir / "capture.pcap"
        self._proc: subprocess.Popen[bytes] | None = None
        self._marker_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._marker_socket.bind(("127.0.0.1", 0))
        self._marker_port = self._marker_socket.getsockname()[1]

    @property
    def capture_filter(self) -> str:
        return f"tcp port {self.port} or (udp and dst port {self._marker_port})"

    def __enter__(self) -> TcpdumpCapture:
        self._proc = subprocess.Popen(
            [self.tcpdump, "-i", "lo", "-s", "0", "-U", "--immediate-mode", "-n", "-w", str(self.pcap),
             self.capture_filter],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            self._wait_for_marker("start")
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if exc_type is None and self._proc and self._proc.poll() is None:
                self._wait_for_marker("end")
        finally:
            self._stop()

    def _wait_for_marker(self, which: str) -> None:
        """Send a marker datagram over lo (again every 0.2 s) until tcpdump has written it to the file."""
        marker = f"labkit-pcap-{which}-{os.urandom(8).hex()}".encode()
        deadline = time.monotonic() + self.MARKER_WAIT
        next_send = 0.0
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace").strip() if self._proc.stderr else ""
                raise LabkitError(f"tcpdump stopped (exit {self._proc.returncode}): {err or 'no message'}",
                                  "check that it may capture on the loopback interface lo")
            if marker in self.raw():
                return
            now = time.monotonic()
            if now >= deadline:
                raise LabkitError(f"tcpdump did not record its {which} marker within {self.MARKER_WAIT:.0f} s",
                                  "the machine may be overloaded; run the capture again")
            if now >= next_send:
                self._marker_socket.sendto(marker, ("127.0.0.1", self._marker_port))
                next_send = now + 0.2
            time.sleep(0.05)

    def _stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc and self._proc.stderr:
            self._proc.stderr.close()
        self._marker_socket.close()

    def raw(self) -> bytes:
        """The pcap file's bytes (payloads are stored as they crossed the wire)."""
        return self.pcap.read_bytes() if self.pcap.exists() else b""

    def contains(self, needle: str | bytes) -> bool:
        raw = needle.encode() if isinstance(needle, str) else needle
        return raw in self.raw()

    def ascii_dump(self, max_lines: int = 40) -> str:
        """What the guide shows: ``tcpdump -A -r FILE``."""
        done = subprocess.run([self.tcpdump, "-A", "-n", "-r", str(self.pcap), f"tcp port {self.port}"],
                              capture_output=True, text=True,
                              errors="replace", timeout=30, check=False)
        return "\n".join(done.stdout.splitlines()[:max_lines])

    def cleanup(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)


# --------------------------------------------------------------------------------------------------------
# The guide's experiment: one session with a secret in it, seen on the wire
# --------------------------------------------------------------------------------------------------------

GUIDE_SETUP = ("create temp table clientes(numcli int, password text)", "insert into clientes select 12345, 'Passw0rd'")
GUIDE_QUERY = "select * from clientes; /*ESTE ES UN COMENTARIO*/"


def _run_guide_session(conn: Any, setup: Sequence[str], query: str, before_query: Callable[[], None]) -> list[Any]:
    for statement in setup:
        conn.execute(statement)
    before_query()
    return conn.execute(query).fetchall()


def relayed_session(lab: LabServer, sslmode: str, *, user: str, password: str, setup: Sequence[str] = GUIDE_SETUP,
                    query: str = GUIDE_QUERY) -> dict[str, Any]:
    """Run ``setup`` then ``query`` in one session through a :class:`RecordingRelay`: the rows, whether
    TLS was used, the whole conversation (``all``, login included) and the query phase as a table
    (``frame``, the way the guide starts its capture right before the query)."""
    from .client import session

    with RecordingRelay(lab.host, lab.port) as relay:
        marks: list[int] = []
        with session(lab, sslmode=sslmode, user=user, password=password, extra={"port": relay.port}) as conn:
            rows = _run_guide_session(conn, setup, query, lambda: marks.append(len(relay.chunks)))
            tls = bool(conn.pgconn.ssl_in_use)
        return {"rows": rows, "tls": tls, "all": relay.transcript(), "chunks": list(relay.chunks),
                "frame": relay.frame(limit=120).iloc[marks[0]:].reset_index(drop=True)}


def wire_verdict(runs: Mapping[str, Mapping[str, Any]], needles: Mapping[str, str]) -> pd.DataFrame:
    """One row per sslmode of :func:`relayed_session` results: TLS in use, and for each ``needles`` label
    whether its text crossed the wire readable."""
    return pd.DataFrame([{"sslmode": mode, "TLS in use": run["tls"],
                          **{label: text.encode() in run["all"] for label, text in needles.items()}}
                         for mode, run in runs.items()])


def tcpdump_session(lab: LabServer, sslmode: str, *, user: str, password: str, setup: Sequence[str] = GUIDE_SETUP,
                    query: str = GUIDE_QUERY, grep: str = "passw0rd") -> dict[str, Any]:
    """The same session captured the guide's way (``tcpdump -A``): whether ``Passw0rd`` and the role's
    password are in the capture, and the dump lines matching ``grep`` (case-insensitive)."""
    from .client import session

    with TcpdumpCapture(lab.port) as cap, session(lab, sslmode=sslmode, user=user, password=password) as conn:
        _run_guide_session(conn, setup, query, lambda: None)
    try:
        lines = [line for line in cap.ascii_dump(max_lines=400).splitlines() if grep in line.lower()]
        return {"sslmode": sslmode, "'Passw0rd' in pcap": cap.contains("Passw0rd"),
                "role password in pcap": cap.contains(password), "lines matching passw0rd": len(lines),
                "lines": lines}
    finally:
        cap.cleanup()
