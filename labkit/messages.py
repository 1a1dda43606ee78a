"""What the server log and the client print, reduced to the words a lesson shows.

Why one module: a lesson compares its tables with nbval on two backends (local binaries and Docker), so a
message must read the same wherever the server runs. Raw texts carry timestamps, pids, ports, the client's
address (127.0.0.1 locally, the bridge gateway through Docker) and file paths. Every lesson cleans a log
line or a client error the same way, with the helpers here:

- :data:`LOG_PREFIX` -- the one pattern for labkit's ``log_line_prefix`` (``'%m [%p] %q%u@%d '``);
- :data:`ROUTINE` -- the one list of lines every start, stop, reload or connection writes;
- :data:`FAILURE_MARKERS` -- the one set of words by which a reload or restart says it did not take;
- :func:`gist`, :func:`server_phrase`, :func:`client_phrase`, :func:`log_lines`, :func:`log_messages` --
  the normalisers, all built from the same three steps (prefix off, address masked, paths cut).

The error catalogue (:mod:`labkit.catalogue`) matches the *raw* texts; these helpers only shape what is
shown.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FAILURE_MARKERS", "LEVELS", "LOG_PREFIX", "ROUTINE", "SIGHUP", "client_phrase", "failure_lines", "gist",
           "is_routine", "log_lines", "log_messages", "problem_lines", "reload_failed", "says", "server_phrase",
           "strip_log_prefix"]

LOG_PREFIX = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] (?:\S*@\S* )?")
"""labkit's ``log_line_prefix`` (``'%m [%p] %q%u@%d '``): timestamp, time zone, [pid], user@db for sessions."""

LEVELS = ("LOG", "FATAL", "PANIC", "ERROR", "WARNING", "DETAIL", "HINT", "CONTEXT")
SPANISH_LEVELS: dict[str, str] = {"DETALLE": "DETAIL", "CONTEXTO": "CONTEXT", "SENTENCIA": "STATEMENT"}
"""The levels a server logging in Spanish translates (the others it writes in English), and their English."""
_LEVEL = re.compile(r"\b(" + "|".join((*LEVELS, *SPANISH_LEVELS)) + r"):\s+")

# Each wording twice where a lab logs in Spanish (server_lang="es"): PostgreSQL 15's Spanish catalogue
# (es/LC_MESSAGES/postgres-15.mo), read with gettext -- tests/test_server_lang.py checks them against it.
ROUTINE = re.compile(
    r"connection (?:received|authorized|authenticated)|Connection matched|checkpoint|background worker|"
    r"database system|listening on|starting PostgreSQL|shut(?:ting)? ?down|aborting any active|redo |autovacuum|"
    r"terminating connection due to administrator command|"
    r'received (?:SIGHUP|fast shutdown)|parameter "[^"]+" (?:changed to|removed from configuration file)|'
    r"conexión (?:recibida|autorizada|autenticada)|La conexión coincidió con la línea|sistema de bases? de datos|"
    r"escuchando en|iniciando PostgreSQL|apagando|se recibió (?:SIGHUP|petición de apagado)|abortando transacciones|"
    r"proceso ayudante|empezando checkpoint|checkpoint completado|redo (?:listo|comienza)|"
    r"terminando la conexión debido a una orden del administrador|el parámetro «[^»]+» fue "
    r"cambiado a|parámetro «[^»]+» eliminado del archivo de configuración")
"""Lines every start, stop, reload or connection writes: left out wherever a lesson shows "what went wrong".
A stop also ends the sessions still open, each with a ``terminating connection due to administrator command``
line; whether a session a lesson had just closed is still there to get one is a matter of milliseconds, so
that line would come and go in a restart's log from one run to the next (seen in CI, lesson 33)."""

SIGHUP = re.compile(r"received SIGHUP|se recibió SIGHUP")
"""The postmaster's line that starts a reload (``received SIGHUP, reloading configuration files``)."""

