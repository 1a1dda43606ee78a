"""Change process environment variables for the length of a ``with`` block, then put them back.

Why one routine: libpq reads ``$HOME`` (for ``~/.postgresql``) and ``PGSSL*`` at connect time, and a
Jupyter kernel inherits its environment from whoever starts it, so both the client attempts and the lesson
runner must set a few variables around one call and restore them exactly -- including "was not set".
The environment is process-wide, so changes are serialised by one lock.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

__all__ = ["temporary_environment"]

_LOCK = threading.RLock()


@contextmanager
def temporary_environment(set_vars: Mapping[str, str] | None = None, unset: Iterable[str] = ()) -> Iterator[None]:
    """Set ``set_vars`` and remove ``unset`` from ``os.environ`` inside the block; afterwards every touched
    variable has its old value again (or is absent, if it was). Nested and concurrent uses are serialised."""
    changes = dict(set_vars or {})
    removed = [name for name in unset if name not in changes]
    with _LOCK:
        saved = {name: os.environ.get(name) for name in (*changes, *removed)}
        os.environ.update(changes)
        for name in removed:
            os.environ.pop(name, None)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
