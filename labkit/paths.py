"""Where labkit keeps things on this machine.

PostgreSQL refuses to run as root, so when labkit runs as root the server runs as an unprivileged account.
That account must be able to reach the binaries and the data directory, which rules out anything below
``/root`` (mode 0700). Root therefore gets system-wide locations; everyone else gets per-user ones.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import platformdirs

from .errors import WorkspaceError


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


def ensure_writable(folder: Path, what: str, override: str) -> Path:
    """Create ``folder`` if needed and prove this user can write there, or explain whose it is.

    A non-root user pointed at root's cache (``LABKIT_CACHE=/var/cache/labkit``) would otherwise meet a raw
    PermissionError half-way through a download or an initdb.
    """
    try:
        prove_writable(folder)
    except OSError as exc:
        owner = _owner_of(folder)
        raise WorkspaceError(
            f"cannot write {what} {str(folder)!r}: {exc.strerror or exc}"
            + (f" (it belongs to {owner})" if owner else ""),
            f"set {override} to a folder you own, or run as that user",
        ) from None
    return folder


def prove_writable(folder: Path) -> None:
    """Create ``folder`` if needed and write (and remove) a file there, or raise the OSError saying why.

    The probe file has a name of its own (``tempfile``): with one fixed name, two processes preparing the
    same folder at once removed each other's probe and one was told the folder "is not writable".
    """
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder, prefix=".write-test-"):
        pass


def replace_file(path: Path, data: bytes, mode: int = 0o644, owner: tuple[int, int] | None = None) -> None:
    """Replace ``path`` whole, in one rename, with ``data``, ``mode`` (whatever the umask) and, given ``owner``
    (uid, gid), that owner. The temporary file is this call's own (``mkstemp``): with one fixed temporary
    name, two processes writing one file at once renamed each other's file away ("No such file or
    directory", seen with two ``labkit up`` of one workspace). A reader never sees half a file."""
    fd, written = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            os.fchmod(fd, mode)
            if owner is not None:
                os.fchown(fd, *owner)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(written, path)
    except BaseException:
        Path(written).unlink(missing_ok=True)
        raise


def _owner_of(path: Path) -> str | None:
    """The account owning ``path`` or its nearest existing parent (for error messages)."""
    import pwd

    for candidate in (path, *path.parents):
        try:
            uid = candidate.stat().st_uid
        except OSError:
            continue
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return f"uid {uid}"
    return None
