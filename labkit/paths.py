"""Where labkit keeps things on this machine.

PostgreSQL refuses to run as root, so when labkit runs as root the server runs as an unprivileged account.
That account must be able to reach the binaries and the data directory, which rules out anything below
``/root`` (mode 0700). Root therefore gets system-wide locations; everyone else gets per-user ones.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import platformdirs


def running_as_root() -> bool:
    """True when labkit runs as root (CI and containers do)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def cache_dir() -> Path:
    """labkit's cache: downloaded PostgreSQL builds and initdb templates (``LABKIT_CACHE`` overrides)."""
    override = os.environ.get("LABKIT_CACHE")
    if override:
        return Path(override).expanduser().resolve()
    if running_as_root():
        return Path("/var/cache/labkit")
    return Path(platformdirs.user_cache_dir("labkit"))


def default_workspace_root() -> Path:
    """Parent folder of the default lab workspaces (``LABKIT_HOME`` overrides)."""
    override = os.environ.get("LABKIT_HOME")
    if override:
        return Path(override).expanduser().resolve()
    if running_as_root():
        return Path("/var/lib/labkit/labs")
    return Path(platformdirs.user_data_dir("labkit")) / "labs"


def default_workspace(name: str = "default") -> Path:
    """The workspace used when none is given."""
    return default_workspace_root() / name


def registry_dir() -> Path:
    """One small JSON file per lab started on this machine, so `labkit down --all` can find them all."""
    return cache_dir() / "labs"


def short_hash(text: str, length: int = 8) -> str:
    """A stable short id for a path, used in container and socket names."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]
