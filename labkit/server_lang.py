"""The language a lab server writes its own messages in (``lc_messages``), and whether it can.

Why a module of its own: DBAs in the guide's audience often run servers that log in Spanish
(``lc_messages = 'es_ES.UTF-8'``), and a lesson that teaches reading the server log should be able to show
those words. The lab writes ``lc_messages = 'C'`` by default (predictable English); ``server_lang="es"``
asks for Spanish. That works only where two things exist, and both are checked here *before* the lab is
changed, so a missing piece fails with the name of the build or locale and the fix:

- the build's message catalogue, ``<localedir>/es/LC_MESSAGES/postgres-<major>.mo``. Measured on this
  project's machines: Debian's PostgreSQL 15 (``--enable-nls``) ships it; the npm builds in labkit's cache
  (16, 17 and 18 checked) are built without NLS (no gettext symbols, no ``share/locale``) and the offline Docker images carry
  no catalogues and no Spanish locale;
- the operating system's locale ``es_ES.UTF-8`` (``locale -a``), which a fresh machine lacks until
  ``locale-gen`` made it.

Only the *server's* messages change: what libpq itself prints (``connection to server ... failed``,
``SSL error: ...``, OpenSSL's reasons) stays English, whatever the server's language. Messages the server
sends the client (``FATAL: ...``) come in the server's language.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import binaries
from .errors import LabkitError
from .i18n import check_language

__all__ = ["LC_MESSAGES", "SPANISH_LOCALE", "LOCALE_FIX", "SpanishSupport", "check_available", "lc_messages",
           "os_has_locale", "spanish_catalogue", "support_rows"]

SPANISH_LOCALE = "es_ES.UTF-8"
LC_MESSAGES: dict[str, str] = {"en": "C", "es": SPANISH_LOCALE}
"""The ``lc_messages`` value written for each language."""

LOCALE_FIX = ("as root: apt-get install locales && sed -i \"s/^# *es_ES.UTF-8/es_ES.UTF-8/\" /etc/locale.gen "
              "&& locale-gen")
"""The step that makes the Spanish locale exist (what .ci/run and ./lab do on a fresh machine)."""


def lc_messages(lang: str) -> str:
    """The ``lc_messages`` value for ``lang`` (checked: ``en`` or ``es``)."""
    return LC_MESSAGES[check_language(lang, name="server_lang")]


def _normalised(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


@lru_cache(maxsize=4)
def os_has_locale(name: str = SPANISH_LOCALE) -> bool:
    """Whether the operating system has locale ``name`` (``locale -a`` writes ``es_ES.utf8``)."""
    try:
        listed = subprocess.run(["locale", "-a"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return _normalised(name) in {_normalised(line.strip()) for line in listed.splitlines()}


def spanish_catalogue(bin_dir: str | Path, major: int) -> Path | None:
    """The build's Spanish message catalogue (``postgres-<major>.mo``), or None when it has none."""
    found = binaries.locale_dir(Path(bin_dir)) / "es" / "LC_MESSAGES" / f"postgres-{major}.mo"
    return found if found.is_file() else None


@dataclass(frozen=True)
class SpanishSupport:
    """Whether one build can log in Spanish here, and why not."""

    bin_dir: str
    major: int
    catalogue: Path | None
    locale: bool

    @property
    def ok(self) -> bool:
        return self.catalogue is not None and self.locale


def check_available(lang: str, *, backend: str, major: int, bin_dir: str | Path | None) -> None:
    """Nothing when the lab can write its messages in ``lang``; else a :class:`LabkitError` naming what is
    missing (the backend, the build, the locale) and how to get it. English always works."""
    if check_language(lang, name="server_lang") == "en":
        return
    if backend != "local":
        raise LabkitError(
            f"server_lang={lang!r} needs a server build with Spanish messages; the {backend} images have no "
            f"message catalogues and no {SPANISH_LOCALE} locale",
            "use backend='local' with pg_version=15 (Debian's build ships them), or server_lang='en'")
    if bin_dir is None or spanish_catalogue(bin_dir, major) is None:
        raise LabkitError(
            f"server_lang={lang!r}: the PostgreSQL {major} build in {str(bin_dir)!r} has no Spanish message "
            f"catalogue (es/LC_MESSAGES/postgres-{major}.mo; the npm builds are made without NLS)",
            "pick pg_version=15 with Debian's build (apt-get install postgresql-15), or server_lang='en'")
    if not os_has_locale(SPANISH_LOCALE):
        raise LabkitError(f"server_lang={lang!r}: the operating system has no {SPANISH_LOCALE} locale "
                          "(`locale -a` does not list it)", LOCALE_FIX)


def support_rows() -> list[SpanishSupport]:
    """Every local build labkit finds, with whether it can log in Spanish (for `labkit doctor`)."""
    locale = os_has_locale(SPANISH_LOCALE)
    return [SpanishSupport(str(inst.bin_dir), inst.major, spanish_catalogue(inst.bin_dir, inst.major), locale)
            for inst in binaries.list_installations()]
