"""Small validators shared by the CLI, the notebooks' parameter cells and labkit's own API.

They raise :class:`~labkit.errors.InvalidValue` naming the parameter, the bad value and what is allowed,
so a mistake is reported before anything on disk or in the server changes.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from .errors import InvalidValue

T = TypeVar("T")

SUPPORTED_PG_MAJORS: tuple[int, ...] = (12, 13, 14, 15, 16, 17)
BACKENDS: tuple[str, ...] = ("auto", "local", "docker")


def choice(name: str, value: T, allowed: Iterable[T]) -> T:
    """Return ``value`` if it is one of ``allowed``; otherwise raise InvalidValue."""
    options = tuple(allowed)
    if value not in options:
        raise InvalidValue(name, value, options)
    return value


def pg_major(value: object, name: str = "pg_version") -> int:
    """Parse a PostgreSQL major version (``16``, ``"16"``, ``"16.4"``) and check it is supported."""
    allowed = f"{SUPPORTED_PG_MAJORS[0]}-{SUPPORTED_PG_MAJORS[-1]}"
    text = str(value).strip()
    head = text.split(".", 1)[0]
    if isinstance(value, bool) or not head.isdigit() or (text != head and not text.split(".", 1)[1].isdigit()):
        raise InvalidValue(name, value, allowed, "give a major version number such as 16")
    major = int(head)
    if major not in SUPPORTED_PG_MAJORS:
        raise InvalidValue(name, value, allowed, "PostgreSQL before 12 has no ssl_min_protocol_version; use 12 or newer")
    return major


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
    return choice(name, value, BACKENDS)  # type: ignore[arg-type]
