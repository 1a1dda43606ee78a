"""How a value is written into postgresql.conf, pg_hba.conf or a shell command line — or refused.

Every value labkit writes into one of those formats goes through one function here, so no string a user
gives (a lesson parameter, a CLI option, an API argument, a workspace path) can add a line to a
configuration file or run a command. Each function either returns text that the format's own parser reads
back as exactly the given value, or raises :class:`~labkit.errors.InvalidValue` naming the value and
what is allowed, before anything is written.

The rules follow the parsers themselves (PostgreSQL's ``guc-file.l`` and ``hba.c``, POSIX ``sh``):

- postgresql.conf: a quoted string may not span lines; inside it ``''`` is a quote and backslash starts an
  escape, so both are doubled. Names are identifiers, optionally ``prefix.name``; the ``include``
  directives are not settings and are refused.
- pg_hba.conf: fields are separated by blanks and commas, ``#`` starts a comment, ``"`` quotes and ``@file``
  includes a file of names; a lesson's field is one plain token.
- ``ssl_passphrase_command`` is run by ``/bin/sh`` and ``%p``/``%%`` are expanded first.
"""
from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Iterable, Sequence

from .errors import InvalidValue

CONNECTION_TYPES: tuple[str, ...] = ("local", "host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc")

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # every C0 control but TAB, and DEL
_CONF_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?")
_CONF_DIRECTIVES = ("include", "include_if_exists", "include_dir")
_HBA_TOKEN = re.compile(r"\+?[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_HBA_OPTION = re.compile(r"[a-z_]+=[A-Za-z0-9_.\-:/]+")
# pg_ctl hands the data directory and log file to /bin/sh inside double quotes, where these stay special.
_SHELL_DOUBLE_QUOTE_SPECIAL = ('"', "$", "`", "\\")


def _no_control(name: str, value: str, allowed: str) -> str:
    if _CONTROL.search(value):
        raise InvalidValue(name, value, allowed, "newlines, NUL and other control characters cannot be written safely")
    return value


# -- postgresql.conf ---------------------------------------------------------------------------------
def conf_name(name: object) -> str:
    """A parameter name as postgresql.conf's lexer reads it (``ssl_ciphers``, ``labkit.note``)."""
    allowed = "a parameter name: letters, digits and '_' (optionally 'prefix.name'), not an include directive"
    if not isinstance(name, str) or not _CONF_NAME.fullmatch(name) or name.lower() in _CONF_DIRECTIVES:
        raise InvalidValue("setting name", name, allowed)
    return name


def conf_value(value: object, name: str = "setting value") -> str:
    """A Python value as it must stand right of ``=`` in postgresql.conf: booleans as on/off, numbers bare,
    everything else one quoted string with ``'`` and ``\\`` doubled."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    _no_control(name, text, "a value on one line, without control characters")
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def conf_line(name: object, value: object) -> str:
    """One ``name = value`` line of postgresql.conf."""
    checked = conf_name(name)
    return f"{checked} = {conf_value(value, f'value of {checked}')}"


def check_formatted_value(name: str, formatted: object) -> str:
    """An already formatted value (what :func:`conf_value` returned, e.g. kept in a state file) checked to be
    exactly one token: a bare word or number, or one complete quoted string."""
    allowed = "on/off, a number, or one quoted string"
    if not isinstance(formatted, str) or _CONTROL.search(formatted):
        raise InvalidValue(f"value of {name}", formatted, allowed)
    if re.fullmatch(r"[A-Za-z0-9_.+\-]+", formatted):
        return formatted
    if re.fullmatch(r"'(?:[^'\\]|''|\\.)*'", formatted):
        return formatted
    raise InvalidValue(f"value of {name}", formatted, allowed)


def directory_list(paths: Iterable[str], name: str = "unix_socket_directories") -> str:
    """A comma-separated directory list (``unix_socket_directories``) whose entries are double-quoted, so a
    folder with a comma or a blank stays one entry; returned already quoted for postgresql.conf."""
    entries = []
    for path in paths:
        _no_control(name, str(path), "folders without control characters")
        entries.append('"' + str(path).replace('"', '""') + '"')
    return conf_value(",".join(entries), name)


# -- pg_hba.conf -------------------------------------------------------------------------------------
def hba_token(field: str, value: object, what: str = "one name of letters, digits, '_', '.', '-'") -> str:
    """One pg_hba.conf field (a database or a role): a single plain token, so it cannot widen the rule
    (no comma list, no ``@file``, no quotes, no comment, no second line)."""
    if not isinstance(value, str) or not _HBA_TOKEN.fullmatch(value):
        raise InvalidValue(field, value, what, "pg_hba.conf splits fields at blanks and commas; give one name")
    return value


def hba_address(value: object) -> str:
    """A pg_hba.conf address: ``all``, ``samehost``, ``samenet`` or an IP network with its mask."""
    allowed = "'all', 'samehost', 'samenet' or an address with a CIDR mask such as '0.0.0.0/0' or '127.0.0.1/32'"
    if value in ("all", "samehost", "samenet"):
        return str(value)
    if not isinstance(value, str) or "/" not in value:
        raise InvalidValue("address", value, allowed, "an IP address needs its mask, e.g. '127.0.0.1/32'")
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise InvalidValue("address", value, allowed) from None
    return value


def hba_option(value: object) -> str:
    """One ``name=value`` authentication option (``clientcert=verify-full``, ``map=certmap``)."""
    if not isinstance(value, str) or not _HBA_OPTION.fullmatch(value):
        raise InvalidValue("pg_hba option", value, "name=value with a plain value, e.g. 'clientcert=verify-full'")
    return value


def hba_rule(conn_type: str, database: str, user: str, address: str | None, method: str,
             options: Sequence[str] = ()) -> str:
    """One pg_hba.conf line built from checked fields (``address`` is None for ``local``)."""
    if conn_type not in CONNECTION_TYPES:
        raise InvalidValue("connection type", conn_type, CONNECTION_TYPES)
    fields = [conn_type, hba_token("database", database), hba_token("user", user)]
    if conn_type != "local":
        fields.append(hba_address(address))
    elif address is not None:
        raise InvalidValue("address", address, "None for a 'local' line")
    fields.append(hba_token("method", method, "an authentication method name"))
    fields += [hba_option(option) for option in options]
    return "  ".join(fields)


def hba_line(line: object) -> str:
    """A whole pg_hba.conf line given as text (e.g. a lesson's ``extra_rules``): exactly one line that
    starts with a connection type; its fields may be wrong on purpose (a lesson shows the server's
    error), but it can never carry a second line, a file inclusion or quotes."""
    allowed = "one pg_hba.conf line starting with " + ", ".join(CONNECTION_TYPES)
    if not isinstance(line, str):
        raise InvalidValue("pg_hba line", line, allowed)
    _no_control("pg_hba line", line, allowed)
    fields = line.split("#", 1)[0].split()
    if not fields or fields[0] not in CONNECTION_TYPES:
        raise InvalidValue("pg_hba line", line, allowed)
    if '"' in line or any(part.startswith("@") for field in fields for part in field.split(",")):
        raise InvalidValue("pg_hba line", line, allowed, "quotes and @file inclusions are not written by labkit")
    if len(fields) < 4:
        raise InvalidValue("pg_hba line", line, allowed, "a line needs at least type, database, user and method")
    return line


# -- pg_ident.conf -----------------------------------------------------------------------------------
IDENT_HEADER = "# pg_ident.conf written by labkit: MAPNAME  SYSTEM-USERNAME  PG-USERNAME\n"
_IDENT_PG_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*|[A-Za-z0-9_.\-]*\\1[A-Za-z0-9_.\-]*")
_NEEDS_QUOTES = re.compile(r"[\s,#]")


def ident_system_name(value: object) -> str:
    """The SYSTEM-USERNAME field of a pg_ident.conf line: a certificate's CN, its whole DN
    (``CN=conssl,O=pgtls-lab`` with ``clientname=DN``) or a ``/regex``. Written in double quotes when it
    holds a blank, a comma or ``#`` (which would otherwise split the field or start a comment); a ``"``
    itself and control characters are refused, so the value can never become a second field or line."""
    allowed = "a user name, a certificate DN or a /regular expression, without '\"' or control characters"
    if not isinstance(value, str) or not value or '"' in value:
        raise InvalidValue("system user", value, allowed)
    _no_control("system user", value, allowed)
    return f'"{value}"' if _NEEDS_QUOTES.search(value) else value


def ident_line(map_name: object, system_user: object, pg_user: object) -> str:
    """One pg_ident.conf line ``MAPNAME SYSTEM-USERNAME PG-USERNAME`` built from checked fields. The
    PostgreSQL user may carry ``\\1`` (the regex's first capture)."""
    name = hba_token("map name", map_name, "one map name of letters, digits, '_', '.', '-'")
    if not isinstance(pg_user, str) or not _IDENT_PG_USER.fullmatch(pg_user):
        raise InvalidValue("pg user", pg_user, "one role name (may contain \\1 for a regex capture)")
    return f"{name}  {ident_system_name(system_user)}  {pg_user}"


# -- shell -------------------------------------------------------------------------------------------
def shell_word(value: object, name: str = "command argument") -> str:
    """One word of a ``/bin/sh`` command line (``shlex.quote``); control characters are refused."""
    text = str(value)
    _no_control(name, text, "text without control characters")
    return shlex.quote(text)


def passphrase_command(script: str, *args: str) -> str:
    """An ``ssl_passphrase_command`` value running ``script`` with ``args``: each a quoted shell word, and
    ``%`` doubled because PostgreSQL expands ``%p`` and ``%%`` before the shell sees the command."""
    words = [shell_word(part, "ssl_passphrase_command") for part in (script, *args)]
    return " ".join(words).replace("%", "%%")


def double_quotable_path(value: object, name: str = "path") -> str:
    """A path that pg_ctl can hand to ``/bin/sh`` inside double quotes, where ``"``, ``$``, backquote and
    backslash stay special: those, and control characters, are refused."""
    text = str(value)
    allowed = "a folder path without control characters, '\"', '$', '`' or '\\'"
    _no_control(name, text, allowed)
    bad = [c for c in _SHELL_DOUBLE_QUOTE_SPECIAL if c in text]
    if bad:
        raise InvalidValue(name, text, allowed,
                           f"pg_ctl passes this path to the shell, where {' '.join(bad)} would be interpreted; "
                           "choose another folder")
    return text
