"""Which language a learner reads: English (the course's source language) or Spanish (the guide's).

Why a module of its own: code cells are the same in both editions of a lesson, so the language cannot be
written into them. The parameters cell carries ``lang`` ("en" or "es"), ``lk.begin(lang=...)`` records it
here, and every room that shows words to a learner (``tables`` headings and verdict words, the catalogue's
causes and fixes, the report index) asks :func:`current_language`. Data never changes language: frames,
catalogue keys and asserted values stay English in both editions; only what is displayed is translated.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

from .errors import InvalidValue

__all__ = ["LANGUAGES", "check_language", "current_language", "is_identifier", "phrase", "set_language", "term",
           "terms", "word"]

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


# --------------------------------------------------------------------------------------------------------
# Words a learner reads in tables and plots (labkit/data/terms_es.json)
# --------------------------------------------------------------------------------------------------------

TERMS_FILE = "terms_es.json"
VERBATIM: frozenset[str] = frozenset({
    "", "psql", "ssl", "sslmode", "sslrootcert", "disable", "allow", "prefer", "require", "verify-ca",
    "verify-full", "scram", "tls", "cert", "plain", "DN", "OpenSSL", "PostgreSQL", "HelloRetryRequest", "SSLv2",
    "SSLv3", "TLSv1", "cert-client", "plaintext-client", "tls12-capped", "tls13-client", "sans", "auth", "bundle",
    "cipher", "datname", "usename", "sourcefile", "sourceline", "GS2 header", "TLS", "trust", "password", "!password",
    "none",
})
"""Headings that are identifiers a reader types or looks up (sslmode values, client labels, catalogue columns,
product names): shown verbatim in both editions."""
_IDENTIFIER = re.compile(r"^(?:[^\s]*[_./=':\d][^\s]*|\d.*)$")


def is_identifier(text: str) -> bool:
    """True for a heading that stays verbatim: one word holding ``_``, ``.``, ``/``, ``=``, ``:``, a quote or
    a digit (a setting, column, file or version name), a label starting with a digit (a version such as
    ``16.4 Debian``), or one of :data:`VERBATIM`."""
    return text in VERBATIM or bool(_IDENTIFIER.match(text))


@lru_cache(maxsize=1)
def terms() -> dict[str, dict[str, str]]:
    """The Spanish terms table: ``{"headings"|"values"|"report": {english: spanish}}`` (``report``: the
    lab report's own words, which :func:`phrase` reads)."""
    text = resources.files("labkit").joinpath("data").joinpath(TERMS_FILE).read_text(encoding="utf-8")
    data = json.loads(text)
    return {section: dict(data[section]) for section in ("headings", "values", "report")}


def term(text: str, lang: str | None = None) -> str:
    """A heading, index label or plot label as the edition shows it: Spanish from the terms table when the
    edition is Spanish and the table knows it, else ``text`` unchanged (identifiers always)."""
    if (lang or _current) != "es" or not isinstance(text, str):
        return text
    table = terms()
    return table["headings"].get(text) or table["values"].get(text) or text


def phrase(text: str, lang: str | None = None) -> str:
    """One of the lab report's own phrases (headings, status words, environment labels) in ``lang``
    (default: the current edition); a phrase the table lacks stays English."""
    if (lang or _current) != "es":
        return text
    return terms()["report"].get(text, text)


def word(value: Any, lang: str | None = None) -> Any:
    """A cell value as the edition shows it: in Spanish, True/False as sí/no and the verdict words of the
    terms table (accepted, refused, plaintext, no TLS ...) translated; any other value unchanged."""
    if (lang or _current) != "es":
        return value
    if isinstance(value, bool) or type(value).__name__ == "bool_":  # numpy booleans too
        return terms()["values"][str(bool(value))]
    if isinstance(value, str):
        return terms()["values"].get(value, value)
    return value
