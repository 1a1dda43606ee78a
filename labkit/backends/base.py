"""What a backend must provide so that :class:`labkit.server.LabServer` never branches on it.

A backend knows how to create, start and stop one PostgreSQL server, how to put files where that server
can read them, and how to read its log. Everything the lessons do (settings, pg_hba.conf, reloads, SQL)
is written once in ``LabServer`` on top of these few operations.
"""
from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ServerSpec:
    """What to start: chosen by the caller, recorded in the workspace so a later process can find it."""

    name: str  # lab name, unique per workspace; used for labels and container names
    workspace: Path  # the lab's folder on the host (state, PKI, local data dir)
    pg_major: int
    port: int  # TCP port on 127.0.0.1 where clients reach the server
    superuser_password: str  # for the `postgres` role; never printed
    admin_password: str  # for the `labkit_admin` role used by the admin channel
    image: str | None = None  # docker only
    bin_dir: Path | None = None  # local only
    extra: dict[str, Any] = field(default_factory=dict)


class Backend(abc.ABC):
    """One PostgreSQL server managed by one mechanism (local processes or a container)."""

    #: "local" or "docker"
    kind: str = "abstract"

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec

    # -- lifecycle -----------------------------------------------------------------------------------
    @abc.abstractmethod
    def create(self, base_conf: str, hba: str, files: dict[str, tuple[bytes, int]]) -> None:
        """Make a fresh data directory (or container) holding ``base_conf`` appended to postgresql.conf,
        ``hba`` as pg_hba.conf and ``files`` (server-relative path -> (content, mode)). Not started."""

    @abc.abstractmethod
    def exists(self) -> bool:
        """Whether a data directory / container for this lab already exists."""

    @abc.abstractmethod
    def start(self) -> None:
        """Start the server process; returns without waiting for readiness (LabServer probes it)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop the server (fast shutdown). Leaves the data directory / container for a later start."""

    @abc.abstractmethod
    def destroy(self) -> None:
        """Stop if running and remove every trace: processes, container, data directory."""

    @abc.abstractmethod
    def is_running(self) -> bool:
        """Whether the server process / container is alive (not whether it accepts connections)."""

    # -- files ---------------------------------------------------------------------------------------
    @abc.abstractmethod
    def server_path(self, relative: str) -> str:
        """Absolute path, as the server sees it, of a file below its data directory."""

    @abc.abstractmethod
    def write_file(self, relative: str, content: bytes, mode: int = 0o600) -> None:
        """Write a file below the data directory, owned by the server's account, with ``mode``."""

    @abc.abstractmethod
    def read_file(self, relative: str) -> bytes:
        """Read a file below the data directory."""

    @abc.abstractmethod
    def remove_file(self, relative: str) -> None:
        """Remove a file below the data directory (missing is fine)."""

    def write_files(self, files: Mapping[str, tuple[bytes, int]]) -> None:
        """Write several files (relative path -> content, mode) as :meth:`write_file` does. A backend where
        each file is a costly call overrides this with one call (Docker: one archive instead of one engine
        call of about 50 ms of CPU per file, measured on 2 cores)."""
        for relative, (content, mode) in files.items():
            self.write_file(relative, content, mode)

    def read_files(self, relatives: Sequence[str]) -> dict[str, bytes | None]:
        """Several files below the data directory, None for one that is not there (see :meth:`write_files`)."""
        found: dict[str, bytes | None] = {}
        for relative in relatives:
            try:
                found[relative] = self.read_file(relative)
            except FileNotFoundError:
                found[relative] = None
        return found

    # -- log -----------------------------------------------------------------------------------------
    @abc.abstractmethod
    def log_size(self) -> int:
        """A mark: how much server log exists now (bytes)."""

    @abc.abstractmethod
    def log_since(self, mark: int) -> str:
        """The server log written after ``mark``."""

    # -- connections ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def admin_conninfo(self) -> dict[str, Any]:
        """Keyword arguments for psycopg.connect() that reach the server through the admin channel,
        which lessons never lock (a Unix socket locally, a dedicated role in Docker)."""

    @abc.abstractmethod
    def admin_hba_lines(self) -> list[str]:
        """The pg_hba.conf lines that keep the admin channel open; LabServer writes them first."""

    @property
    def host(self) -> str:
        """Where clients connect: always loopback."""
        return "127.0.0.1"

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """Backend-specific facts for `labkit status` (pid or container id, data dir, image or bin dir)."""

    def server_openssl_banner(self) -> str | None:
        """OpenSSL's version line (version and build date) of the library the server is linked with, when
        the backend can tell (None otherwise)."""
        return None

    def server_openssl_version(self) -> str | None:
        """Only the version number of :meth:`server_openssl_banner` (``1.1.1w``)."""
        from ..binaries import version_of_banner

        return version_of_banner(self.server_openssl_banner())

    def move_port(self, port: int) -> bool:
        """Make the (stopped) server listen on ``port`` from its next start; False when the backend cannot
        (a container's published port is fixed when it is created)."""
        return False

    def listen_settings(self) -> dict[str, str]:
        """Settings that decide where the server listens; the backend owns them."""
        return {}
