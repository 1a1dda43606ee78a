"""Errors labkit raises.

Every error carries a one-line ``message`` (what went wrong, naming the bad value with ``!r``) and a
``hint`` (what to do next). Notebooks and the CLI show both; nothing else should need a traceback.
"""
from __future__ import annotations

from collections.abc import Iterable


class LabkitError(Exception):
    """Base class: a message for the user plus a hint on how to fix it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  hint: {self.hint}"


class InvalidValue(LabkitError, ValueError):
    """A value given by the user is not one labkit accepts; raised before anything changes."""

    def __init__(self, name: str, value: object, allowed: str | Iterable[object], hint: str | None = None) -> None:
        allowed_text = allowed if isinstance(allowed, str) else ", ".join(repr(a) for a in allowed)
        super().__init__(f"invalid {name}: {value!r}; allowed: {allowed_text}", hint)
        self.name = name
        self.value = value
        self.allowed = allowed_text


class BinariesNotFound(LabkitError):
    """No usable PostgreSQL installation was found for the asked version."""


class BinariesUnsuitable(LabkitError):
    """An installation was found but cannot serve the course (no OpenSSL, no sslinfo)."""


class DockerUnavailable(LabkitError):
    """The Docker engine does not answer, or the image cannot be had."""


class PortInUse(LabkitError):
    """The asked TCP port is taken on 127.0.0.1."""


class WorkspaceError(LabkitError):
    """The lab workspace cannot be created, written or reached by the server account."""


class ServerStartError(LabkitError):
    """The server did not become ready; the message carries the last log lines."""


class ServerCommandError(LabkitError):
    """A server-side step (SQL, file delivery, reload) failed."""