_DETAIL_NOISE = re.compile(r"Failed certificate data|\bCONTEXTO?:")
"""Supporting lines (the certificate dump of PostgreSQL 16, the file position) that a one-line phrase skips."""

FAILURE_MARKERS: tuple[str, ...] = ("was not reloaded", "contains errors", "could not load",
                                     "no fue vuelto a cargar", "no fue vuelta a cargar", "contiene errores",
                                     "no se pudo cargar")
"""Words with which PostgreSQL says a reload or restart did not (fully) take: ``pg_hba.conf was not
reloaded``, ``SSL configuration was not reloaded``, ``configuration file ... contains errors``, ``could not
load pg_hba.conf`` / ``could not load private key file``. The server then keeps its previous configuration,
which is why ``pg_settings`` alone would not show the mistake. The Spanish server's words follow the
English ones (``pg_hba.conf no fue vuelto a cargar``, ``la configuración SSL no fue vuelta a cargar``,
``... contiene errores``, ``no se pudo cargar ...``)."""

IN_SPANISH: dict[str, str] = {
    "unaffected changes were applied": "los cambios no afectados fueron aplicados",
    "no changes were applied": "no se aplicó ningún cambio",
    "pg_hba.conf was not reloaded": "pg_hba.conf no fue vuelto a cargar",
    "SSL configuration was not reloaded": "la configuración SSL no fue vuelta a cargar",
    "contains errors": "contiene errores",
}
"""Phrases lessons look for in a reload's messages, as a server logging in Spanish writes them (PostgreSQL
15's catalogue; tests/test_server_lang.py reads them back from it)."""


def says(messages: str | Iterable[str], english: str) -> bool:
    """Whether a server message (or any of several) says ``english`` -- in English, or in the words of a
    server logging in Spanish (:data:`IN_SPANISH`), so a lesson's check holds whatever ``server_lang`` is."""
    wordings = [english, *([IN_SPANISH[english]] if english in IN_SPANISH else [])]
    texts = [messages] if isinstance(messages, str) else list(messages)
    return any(w in text for text in texts for w in wordings)


_CONNECTION_HEAD = re.compile(r'^connection to server at "[^"]*"(?: \([^)]*\))?, port \d+ failed:\s*')
_ADDRESS = re.compile(r'(host[= ]"?)\d{1,3}(?:\.\d{1,3}){3}("?)')
_ABS_PATH = re.compile(r"""(?<![\w.<])/(?:[^\s"'/]+/)+([^\s"'/]+)""")
_LIBPQ_HINT = re.compile(r";\s*file must have.*$")


def strip_log_prefix(line: str) -> str:
    """A log line without timestamp, pid and ``user@db``; a line in another format is returned stripped."""
    return LOG_PREFIX.sub("", line.strip())


def is_routine(line: str) -> bool:
    """Whether a log line is start/stop/reload/connection chatter (:data:`ROUTINE`)."""
    return bool(ROUTINE.search(line))


def _clean(line: str) -> str:
    """The three steps every normaliser takes: log prefix and client-connection head off, the client
    address written ``<client>``, absolute paths cut to the file name; blank space collapsed."""
    text = _CONNECTION_HEAD.sub("", strip_log_prefix(line))
    text = re.sub(r"^LOG:\s+", "", text)
    text = re.sub(r"^(FATAL|PANIC|ERROR|WARNING|DETAIL|DETALLE|HINT|CONTEXTO?):\s+", lambda m: m.group(1) + ": ", text)
    text = _ADDRESS.sub(lambda m: f"{m.group(1)}<client>{m.group(2)}", text)
    text = _ABS_PATH.sub(lambda m: m.group(1), text)
    return re.sub(r"\s+", " ", text).strip()


def gist(text: str | None, *, lines: int = 1) -> str:
    """The meaningful words of a client error or of server-log lines: the first ``lines`` non-empty lines,
    each cleaned the same way (no prefixes, ``<client>`` for the address, file names without folders)."""
    if not text:
        return ""
    out = [c for c in (_clean(raw) for raw in str(text).splitlines()) if c]
    return "\n".join(out[:lines])


