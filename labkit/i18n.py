"""Which language a learner reads: English (the course's source language) or Spanish (the guide's).

Why a module of its own: code cells are the same in both editions of a lesson, so the language cannot be
written into them. The parameters cell carries ``lang`` ("en" or "es"), ``lk.begin(lang=...)`` records it
here, and every room that shows words to a learner (``tables`` headings and verdict words, the catalogue's
causes and fixes, the report index) asks :func:`current_language`. Data never changes language: frames,
catalogue keys and asserted values stay English in both editions; only what is displayed is translated.
"""
from __future__ import annotations

from .errors import InvalidValue

__all__ = ["LANGUAGES", "check_language", "current_language", "set_language"]

LANGUAGES: tuple[str, ...] = ("en", "es")
"""The editions: English first (the source), then Spanish."""

_current = "en"


def check_language(value: object, *, name: str = "lang") -> str:
    """``value`` if it names an edition, else :class:`InvalidValue` naming it and the choices."""
    if not isinstance(value, str) or value not in LANGUAGES:
        raise InvalidValue(name, value, " or ".join(repr(lang) for lang in LANGUAGES))
    return value


def set_language(lang: str) -> None:
    """Make ``lang`` the language every display helper uses from now on in this process."""
    global _current
    _current = check_language(lang)


def current_language() -> str:
    """The language set by :func:`set_language` (``lk.begin(lang=...)``); English until then."""
    return _current
