"""Which server-log lines belong to one client attempt, collected as soon as the server has logged them.

Why a module of its own: :func:`labkit.client.attempt` (libpq) and :mod:`labkit.handshake`'s raw probes need
the server's words for *this* connection only, while other backends (labkit's admin channel, a neighbour's
attempt) write to the same log at the same moment. Lines are grouped by backend pid, the attempt's backends
are those that logged a TCP ``connection received``, and the wait is bounded: a backend logs a handshake
the client aborted a few ms after the client gave up, and for some failures PostgreSQL logs nothing more.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import LabServer

__all__ = ["LOG_WAIT_SECONDS", "collect_handshake_log", "collect_log"]

LOG_WAIT_SECONDS = 0.5  # at most this long for a failed attempt's server-log lines (a few ms typically)

# ------------------------------------------------------------------------------------------------------

_PID = re.compile(r"\[(\d+)\] ")
# English, then the words of a server logging in Spanish (lc_messages, labkit.server_lang)
_RECEIVED = re.compile(r"(?:connection received|conexión recibida): host=(?!\[local\])")
_TERMINAL = re.compile(r"connection authorized|FATAL:|PANIC:|could not accept SSL connection|without ALPN|"
                       r"could not receive data from client|incomplete startup packet|"
                       r"could not send data to client|"
                       r"invalid length of startup packet|"  # a server before 17 reading a ClientHello (direct TLS)
                       r"conexión autorizada|no se pudo aceptar una conexión SSL|no se pudo recibir datos del cliente|"
                       r"el paquete de inicio está incompleto|no se pudo enviar datos al cliente|"
                       r"paquete de inicio tiene largo incorrecto")
# Client failures after which the server has nothing more to log (it logged "connection received" before
# it answered, so the line is already there): it answered 'N' to the SSL request (libpq's and
# node-postgres's words), the client closed after a completed handshake (host name check, a certificate
# without any name), or it hung up when asked for a password it did not have, for an authentication method
# its require_auth refuses or without the channel binding it requires -- PostgreSQL deliberately logs none
# of these (psql's first, password-less try looks the same). Measured: each left only "connection received".
_SERVER_SILENT = re.compile(r"server does not support SSL, but SSL was required|does not match host name|"
                            r"does not support SSL connections|could not get server's host name|"
                            r"fe_sendauth: no password supplied|authentication method requirement .* failed|"
                            r"channel binding required")
# Client failures where no TCP conversation with the server took place (libpq refused the options).
_NOT_REACHED = re.compile(r"Connection refused|timeout expired|could not translate host name|"
                          r"Network is unreachable|No route to host|invalid connection option|invalid \w+ value:")


def _group_log(text: str) -> dict[int, list[str]]:
    """Log lines by backend pid; tab-indented continuation lines stay with the line above."""
    groups: dict[int, list[str]] = {}
    last: int | None = None
    for line in text.splitlines():
        if line.startswith(("\t", " ")) and last is not None:
            groups[last].append(line)
            continue
        found = _PID.search(line[:80])
        last = int(found.group(1)) if found else None
        if last is not None:
            groups.setdefault(last, []).append(line)
    return groups


def _attempt_pids(groups: Mapping[int, list[str]], admin_user: str | None = None) -> list[int]:
    """Backends that received a TCP connection in the window, less labkit's own admin connections (the
    Docker backend's admin channel is TCP too, and the container log may deliver an earlier admin
    connection's lines after the mark was taken)."""
    def is_admin(lines: list[str]) -> bool:
        return admin_user is not None and any(f" {admin_user}@" in line or f'identity="{admin_user}"' in line
                                              for line in lines)

    return [pid for pid, lines in groups.items()
            if any(_RECEIVED.search(line) for line in lines) and not is_admin(lines)]


def _admin_tcp_user(lab: LabServer) -> str | None:
    """The admin role when the admin channel is TCP (Docker), else None (a Unix socket logs as [local])."""
    info = lab.backend.admin_conninfo()
    return None if str(info.get("host", "")).startswith("/") else str(info.get("user"))


def _ended(groups: Mapping[int, list[str]], pids: list[int]) -> bool:
    """Every one of these backends has logged how its connection ended."""
    return all(any(_TERMINAL.search(line) for line in groups[pid]) for pid in pids)


def _log_done(groups: Mapping[int, list[str]], connected: bool, own_pid: int | None, client_text: str,
              admin_user: str | None = None) -> bool:
    pids = _attempt_pids(groups, admin_user)
    finished = _ended(groups, pids)
    if connected:
        return own_pid in pids and finished
    if _SERVER_SILENT.search(client_text):
        return True
    if "connection to server at" not in client_text or _NOT_REACHED.search(client_text):
        return True  # failed before talking to the server (bad option, nothing listening)
    return bool(pids) and finished


def _poll(lab: LabServer, mark: int, wait: float, done: Callable[[dict[int, list[str]], str | None], bool]) -> str:
    """The attempt's lines once ``done(groups, admin_user)`` holds or ``wait`` seconds have passed."""
    deadline = time.monotonic() + wait
    delay = 0.001
    admin_user = _admin_tcp_user(lab)
    while True:
        groups = _group_log(lab.log_since(mark))
        if done(groups, admin_user) or time.monotonic() >= deadline:
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.02)
    return "\n".join(line for pid in _attempt_pids(groups, admin_user) for line in groups[pid])


def collect_log(lab: LabServer, mark: int, connected: bool, own_pid: int | None, client_text: str,
                wait: float = LOG_WAIT_SECONDS) -> str:
    """This libpq attempt's server-log lines. A backend logs a handshake the client aborted a few ms after
    the client gave up, so poll (bounded by ``wait``) until every backend of the attempt has logged its end."""
    return _poll(lab, mark, wait, lambda groups, admin: _log_done(groups, connected, own_pid, client_text, admin))


def collect_handshake_log(lab: LabServer, mark: int, wait: float = LOG_WAIT_SECONDS) -> str:
    """The server-log lines of a raw handshake (:mod:`labkit.handshake`) that reached the server and was
    refused or cut short: those of the backends that received a TCP connection since ``mark``, less labkit's
    admin connections, once each has logged its end. Not every line since the mark: the Docker backend's
    log pipe delivers an earlier admin connection's lines late ("connection authenticated ... labkit_admin"
    was once shown as the server's answer to a TLS 1.0 probe, measured in CI)."""
    def done(groups: dict[int, list[str]], admin_user: str | None) -> bool:
        pids = _attempt_pids(groups, admin_user)
        return bool(pids) and _ended(groups, pids)

    return _poll(lab, mark, wait, done)