def server_phrase(log: str | None) -> str:
    """The server's side of an attempt or reload in a few words: the lines that explain a failure (no
    routine chatter, no certificate dump), cleaned, each once, joined by `` / ``; ``(nothing logged)``
    when the server had nothing more to say than accepting the connection."""
    kept: list[str] = []
    for line in (log or "").splitlines():
        if not line.strip() or line.startswith(("\t", " ")) or is_routine(line) or _DETAIL_NOISE.search(line):
            continue
        text = _clean(line)
        if text and text not in kept:
            kept.append(text)
    return " / ".join(kept) if kept else "(nothing logged)"


def client_phrase(text: str | None) -> str:
    """The client's message in the words that name the problem: its first line, cleaned, without libpq's
    advice on key-file modes."""
    return _LIBPQ_HINT.sub("", gist(text)).strip()


def log_lines(text: str | Iterable[str], pattern: str = r"LOG:|FATAL:|DETAIL:|DETALLE:|WARNING:|ERROR:", *,
              routine: bool = False) -> list[str]:
    """Log lines (a text, or its lines) matching ``pattern``, routine ones left out unless ``routine``; each
    cleaned."""
    lines = text.splitlines() if isinstance(text, str) else list(text)
    return [_clean(line) for line in lines if re.search(pattern, line) and (routine or not is_routine(line))]


def failure_lines(lines: Iterable[str]) -> list[str]:
    """The lines carrying one of :data:`FAILURE_MARKERS`, without their prefix and level."""
    out = []
    for line in lines:
        if any(marker in line for marker in FAILURE_MARKERS):
            found = _LEVEL.search(line)
            out.append(line[found.end():].strip() if found else line.strip())
    return out


def reload_failed(log: str) -> bool:
    """Whether a reload's log says it did not (fully) take."""
    return any(marker in log for marker in FAILURE_MARKERS)


def problem_lines(lines: Sequence[str]) -> list[str]:
    """The lines of a reload or restart log that explain a failure: everything but routine chatter.

    For a reload only the postmaster's own lines count (its pid is on the ``received SIGHUP`` line), so a
    client failing at the same moment is not taken for the reason. The cause is logged before the
    ``was not reloaded`` line (``invalid value for clientcert``, ``private key file ... requires a
    passphrase``), and for some pg_hba mistakes the log is the only place that names it.
    """
    postmaster = next((m.group(1) for line in lines if SIGHUP.search(line)
                       for m in [LOG_PREFIX.match(line)] if m), None)
    found: list[str] = []
    keep = False
    for line in lines:
        match = LOG_PREFIX.match(line)
        if match is None or line.startswith(("\t", " ")):  # continuation of the previous entry
            if keep:
                found.append(line)
            continue
        keep = (postmaster is None or match.group(1) == postmaster) and not is_routine(line)
        if keep:
            found.append(line)
    return found


def log_messages(lines: Iterable[str], data_dir: str = "") -> pd.DataFrame:
    """Log lines as a (level, message) table, the data directory written ``$PGDATA`` and tab-indented
    continuation lines joined to the entry above (so the table reads the same on every backend). The level
    is English even from a server logging in Spanish (``DETALLE`` reads ``DETAIL``); the message is its own."""
    import pandas as pd

    rows: list[dict[str, str]] = []
    for line in lines:
        if data_dir:
            line = line.replace(data_dir, "$PGDATA")
        match = _LEVEL.search(line)
        if match:
            level = SPANISH_LEVELS.get(match.group(1), match.group(1))  # data stays English
            rows.append({"level": level, "message": line[match.end():].strip()})
        elif line.startswith(("\t", " ")) and rows:
            rows[-1]["message"] += " " + line.strip()
    return pd.DataFrame(rows, columns=["level", "message"])
