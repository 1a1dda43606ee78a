"""A lab's file writes gathered into one backend call: what one change of the lab writes together.

Why a module of its own: one :func:`labkit.transaction.apply` writes up to three files (the TLS files,
labkit.conf, pg_hba.conf) through three :class:`~labkit.server.LabServer` methods, and on the Docker backend
every write is an archive put into the container -- about 60 ms of CPU each (dockerd re-executes itself to
unpack it), measured on 2 cores, where the local backend's write costs well under 1 ms. Gathered, the
change is one archive.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .backends.base import Backend

__all__ = ["LabWrites"]


class LabWrites:
    """Writes files below the data directory at once, or -- inside :meth:`together` -- at the block's end."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._pending: dict[str, tuple[bytes, int]] | None = None

    def write(self, files: Mapping[str, tuple[bytes, int]]) -> None:
        """Write (relative path -> content, mode) now, or record them when inside :meth:`together` (a later
        write of the same file wins)."""
        if self._pending is not None:
            self._pending.update(files)
        elif files:
            self.backend.write_files(dict(files))

    @contextmanager
    def together(self) -> Iterator[None]:
        """The files written inside go to the backend in one call as the block ends -- also when it raises,
        so that the files always say what the lab's state file records (a caller that rolls back writes the
        old contents after). Nested blocks join the outer one."""
        if self._pending is not None:
            yield
            return
        self._pending = {}
        try:
            yield
        finally:
            pending, self._pending = self._pending, None
            self.write(pending)

    def flush(self) -> None:
        """Write what is recorded now, so that a read inside :meth:`together` sees it."""
        if self._pending:
            pending, self._pending = self._pending, {}
            self.backend.write_files(pending)
