"""A lab's workspace: the folder that holds its state, secrets, PKI and (locally) its data directory.

``state.json`` records how the lab was started so a later process (another notebook, the CLI, a kernel
restarted after a crash) finds the same server. Secrets live in ``secrets/`` (0700, files 0600) and are
never printed. A registry entry under labkit's cache lets `labkit down --all` find every lab.
"""
from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import paths
from .errors import WorkspaceError


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


class Workspace:
    """The folder of one lab."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path).expanduser().absolute()

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
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".write-test"
            probe.write_text("ok")
            probe.unlink()
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
        if not self.state_file.exists():
            return None
        try:
            return LabState(**json.loads(self.state_file.read_text()))
        except (ValueError, TypeError):
            return None  # a damaged state file is treated as no lab

    def save(self, state: LabState) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=2))
        tmp.replace(self.state_file)
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


def registry_entry_remove(workspace: Path) -> None:
    (paths.registry_dir() / f"{paths.short_hash(str(workspace), 16)}.json").unlink(missing_ok=True)


def load_any(workspace: Path) -> dict[str, Any] | None:
    ws = Workspace(workspace)
    state = ws.load()
    return asdict(state) if state else None
