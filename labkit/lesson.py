"""What every notebook does first and last: check its parameters, get a lab and a PKI, clean up.

A notebook's ``parameters`` cell holds plain values (papermill overrides them); the next cell calls
:func:`begin`, which validates every value *before* anything is started or written, so a bad parameter
fails at once with a message naming it and the allowed values. The lab starts from a clean configuration
(lesson settings and pg_hba rules of a previous lesson are cleared), so each notebook runs standalone.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
import fcntl
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from . import i18n, paths, roles as lab_roles, validate
from .ca import KEY_TYPES
from .doctor import client_facts
from .errors import InvalidValue, LabkitError, WorkspaceError
from .handshake import VERSIONS as TLS_VERSIONS
from .pki import LabPKI
from .report import record_fact
from .server import LabServer

__all__ = ["COURSE_ROLES", "TLS_VERSIONS", "Lesson", "begin", "check_bool", "check_choice", "check_int"]

COURSE_ROLES: tuple[str, ...] = ("conssl", "reporter")


class _Written(str):
    """A value as the user writes it (e.g. ``0o644``), shown without quotes in an error."""

    def __repr__(self) -> str:
        return str(self)


def check_choice(name: str, value: object, allowed: Iterable[object], *,
                 show: Callable[[Any], str] | None = None) -> Any:
    """A lesson knob that must be one of ``allowed``. ``show`` writes the value and the choices in the error
    the way the user writes them (``show=oct`` for file modes, which Python holds as decimal ints)."""
    options = tuple(allowed)
    if value not in options:
        if show is None:
            raise InvalidValue(name, value, options)
        written = _Written(show(value)) if isinstance(value, int) and not isinstance(value, bool) else value
        raise InvalidValue(name, written, ", ".join(show(option) for option in options))
    return value


def check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(name, value, "True or False")
    return value


def check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidValue(name, value, f"an integer from {low} to {high}")
    return value


@dataclass
class Lesson:
    """A started lesson: the lab server, the PKI, and what to undo at the end."""

    lab: LabServer
    pki: LabPKI
    keep_server: bool
    roles: dict[str, bool] = field(default_factory=dict)
    lock: IO[str] | None = None  # held while the lesson runs, so two open notebooks never share a lab

    def ensure_role(self, name: str, *, superuser: bool = False) -> None:
        """Create (or refresh) a login role whose password is generated and kept in the workspace secrets."""
        lab_roles.ensure_role(self.lab, name, superuser=superuser)
        self.roles[name] = superuser

    def password(self, role: str) -> str:
        """The generated password of a course role (pass it to attempts; never print it)."""
        if role != "postgres" and role not in self.roles:
            raise InvalidValue("role", role, tuple(self.roles) or ("(no roles created yet)",),
                               "call lesson.ensure_role() first")
        return lab_roles.role_password(self.lab, role)

    def finish(self) -> str:
        """Stop the lab unless the notebook was told to keep it; return what happened (for the last cell)."""
        self.lab.reset_config()
        if self.keep_server:
            self.lab.reload()
            self.lab.close()
            self._release()
            return f"server kept running on {self.lab.host}:{self.lab.port} (keep_server=True)"
        self.lab.down()
        self._release()
        return "server stopped and removed"

    def _release(self) -> None:
        if self.lock is not None:
            self.lock.close()
            self.lock = None


def _claim_workspace(given: Path | None) -> tuple[Path, IO[str] | None]:
    """The lesson's workspace, locked for this process.

    An explicit workspace is used as given (and waited for if another lesson holds it). Without one, the
    default ``course`` workspace is used unless another open notebook holds it, in which case the next
    free ``course-2``, ``course-3``... is taken: two notebooks open at once never reconfigure each
    other's server. The lock is an flock, so a kernel that dies releases it.
    """
    candidates = [given] if given else [paths.default_workspace("course" if n == 1 else f"course-{n}")
                                        for n in range(1, 9)]
    for folder in candidates:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle = open(folder / ".lesson.lock", "w")  # noqa: SIM115 - kept open for the lesson's lifetime
        except OSError as exc:
            raise WorkspaceError(f"workspace {str(folder)!r} is not writable: {exc.strerror}",
                                 "pass a folder you can write to as workspace") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if given else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.close()
            continue
        return folder, handle
    raise LabkitError("eight lessons already hold the default workspaces",
                      "finish a running notebook, or pass workspace= explicitly")


def _show_whole_texts() -> None:
    """Lesson tables show error texts whole: a truncated message hides the words the lesson is about."""
    import pandas as pd

    pd.set_option("display.max_colwidth", None)


def begin(*, backend: str = "auto", pg_version: object = 16, workspace: str | Path | None = None,
          key_type: str = "ecdsa-p256", keep_server: bool = False, server_names: tuple[str, ...] = ("localhost",
                                                                                                   "127.0.0.1"),
          roles: Mapping[str, bool] | None = None, port: int | None = None, lang: str = "en",
          server_lang: str = "en") -> Lesson:
    """Validate the common parameters, start (or reuse) the lab, lay out the PKI and the course roles.

    The course roles are not superusers (the guide makes ``conssl`` one; no lesson needs it): on a shared
    machine a superuser could read every file the server's account can, the keys of other labs included.
    ``port`` asks for a TCP port (default: 5416 or a free one). ``lang`` is the edition being read (what the
    display helpers show); ``server_lang`` the language of the server's own messages (``es``: Debian's
    PostgreSQL 15 on the local backend, with the es_ES.UTF-8 locale; see :mod:`labkit.server_lang`)."""
    i18n.check_language(lang)
    i18n.check_language(server_lang, name="server_lang")
    validate.backend(backend)
    major = validate.pg_major(pg_version)
    check_choice("key_type", key_type, KEY_TYPES)
    check_bool("keep_server", keep_server)
    if workspace is not None and not isinstance(workspace, (str, Path)):
        raise InvalidValue("workspace", workspace, "a folder path, or None for the default")
    i18n.set_language(lang)
    from .tables import show_frames  # pandas: loaded when a lesson begins, not by ``import labkit``

    show_frames(lang)
    folder, lock = _claim_workspace(Path(workspace) if workspace else None)
    _show_whole_texts()
    lab = LabServer.up(folder, backend=backend, pg_version=major, port=port, server_lang=server_lang)
    lab.reset_config()
    lab.reload()
    pki = LabPKI.ensure(lab.workspace.pki_dir, key_type=key_type, server_names=tuple(server_names),
                        client_roles=COURSE_ROLES)
    lesson = Lesson(lab=lab, pki=pki, keep_server=keep_server, lock=lock)
    for role, superuser in (roles if roles is not None else {"conssl": False, "reporter": False}).items():
        lesson.ensure_role(role, superuser=superuser)
    facts = lab.facts()
    for name in ("backend", "server_version", "ssl_library", "server_openssl"):
        record_fact(name, facts[name])
    for name, value in client_facts().items():
        record_fact(name, value)
    record_fact("key_type", key_type)
    return lesson
