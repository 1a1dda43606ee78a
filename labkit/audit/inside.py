"""The inside view: what the server itself says, read with a role the user supplies, strictly read-only.

The least privilege that lets every inside check measure:

- ``pg_read_all_settings`` -- ``ssl_passphrase_command`` and the ``ssl_*`` file settings are hidden from
  other roles;
- ``pg_monitor`` (it includes ``pg_read_all_stats``) -- without it, other roles' rows in
  ``pg_stat_activity``/``pg_stat_ssl`` hide their client address, so sessions without TLS cannot be counted;
- ``pg_hba_file_rules`` is readable by superusers only, unless a superuser grants it:
  ``GRANT SELECT ON pg_hba_file_rules TO auditor; GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO auditor``.

Whatever the role cannot read is reported as "not measurable" with PostgreSQL's own reason. The session is
``READ ONLY`` (``default_transaction_read_only``) and runs only ``SELECT``/``SHOW``: nothing is written.
"""
from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from .targets import Target

SSL_SETTINGS_QUERY = ("SELECT name, setting FROM pg_settings WHERE name LIKE 'ssl%' "
                      "OR name IN ('password_encryption', 'listen_addresses') ORDER BY name")
HBA_QUERY = ("SELECT line_number, type, database, user_name, address, netmask, auth_method, options, error "
             "FROM pg_hba_file_rules ORDER BY line_number")
SESSIONS_QUERY = ("SELECT a.pid, a.usename, host(a.client_addr) AS client_addr, a.application_name, "
                  "a.backend_type, s.ssl, s.version FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
                  "WHERE a.client_addr IS NOT NULL AND a.pid <> pg_backend_pid() ORDER BY a.pid")
ROLE_QUERY = ("SELECT current_user AS role, r.rolsuper AS superuser, "
              "pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') AS read_all_settings, "
              "pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS read_all_stats, "
              "current_setting('server_version') AS server_version, "
              "current_setting('server_version_num')::int AS server_version_num, "
              "(SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS own_ssl, "
              "(SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS own_tls_version, "
              "(SELECT cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS own_cipher "
              "FROM pg_roles r WHERE r.rolname = current_user")
SECRET_HBA_OPTIONS = ("ldapbindpasswd", "radiussecrets")
"""pg_hba options whose values are secrets: reports show the option, never its value."""
LITERAL_PROGRAMS = frozenset({"echo", "printf"})
"""Programs that print their arguments: the passphrase would be written in postgresql.conf itself."""


@dataclass
class InsideView:
    """What the server reported; a ``None`` field with a ``*_error`` says why it could not be read."""

    connected: bool = False
    error: str | None = None
    role: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    hba: list[dict[str, Any]] | None = None
    hba_error: str | None = None
    plaintext_sessions: list[dict[str, Any]] | None = None
    sessions_error: str | None = None
    passphrase: dict[str, Any] | None = None
    """``{"set": bool, "program": str, "prints_literal": bool}`` -- never the command line itself."""

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["settings"] = {k: v for k, v in self.settings.items() if k != "ssl_passphrase_command"}
        return data


def observe(target: Target) -> InsideView:
    """Connect as the target's role and read everything the inside checks use."""
    view = InsideView()
    if target.user is None:
        view.error = "no role given: add user=... to the target to read the server's own view"
        return view
    try:
        conn = psycopg.connect(**target.inside_conninfo(options="-c default_transaction_read_only=on"),
                               row_factory=dict_row)
    except psycopg.Error as exc:
        view.error = _one_line(exc)
        return view
    with conn:
        conn.read_only = True
        view.connected = True
        view.role = _rows(conn, ROLE_QUERY)[0]
        settings = {row["name"]: row["setting"] for row in _rows(conn, SSL_SETTINGS_QUERY)}
        view.passphrase = _passphrase(settings.get("ssl_passphrase_command"))
        view.settings = settings
        view.hba, view.hba_error = _try_rows(conn, HBA_QUERY)
        for rule in view.hba or []:
            rule["options"] = _redacted_options(rule.get("options"))
        sessions, view.sessions_error = _try_rows(conn, SESSIONS_QUERY)
        if sessions is not None:
            view.plaintext_sessions = [row for row in sessions if not row["ssl"]]
        if not view.role.get("read_all_stats") and not view.role.get("superuser"):
            view.sessions_error = (f"role {view.role.get('role')!r} is not a member of pg_read_all_stats "
                                   "(pg_monitor): other roles' client addresses are hidden from it")
            view.plaintext_sessions = None
    return view


def _rows(conn: psycopg.Connection[Any], query: str) -> list[dict[str, Any]]:
    return conn.execute(query).fetchall()  # type: ignore[return-value]


def _try_rows(conn: psycopg.Connection[Any], query: str) -> tuple[list[dict[str, Any]] | None, str | None]:
    """Rows, or (None, PostgreSQL's reason) when the role may not read them; the session stays usable."""
    try:
        rows = _rows(conn, query)
    except psycopg.errors.InsufficientPrivilege as exc:
        conn.rollback()
        return None, _one_line(exc) + " (needs a superuser, or GRANT SELECT/EXECUTE on it)"
    except psycopg.Error as exc:
        conn.rollback()
        return None, _one_line(exc)
    conn.rollback()  # end the read-only transaction; the next query starts a fresh one
    return rows, None


def _redacted_options(options: list[str] | None) -> list[str] | None:
    """``ldapbindpasswd=...`` and ``radiussecrets=...`` keep their name; the value becomes ``***``."""
    if options is None:
        return None
    return [f"{option.split('=', 1)[0]}=***" if option.split("=", 1)[0] in SECRET_HBA_OPTIONS else option
            for option in options]


def _passphrase(command: str | None) -> dict[str, Any] | None:
    """Describe ``ssl_passphrase_command`` without repeating it (it may hold the passphrase itself)."""
    if command is None:
        return None  # hidden from this role
    if not command.strip():
        return {"set": False, "program": "", "prints_literal": False}
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    program = words[0].rsplit("/", 1)[-1] if words else ""
    return {"set": True, "program": program, "prints_literal": program in LITERAL_PROGRAMS and len(words) > 1}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if "connection to server" in text:
        for marker in ("FATAL:", "ERROR:"):
            if marker in text:
                return text[text.index(marker):]
        return text.rsplit("failed: ", 1)[-1]
    return text
