"""The lab PKI's file chores and name checks: an emptied directory with a fixed mode, one writer at a time.

Why apart from :mod:`labkit.pki`: these are the parts that know about the disk (ext4's behaviour on
truncation, advisory locks) and about PostgreSQL's role-name rules, not about the course's hierarchy.
"""
from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import InvalidValue, WorkspaceError

try:  # POSIX only; the lab runs PostgreSQL on Linux, but importing the module elsewhere should not fail.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = ["check_role", "check_roles", "empty_dir", "locked"]

_ROLE_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def check_role(role: object, param: str = "role") -> str:
    if not isinstance(role, str) or not _ROLE_RE.fullmatch(role):
        raise InvalidValue(
            param, role, "a PostgreSQL role name: lower-case letters, digits and _, not starting with a digit",
            "cert authentication matches the certificate's CN to the role name, so it must be a plain identifier",
        )
    return role


def check_roles(roles: object) -> tuple[str, ...]:
    allowed = "a non-empty tuple of distinct PostgreSQL role names"
    if isinstance(roles, (str, bytes)) or not isinstance(roles, Iterable):
        raise InvalidValue("client_roles", roles, allowed, "pass a tuple, e.g. ('conssl', 'reporter')")
    result = tuple(roles)
    if not result:
        raise InvalidValue("client_roles", result, allowed)
    for role in result:
        check_role(role, "client_roles")
    if len(set(result)) != len(result):
        raise InvalidValue("client_roles", result, allowed, "each role may appear only once")
    return result





def empty_dir(directory: Path, mode: int, keep: Iterable[str] = ()) -> None:
    """Make ``directory`` exist, empty (sub-directories named in ``keep`` excepted) and with ``mode``.

    Files are unlinked and later created anew rather than truncated in place or the directory removed:
    on ext4, truncating or renaming over a file with data forces that data to disk at close (the
    "auto_da_alloc" safety net), which made regeneration several times slower.
    """
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        directory.mkdir(parents=True, mode=mode)
        entries = []
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in keep:
                shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)
    if stat.S_IMODE(directory.stat().st_mode) != mode:  # mkdir's mode is filtered by the umask
        directory.chmod(mode)


@contextmanager
def locked(root: Path) -> Iterator[None]:
    """Serialise writers (two notebooks calling ensure on one workspace) with an advisory lock file."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    try:
        fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:
        raise WorkspaceError(f"no lab PKI under {str(root)!r}", "call LabPKI.ensure(root) first") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
