"""`labkit doctor`: the guide's phase-1 prerequisites, checked on this machine, each with its fix."""
from __future__ import annotations

import datetime as dt
import re
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from . import binaries
from .terminal import without_reprs

OPTIONAL_PREFIXES: tuple[str, ...] = ("Docker", "psql", "Upstream support", "Spanish server messages")
"""Checks whose item starts so are optional: the course runs without Docker and without psql, on an
end-of-life major too (it only warns: such a server gets no more security fixes), and with English server
messages only."""

VERSIONING_POLICY = "https://www.postgresql.org/support/versioning/"
RELEASES: dict[int, tuple[dt.date, dt.date]] = {
    12: (dt.date(2019, 10, 3), dt.date(2024, 11, 21)),
    13: (dt.date(2020, 9, 24), dt.date(2025, 11, 13)),
    14: (dt.date(2021, 9, 30), dt.date(2026, 11, 12)),
    15: (dt.date(2022, 10, 13), dt.date(2027, 11, 11)),
    16: (dt.date(2023, 9, 14), dt.date(2028, 11, 9)),
    17: (dt.date(2024, 9, 26), dt.date(2029, 11, 8)),
    18: (dt.date(2025, 9, 25), dt.date(2030, 11, 14)),
}
"""First release and final (last) release of each major, from PostgreSQL's versioning policy
(:data:`VERSIONING_POLICY`): a major is supported for five years, then gets one last minor release and
is end-of-life. The final dates of majors still supported are the policy's planned ones."""


def upstream_support(major: int, today: dt.date | None = None) -> dict[str, object]:
    """Whether ``major`` is still supported upstream on ``today`` (default: this machine's date), with the
    dates it is judged by; the verdict comes from the calendar, not from a list of "old" majors."""
    first, final = RELEASES[major]
    today = today or dt.date.today()
    supported = today <= final
    return {"major": major, "first_release": first.isoformat(), "final_release": final.isoformat(),
            "supported": supported, "status": "supported" if supported else "end-of-life",
            "judged_on": today.isoformat(), "source": VERSIONING_POLICY}


def support_table(today: dt.date | None = None) -> pd.DataFrame:
    """Every major labkit runs, supported or end-of-life on ``today``."""
    return pd.DataFrame([upstream_support(m, today) for m in sorted(RELEASES)])


@dataclass
class Check:
    item: str
    status: str  # "OK" or "MISSING"
    found: str
    fix: str


def _version_at_least(text: str | None, minimum: tuple[int, ...]) -> bool:
    if not text:
        return False
    numbers = tuple(int(n) for n in re.findall(r"\d+", text)[: len(minimum)])
    return numbers >= minimum


def libpq_openssl_version() -> str | None:
    """The OpenSSL version inside the libpq that psycopg uses: that library, not Python's, makes the
    lessons' TLS handshakes (psycopg's binary wheel bundles its own copy)."""
    try:
        import psycopg
    except ImportError:
        return None
    candidates: list[Path] = []
    try:
        import psycopg_binary

        candidates += sorted((Path(psycopg_binary.__file__).parent.parent / "psycopg_binary.libs").glob("libcrypto*"))
    except ImportError:
        pass
    if not candidates:
        from ctypes.util import find_library

        libpq = find_library("pq")
        if libpq:
            linked = binaries._linked_libcrypto(Path(libpq)) if Path(libpq).is_absolute() else None
            candidates += [linked] if linked else []
    for library in candidates:
        version = binaries.openssl_version_in(library)
        if version:
            return version
    return None


def client_facts() -> dict[str, str | None]:
    """libpq and OpenSSL versions on the client side, for the lessons' environment tables and reports."""
    try:
        import psycopg

        number = psycopg.pq.version()
        libpq = f"{number // 10000}.{number % 10000}"
    except ImportError:
        libpq = None
    return {"libpq_version": libpq, "client_openssl": libpq_openssl_version(), "python_openssl": ssl.OPENSSL_VERSION}


def _libpq_openssl() -> Check:
    version = libpq_openssl_version()
    ok = _version_at_least(version, (1, 1, 1))
    return Check("OpenSSL in the client library (libpq)", "OK" if ok else "MISSING", version or "unknown",
                 "" if ok else "pip install --upgrade 'psycopg[binary]' (bundles a current libpq and OpenSSL)")


def _client_openssl() -> Check:
    text = ssl.OPENSSL_VERSION
    ok = _version_at_least(text.split()[1] if " " in text else text, (1, 1, 1))
    return Check("OpenSSL on the client side (Python ssl)", "OK" if ok else "MISSING", text,
                 "" if ok else "upgrade OpenSSL to 1.1.1 or newer (TLS 1.3 needs it)")


