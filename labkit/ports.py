"""Which TCP port a lab gets on 127.0.0.1 — and why a free port is only a hint.

A port checked free can be taken by another program (another lab, another user's job) before the
postmaster binds it. So a port is a lab's only once its server has bound it: :func:`choose_port` gives a
candidate, the server's own log says when the bind failed (:func:`bind_failure`), and
:meth:`labkit.server.LabServer.up` then tries another candidate, up to :data:`PORT_TRIES` times.
"""
from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterable

from . import validate
from .errors import PortInUse

DEFAULT_PORT = 5416  # the guide's port
PORT_TRIES = 8  # start-up attempts on other free ports when another process takes the chosen one first


def port_is_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:port (we try to bind it). Only a hint: another process may take
    the port before the server binds it, which :meth:`LabServer.up` survives by trying another."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Like PostgreSQL itself: connections of a stopped server lingering in TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_port(requested: int | None, avoid: Iterable[int] = ()) -> int:
    """The asked port (which must be free), else the guide's 5416 when free, else any free port; never one
    of ``avoid`` (ports lost to another process before, and those of this user's other labs, which may be
    restarting and so not listening for a moment)."""
    if requested is not None:
        port = validate.port(requested)
        if not port_is_free(port):
            raise PortInUse(f"port {port} on 127.0.0.1 is already in use",
                            "pick another with --port, or omit --port to let labkit choose a free one")
        return port
    avoided = set(avoid)
    if DEFAULT_PORT not in avoided and port_is_free(DEFAULT_PORT):
        return DEFAULT_PORT
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in avoided and port >= 1024:
            return port


def port_released(port: int, within: float) -> bool:
    """Whether ``port`` is free, allowing a server that has just died (killed with its kernel) the moment
    the operating system needs to close its listening socket."""
    deadline = time.monotonic() + within
    while not port_is_free(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# In English and as a lab logging in Spanish (server_lang="es") words it: PostgreSQL 15's catalogue, and the
# C library's Spanish for EADDRINUSE (tests/test_shared_machine.py makes a Spanish lab lose its port).
_BIND_FAILED = re.compile(r"could not bind IPv[46] address .*Address already in use|"
                          r"could not create any TCP/IP sockets|"
                          r"no se pudo enlazar a la dirección IPv[46] .*La dirección ya se está usando|"
                          r"no se pudo crear ningún socket TCP/IP")


def bind_failure(log: str) -> str | None:
    """The server's own words when it could not bind its port (another process took it), else None."""
    for line in log.splitlines():
        if _BIND_FAILED.search(line):
            return line.strip()
    return None
