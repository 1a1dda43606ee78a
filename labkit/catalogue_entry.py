"""One row of the error catalogue (:mod:`labkit.catalogue`): its patterns on each end, cause and fix in both
editions' languages, and the builder the table is written with.

Why apart from the table: the table is long and grows with every lesson; the row type and how a row is
made (English patterns plus the Spanish server wordings of :mod:`labkit.catalogue_es`) are read once.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from . import catalogue_es
from .i18n import current_language

__all__ = ["SIDES", "CatalogueEntry", "both", "entry"]

SIDES: tuple[str, ...] = ("client", "server log", "both")


@dataclass(frozen=True)
class CatalogueEntry:
    """One recognisable failure: how to spot it, why it happens, what to do.

    ``client`` patterns are matched against what the client printed, ``server`` patterns against the server
    log, both compiled and case-insensitive: the same words can mean the other party on the other end
    (``sslv3 alert certificate revoked`` *in the server log* is the client refusing the server's
    certificate). ``guide_ref`` names the section of the course guide that shows this error (empty when
    the guide does not: the entry is ours). ``cause`` and ``fix`` read in the edition's language
    (:func:`labkit.i18n.current_language`); both languages are kept (:mod:`labkit.catalogue_es`).
    """

    key: str
    error_class: str
    client: tuple[re.Pattern[str], ...]
    server: tuple[re.Pattern[str], ...]
    cause_en: str
    fix_en: str
    guide_ref: str = ""
    cause_es: str = ""
    fix_es: str = ""
    #: What the client's words alone cannot tell, checked on what they name (e.g. the key file's format).
    confirm: Callable[[str], bool] | None = field(default=None, compare=False)

    @property
    def cause(self) -> str:
        """Why it happens, in the language being read (English when no Spanish text exists)."""
        return (self.cause_es if current_language() == "es" else "") or self.cause_en

    @property
    def fix(self) -> str:
        """What to change, in the language being read (English when no Spanish text exists)."""
        return (self.fix_es if current_language() == "es" else "") or self.fix_en

    @property
    def side(self) -> str:
        """Where this entry looks: ``client``, ``server log`` or ``both``."""
        return "both" if self.client and self.server else ("client" if self.client else "server log")

    @property
    def patterns(self) -> tuple[re.Pattern[str], ...]:
        return self.client + tuple(p for p in self.server if p.pattern not in {c.pattern for c in self.client})

    def matched_side(self, client_text: str, server_log: str = "") -> str | None:
        """Which text named this entry (``client`` first), or None when neither does."""
        if client_text and any(p.search(client_text) for p in self.client) \
                and (self.confirm is None or self.confirm(client_text)):
            return "client"
        if server_log and any(p.search(server_log) for p in self.server):
            return "server log"
        return None

    def matches(self, client_text: str, server_log: str = "") -> bool:
        """Whether a client pattern matches the client's text or a server pattern the server log."""
        return self.matched_side(client_text, server_log) is not None


def entry(key: str, error_class: str, cause: str, fix: str, guide_ref: str = "", *,
           client: tuple[str, ...] = (), server: tuple[str, ...] = (),
           confirm: Callable[[str], bool] | None = None) -> CatalogueEntry:
    """One row: English patterns plus the Spanish server wordings (on both ends where the English ones are)."""
    if not client and not server:  # a typo in the table must fail at import, not classify nothing silently
        raise ValueError(f"catalogue entry {key!r} has no pattern")
    spanish = catalogue_es.SERVER_PATTERNS.get(key, ())
    if client and client == server:
        client = (*client, *spanish)
    server = (*server, *spanish)
    compiled = [tuple(re.compile(p, re.IGNORECASE) for p in group) for group in (client, server)]
    cause_es, fix_es = catalogue_es.TEXTS.get(key, ("", ""))
    return CatalogueEntry(key, error_class, compiled[0], compiled[1], cause, fix, guide_ref, cause_es, fix_es,
                          confirm)


def both(*patterns: str) -> dict[str, tuple[str, ...]]:
    """The same words on both ends: a file error libpq and the server word alike, a FATAL the client relays."""
    return {"client": patterns, "server": patterns}