def _libpq() -> Check:
    try:
        import psycopg

        version = psycopg.pq.version()
        text = f"libpq {version // 10000}.{version % 10000} ({psycopg.pq.__impl__})"
        return Check("libpq (psycopg)", "OK", text, "")
    except Exception as exc:  # noqa: BLE001 - any import problem means the same fix
        return Check("libpq (psycopg)", "MISSING", str(exc), "pip install 'psycopg[binary]'")


def _server(major: int) -> list[Check]:
    checks: list[Check] = []
    try:
        inst = binaries.find(major)
    except Exception as exc:  # noqa: BLE001
        first = str(exc).splitlines()[0]
        return [Check(f"PostgreSQL {major} built with OpenSSL and sslinfo (local)", "MISSING", first,
                      f"labkit postgres install {major}  (or use the docker backend)")]
    checks.append(Check(f"PostgreSQL {major} (local)", "OK", f"{inst.version} in {inst.bin_dir}", ""))
    ok = _version_at_least(inst.openssl_version, (1, 1, 1))
    checks.append(Check("OpenSSL in the server (>= 1.1.1)", "OK" if ok else "MISSING",
                        inst.openssl_banner or inst.openssl_version or "unknown",
                        "" if ok else "use a build linked to OpenSSL 1.1.1+"))
    checks.append(Check("server built with SSL", "OK" if inst.openssl else "MISSING", str(inst.openssl),
                        "" if inst.openssl else "rebuild with --with-ssl=openssl"))
    checks.append(Check("sslinfo extension available", "OK" if inst.sslinfo else "MISSING", str(inst.sslinfo),
                        "" if inst.sslinfo else "install the contrib package"))
    return checks


def _support(major: int) -> Check:
    facts = upstream_support(major)
    supported = [m for m in sorted(RELEASES) if upstream_support(m)["supported"]]
    others = ", ".join(str(m) for m in supported)
    if facts["supported"]:
        return Check(f"Upstream support of PostgreSQL {major}", "OK",
                     f"supported until {facts['final_release']} (first released {facts['first_release']}); "
                     f"supported today ({facts['judged_on']}): {others}", "")
    return Check(f"Upstream support of PostgreSQL {major}", "EOL",
                 f"end-of-life: its final release was {facts['final_release']}, before today ({facts['judged_on']}); "
                 f"supported today: {others}",
                 f"fine for comparing versions; teach on a supported major (--pg-version {supported[-1]}) "
                 f"-- see {VERSIONING_POLICY}")


def _docker() -> Check:
    try:
        from .backends.docker_backend import DockerBackend

        answers, why = DockerBackend.engine_status()
    except Exception as exc:  # noqa: BLE001
        answers, why = False, str(exc)
    return Check("Docker engine", "OK" if answers else "MISSING", without_reprs(why),
                 "" if answers else "optional: start Docker to use the docker backend")


def _psql() -> Check:
    path = shutil.which("psql")
    if not path:
        return Check("psql client", "MISSING", "not on PATH",
                     "optional: install postgresql-client to type the commands shown in the lessons")
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    return Check("psql client", "OK", out, "")


def _spanish_messages() -> Check:
    """Which local builds can log in Spanish (``server_lang="es"``): a message catalogue and the OS locale."""
    from .server_lang import LOCALE_FIX, SPANISH_LOCALE, os_has_locale, support_rows

    rows = support_rows()
    able = [f"{r.major} ({r.bin_dir})" for r in rows if r.catalogue is not None]
    unable = [str(r.major) for r in sorted(rows, key=lambda r: r.major) if r.catalogue is None]
    locale = os_has_locale(SPANISH_LOCALE)
    found = (f"Spanish catalogue in: {', '.join(able) or 'no build'}; without (no NLS): "
             f"{', '.join(unable) or 'none'}; locale {SPANISH_LOCALE}: {'present' if locale else 'missing'}")
    if able and locale:
        return Check("Spanish server messages (server_lang='es')", "OK", found, "")
    fix = LOCALE_FIX if able else ("optional: install Debian's postgresql-15 (ships the Spanish catalogue) and "
                                   "use --pg-version 15 --backend local" + ("" if locale else f"; {LOCALE_FIX}"))
    return Check("Spanish server messages (server_lang='es')", "MISSING", found, fix)


def run_checks(major: int = 16) -> pd.DataFrame:
    """All checks as a table: item, status, what was found, how to fix it."""
    checks = [_client_openssl(), _libpq(), _libpq_openssl(), *_server(major), _support(major), _docker(), _psql(),
              _spanish_messages()]
    return pd.DataFrame([c.__dict__ for c in checks])
