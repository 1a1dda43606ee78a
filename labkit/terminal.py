"""How the `labkit` command writes to a terminal: width, colour, and errors a person can read.

Why this module exists: the command's output is read in 80-100 column terminals, in CI logs and by
scripts. So text is wrapped to at most :data:`MAX_WIDTH` columns, colour is used only on a terminal and
never when ``NO_COLOR`` is set (https://no-color.org), and an error is one short message with a hint;
the exception chain and traceback behind it are shown only under ``--verbose``.
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import textwrap
import traceback
from typing import TextIO

from .errors import LabkitError

MAX_WIDTH = 100
_STYLES = {"ok": "32", "bad": "31", "warn": "33", "bold": "1", "dim": "2"}


def width() -> int:
    """Columns to wrap at: the terminal's width, never more than :data:`MAX_WIDTH`."""
    return max(40, min(MAX_WIDTH, shutil.get_terminal_size((MAX_WIDTH, 24)).columns))


def colour_enabled(stream: TextIO) -> bool:
    """Colour only for a terminal that is not ``dumb``, and never with ``NO_COLOR`` set to anything."""
    if os.environ.get("NO_COLOR", "") != "":
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def paint(text: str, style: str, stream: TextIO | None = None) -> str:
    """``text`` in ``style`` (ok, bad, warn, bold, dim) when ``stream`` takes colour, else unchanged."""
    if not colour_enabled(stream or sys.stdout):
        return text
    return f"\033[{_STYLES[style]}m{text}\033[0m"


def wrap(text: str, indent: int = 0, first: str = "", columns: int | None = None) -> str:
    """``first`` followed by ``text`` wrapped so no line passes ``columns``; continuation lines indented.
    Long paths are broken only at a slash or a space, never inside a word, so they stay copyable."""
    cols = columns or width()
    lines = textwrap.wrap(text, width=cols, initial_indent=first, subsequent_indent=" " * indent,
                          break_long_words=False, break_on_hyphens=False) or [first.rstrip()]
    return "\n".join(lines)


def _oserror_in(exc: BaseException, depth: int = 0) -> OSError | None:
    """The innermost operating-system error behind ``exc`` (requests and urllib3 keep it in ``args``)."""
    if depth > 6:
        return None
    inner: list[BaseException] = [a for a in getattr(exc, "args", ()) if isinstance(a, BaseException)]
    inner += [e for e in (exc.__cause__, exc.__context__) if e is not None]
    for candidate in inner:
        found = _oserror_in(candidate, depth + 1)
        if found is not None:
            return found
    if isinstance(exc, OSError) and exc.strerror:
        return exc
    return None


_OS_ERROR_REPR = re.compile(r"\b[A-Z]\w*Error\((?:\d+, )?'([^']*)'\)")


def without_reprs(text: str) -> str:
    """``text`` with a trailing Python repr of an OS error (``...: ('Connection aborted.',
    FileNotFoundError(2, 'No such file or directory'))``) replaced by its plain words."""
    found = _OS_ERROR_REPR.search(text)
    if found is None:
        return text
    cut = text.find(": ")
    if cut < 0 or cut > found.start():
        cut = found.start()
    return f"{text[:cut]} ({found.group(1)})"


def short_message(exc: LabkitError) -> str:
    """The error's message without the raw text of the exception that caused it.

    Some messages carry their cause's ``str()`` (a Python repr such as ``('Connection aborted.',
    FileNotFoundError(2, ...))``). Here that part is replaced by the operating system's own words when one
    can be found (``No such file or directory``); the full text stays for ``--verbose``.
    """
    message = exc.message
    cause = exc.__cause__
    if cause is None:
        return message
    raw = " ".join(str(cause).split())
    for length in (len(raw), 300):
        fragment = raw[:length]
        if fragment and fragment in message:
            os_error = _oserror_in(cause)
            plain = os_error.strerror if os_error is not None else type(cause).__name__
            message = message.replace(f": {fragment}", f" ({plain})").replace(f"({fragment})", f"({plain})")
            break
    return message


def print_error(exc: BaseException, *, verbose: bool, stream: TextIO | None = None) -> None:
    """An error as ``labkit: error: ...`` + ``hint: ...``; the cause chain and traceback under --verbose."""
    out = stream or sys.stderr
    label = paint("labkit: error:", "bad", out)
    if isinstance(exc, LabkitError):
        text = exc.message if verbose else short_message(exc)
        hint = exc.hint
    elif isinstance(exc, PermissionError):
        where = f" {exc.filename!r}" if exc.filename else ""
        text = f"permission denied:{where}"
        hint = ("a folder of another user is in the way: set LABKIT_HOME (workspaces) and LABKIT_CACHE "
                "(PostgreSQL builds, templates) to folders you own, or run as the owner")
    elif isinstance(exc, OSError):
        where = f": {exc.filename!r}" if exc.filename else ""
        text = f"{exc.strerror or type(exc).__name__}{where}"
        hint = None
    else:
        text = f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        hint = "run again with --verbose for the traceback, and report it"
    lines = text.splitlines() or [""]
    print(f"{label} {lines[0]}", file=out)
    for line in lines[1:]:
        print(line, file=out)
    if hint:
        print(wrap(hint, indent=8, first="  hint: "), file=out)
    if verbose:
        print("details:", file=out)
        print("".join(traceback.format_exception(exc)).rstrip(), file=out)
    elif not isinstance(exc, LabkitError) or exc.__cause__ is not None:
        print("  (run with --verbose for the details)", file=out)
