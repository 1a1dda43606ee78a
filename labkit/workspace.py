"""A lab's workspace: the folder that holds its state, secrets, PKI and (locally) its data directory.

``state.json`` records how the lab was started so a later process (another notebook, the CLI, a kernel
restarted after a crash) finds the same server. Secrets live in ``secrets/`` (0700, files 0600) and are
never printed. A registry entry under labkit's cache lets `labkit down --all` find every lab.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from . import paths, quoting
from .errors import InvalidValue, WorkspaceError

DEFAULT_MAX_CONNECTIONS = 120  # 100 clients at once, plus the admin channel and the reserved slots
#: The secret the admin channel logs in with (Docker: over TCP with this password; local: a Unix socket).
ADMIN_SECRET = "admin-password"

# Locks this process holds, per workspace: flock is per open file, so a second open() of the same lock file
# in one process would wait for itself (LabServer.up calls down() while holding the lock, for example).
_held: dict[Path, list[Any]] = {}
_held_guard = threading.Lock()


@dataclass
class LabState:
    """What `labkit up` decided; enough to reconnect to or tear down the lab."""

    backend: str
    pg_major: int
    port: int
    name: str
    image: str | None = None
    bin_dir: str | None = None
    created: float = field(default_factory=time.time)
    settings: dict[str, str] = field(default_factory=dict)  # lesson settings (labkit.conf)
    hba_rules: list[str] | None = None  # lesson pg_hba.conf rules; None = the default rules
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    port_fixed: bool = False  # the port was asked for: never moved to another one
    server_lang: str = "en"  # the language of the server's own messages (lc_messages), see server_lang.py
    recovered: bool = False  # rebuilt from the running server because state.json was missing or damaged

    @classmethod
    def from_json(cls, data: object) -> LabState:
        """A state read back from state.json; TypeError/ValueError when it is not one labkit wrote."""
        if not isinstance(data, dict):
            raise ValueError("state.json does not hold an object")
        known = {f.name for f in fields(cls)}
        state = cls(**{k: v for k, v in data.items() if k in known})
        if not isinstance(state.port, int) or not isinstance(state.pg_major, int) or state.backend not in ("local",
                                                                                                           "docker"):
            raise ValueError("state.json has no usable backend, port or major version")
        return state


class Workspace:
    """The folder of one lab."""

    def __init__(self, path: Path | str) -> None:
        if not isinstance(path, (str, Path)) or not str(path).strip():
            raise InvalidValue("workspace", path, "a folder path (leave it out for the default workspace)")
        # pg_ctl hands paths below the workspace to /bin/sh inside double quotes: refuse what stays special.
        quoting.double_quotable_path(path, "workspace")
        self.path = Path(path).expanduser().absolute()

    @contextlib.contextmanager
    def locked(self, timeout: float = 120) -> Iterator[None]:
        """Hold this workspace's lock (an flock on ``.labkit.lock``, so a killed process releases it):
        ``up``, ``down`` and ``reset`` of one workspace never run at once. Re-entrant within a process."""
        key = self.path
        with _held_guard:
            entry = _held.get(key)
            if entry is not None and entry[2] == threading.get_ident():
                entry[1] += 1
                nested = True
            else:
                nested = False
        if nested:
            try:
                yield
            finally:
                with _held_guard:
                    _held[key][1] -= 1
            return
        self.ensure()
        handle = open(self.path / ".labkit.lock", "w")  # noqa: SIM115 - closed below
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise WorkspaceError(f"workspace {str(self.path)!r} stayed locked for {timeout:.0f} s",
                                             "another labkit command is using it; wait for it, or stop it") from None
                    time.sleep(0.05)
            with _held_guard:
                _held[key] = [handle, 1, threading.get_ident()]
            yield
        finally:
            with _held_guard:
                if _held.get(key, [None])[0] is handle:
                    del _held[key]
            handle.close()

    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    @property
    def secrets_dir(self) -> Path:
        return self.path / "secrets"

    @property
    def pki_dir(self) -> Path:
        return self.path / "pki"

    @property
    def passfile(self) -> Path:
        """A libpq password file, so connection strings never carry the password."""
        return self.secrets_dir / "pgpass"

    def ensure(self) -> None:
        """Create the folder (and check it is writable) before anything else happens."""
        try:
            paths.prove_writable(self.path)
            self.secrets_dir.mkdir(mode=0o700, exist_ok=True)
            self.secrets_dir.chmod(0o700)
        except OSError as exc:
            raise WorkspaceError(f"workspace {str(self.path)!r} is not writable: {exc.strerror}",
                                 "pass --workspace with a folder you can write to") from None
        if paths.running_as_root():
            self.path.chmod(0o755)  # the unprivileged server account must traverse it

    def secret(self, name: str) -> str:
        """A generated secret, created once and kept 0600 in secrets/."""
        file = self.secrets_dir / name
        if file.exists():
            return file.read_text().strip()
        value = secrets.token_urlsafe(24)
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        return value

    def write_passfile(self, port: int, user: str, password: str) -> None:
        """Any port: the same lab is also reached through the capture relay on another port."""
        fd = os.open(self.passfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"127.0.0.1:*:*:{user}:{password}\nlocalhost:*:*:{user}:{password}\n")

    def load(self) -> LabState | None:
        """The recorded state, or None when there is none or it is damaged: then the caller must look for a
        running server itself (:meth:`labkit.server.LabServer.find_server`) before creating anything."""
        if not self.state_file.exists():
            return None
        try:
            return LabState.from_json(json.loads(self.state_file.read_text()))
        except (ValueError, TypeError, OSError):
            return None

    def save(self, state: LabState) -> None:
        paths.replace_file(self.state_file, json.dumps(asdict(state), indent=2).encode())
        self._register(state)

    def forget(self) -> None:
        self.state_file.unlink(missing_ok=True)
        self._registry_file().unlink(missing_ok=True)

    def _registry_file(self) -> Path:
        return paths.registry_dir() / f"{paths.short_hash(str(self.path), 16)}.json"

    def _register(self, state: LabState) -> None:
        try:
            paths.registry_dir().mkdir(parents=True, exist_ok=True)
            self._registry_file().write_text(json.dumps({"workspace": str(self.path), "backend": state.backend,
                                                         "port": state.port}))
        except OSError:
            pass  # the registry is a convenience for `down --all`; a lab works without it


def registered_workspaces() -> list[Path]:
    """Every workspace labkit started a lab in on this machine (for `labkit down --all`)."""
    result = []
    folder = paths.registry_dir()
    if folder.is_dir():
        for entry in sorted(folder.glob("*.json")):
            try:
                result.append(Path(json.loads(entry.read_text())["workspace"]))
            except (ValueError, KeyError, OSError):
                entry.unlink(missing_ok=True)
    return result


def registered_ports(exclude: Path | None = None) -> set[int]:
    """Ports recorded by this user's other labs that still exist: a lab being restarted is briefly not
    listening, and no new lab of ours should take its port in that moment."""
    ports: set[int] = set()
    folder = paths.registry_dir()
    if not folder.is_dir():
        return ports
    for entry in folder.glob("*.json"):
        try:
            data = json.loads(entry.read_text())
            workspace = Path(data["workspace"])
            if (exclude is None or workspace != exclude) and (workspace / "state.json").exists():
                ports.add(int(data["port"]))
        except (ValueError, KeyError, TypeError, OSError):
            continue
    return ports


def registry_entry_remove(workspace: Path) -> None:
    (paths.registry_dir() / f"{paths.short_hash(str(workspace), 16)}.json").unlink(missing_ok=True)


def load_any(workspace: Path) -> dict[str, Any] | None:
    ws = Workspace(workspace)
    state = ws.load()
    return asdict(state) if state else None
