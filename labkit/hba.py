"""Which pg_hba.conf line a client would hit: PostgreSQL's first-match rule, made visible.

Why: the guide lists a scram line and then a cert line for the same user, and the second one is never
reached -- PostgreSQL uses the *first* line whose type, database, user and address match, and no later line
is consulted even when that one's authentication fails. :func:`first_match` reads ``pg_hba_file_rules``
(the file on disk, which is what the next reload would use) and marks, line by line, why it matches or
not. :func:`lesson_rows` keeps only the lesson's lines (below labkit's admin channel, which differs between
backends).
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from . import messages, quoting
from .errors import InvalidValue

if TYPE_CHECKING:
    from .client import AttemptResult
    from .server import LabServer

__all__ = ["IDENT_FILE", "NEVER_REACHED", "first_match", "ident_mappings", "lesson_rows", "login_reason", "map_login_row",
           "set_ident_maps"]

_CONN_TYPES = ("hostssl", "hostnossl", "host")
_LINE_TYPES_FOR = {
    "hostssl": {"host", "hostssl", "hostnogssenc"},
    "hostnossl": {"host", "hostnossl", "hostnogssenc"},
    "host": {"host", "hostnogssenc"},
}
NEVER_REACHED = "never reached for this client"


def _match_name(entries: Sequence[str], wanted: str, *, user: str | None = None) -> tuple[bool | None, str]:
    """Does a database/user column match? (True/False, or None when the keyword is not emulated)."""
    unknown = []
    for entry in entries:
        if entry == "all" or entry == wanted:
            return True, ""
        if user is not None and entry == "sameuser" and wanted == user:
            return True, ""
        if entry == "replication":
            continue
        if entry.startswith("/"):  # PostgreSQL 16 regular expressions
            try:
                if re.search(entry[1:], wanted):
                    return True, ""
            except re.error:
                unknown.append(entry)
            continue
        if entry in ("samerole", "samegroup", "sameuser") or entry.startswith(("+", "@")):
            if entry != "sameuser":
                unknown.append(entry)
    return (None, ", ".join(unknown)) if unknown else (False, "")


def _match_address(address: str | None, netmask: str | None, client: ipaddress.IPv4Address | ipaddress.IPv6Address
                   ) -> tuple[bool | None, str]:
    if address in (None, "all"):
        return True, ""
    if address in ("samehost", "samenet"):
        return None, address
    try:
        host = ipaddress.ip_address(address)
    except ValueError:
        return None, f"host name {address}"
    if netmask:
        mask = ipaddress.ip_address(netmask)
        prefix = bin(int(mask)).count("1")
    else:
        prefix = host.max_prefixlen
    network = ipaddress.ip_network(f"{host}/{prefix}", strict=False)
    if network.version != client.version:
        return False, ""
    return client in network, ""


def first_match(lab: LabServer, *, conn_type: str = "hostssl", database: str = "postgres", user: str = "conssl",
                    address: str = "127.0.0.1") -> pd.DataFrame:
    """Which pg_hba.conf line a client would hit, emulating PostgreSQL's first-match rule.

    ``conn_type`` describes the *connection*: ``hostssl`` = TCP with TLS, ``hostnossl`` = TCP without
    TLS, ``host`` = TCP with the TLS question left open (hostssl/hostnossl lines are then reported as
    depending on it). The emulation covers what the course uses: line type, database ``all``/name/
    ``sameuser``, user ``all``/name, regex entries, addresses with a CIDR mask or ``all``; other keywords
    (``+group``, ``@file``, ``samenet``, host names) are reported as not emulated and assumed not to match.
    Reads ``pg_hba_file_rules`` (the file on disk, which is what the next reload would use).
    """
    if conn_type not in _CONN_TYPES:
        raise InvalidValue("conn_type", conn_type, _CONN_TYPES,
                           "describe the client's connection: hostssl = TCP with TLS, hostnossl = without")
    for name, value in (("database", database), ("user", user)):
        if not isinstance(value, str) or not value:
            raise InvalidValue(name, value, "a non-empty name")
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        raise InvalidValue("address", address, "an IPv4 or IPv6 address such as '127.0.0.1'") from None
    rules = lab.query("SELECT * FROM pg_hba_file_rules ORDER BY line_number")
    out = []
    first: int | None = None
    for rec in rules.to_dict("records"):
        kind = rec.get("type")
        row = {k: rec.get(k) for k in ("line_number", "type", "database", "user_name", "address", "netmask",
                                       "auth_method", "options", "error")}
        verdict: str
        matches: bool | None = False
        if first is not None:
            verdict, matches = NEVER_REACHED, None
        elif rec.get("error") is not None or kind is None:
            why = rec.get("error") or "the server could not parse it and gives no reason (see its log)"
            verdict = f"invalid line (ignored here; the server would keep its old rules): {why}"
        elif kind == "local":
            verdict = "no match: local lines are for Unix-socket connections"
        elif kind not in _LINE_TYPES_FOR[conn_type]:
            if conn_type == "host" and kind in ("hostssl", "hostnossl"):
                verdict = f"no match unless the client {'uses' if kind == 'hostssl' else 'does not use'} TLS"
            else:
                verdict = f"no match: a {kind} line does not match a {conn_type} connection"
        else:
            db_ok, db_unknown = _match_name(list(rec.get("database") or []), database, user=user)
            user_ok, user_unknown = _match_name(list(rec.get("user_name") or []), user)
            addr_ok, addr_unknown = _match_address(rec.get("address"), rec.get("netmask"), client)
            if db_ok is False:
                verdict = f"no match: database {database!r} not in {list(rec.get('database') or [])}"
            elif user_ok is False:
                verdict = f"no match: user {user!r} not in {list(rec.get('user_name') or [])}"
            elif addr_ok is False:
                verdict = f"no match: {address} outside {rec.get('address')}/{rec.get('netmask')}"
            elif None in (db_ok, user_ok, addr_ok):
                what = ", ".join(x for x in (db_unknown, user_unknown, addr_unknown) if x)
                verdict, matches = f"not emulated ({what}); assumed not to match", None
            else:
                first, matches = int(rec["line_number"]), True
                verdict = f"FIRST MATCH: {rec.get('auth_method')} decides (no later line is consulted)"
        out.append({**row, "matches": matches, "verdict": verdict})
    frame = pd.DataFrame(out, columns=["line_number", "type", "database", "user_name", "address", "netmask",
                                       "auth_method", "options", "error", "matches", "verdict"])
    frame.attrs["first_match_line"] = first
    frame.attrs["client"] = {"conn_type": conn_type, "database": database, "user": user, "address": address}
    if first is None:
        frame.attrs["outcome"] = ("no line matches: the server answers 'no pg_hba.conf entry for host ...'"
                                  + (", no encryption" if conn_type == "hostnossl" else ""))
    else:
        method = frame.loc[frame["line_number"] == first, "auth_method"].iloc[0]
        frame.attrs["outcome"] = f"line {first} decides: {method}"
    return frame


LESSON_MARKER = "# -- lesson rules --"


def lesson_rows(lab: LabServer, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of a pg_hba table (:func:`first_match` or ``pg_hba_file_rules``) that belong to the lesson,
    i.e. below labkit's admin-channel lines, which differ between backends."""
    text = lab.hba_text().splitlines()
    first = next((i + 1 for i, line in enumerate(text) if line.startswith(LESSON_MARKER)), 0)
    return frame[frame["line_number"] > first].reset_index(drop=True)


# --------------------------------------------------------------------------------------------------------
# pg_ident.conf: user name maps (the pg_hba ``map=`` option)
# --------------------------------------------------------------------------------------------------------

IDENT_FILE = "pg_ident.conf"
"""Where the server reads its maps: the default ``ident_file``, in the data directory."""


def set_ident_maps(lab: LabServer, maps: Mapping[str, Iterable[tuple[str, str]]] | None) -> str:
    """Write pg_ident.conf: for each map name, ``(system user, PostgreSQL user)`` pairs; ``None`` or ``{}``
    empties the file. Returns the text written. Takes effect at the next reload.

    Why: with ``cert`` authentication the server compares the certificate's CN (or, with the pg_hba option
    ``clientname=DN``, its whole subject DN) with the role asked for; a map (pg_hba ``map=<name>``) lets a
    certificate log in as another role. Every field goes through :func:`labkit.quoting.ident_line`, so a
    DN's commas and blanks are quoted and no value can add a line; all lines are checked before writing.
    """
    if maps is not None and not isinstance(maps, Mapping):
        raise InvalidValue("maps", maps, "a dict {map name: [(system user, pg user), ...]}",
                           "e.g. {'certmap': [('CN=conssl,O=pgtls-lab', 'reporter')]}")
    lines = [quoting.IDENT_HEADER.rstrip("\n")]
    for map_name, pairs in (maps or {}).items():
        if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Iterable):
            raise InvalidValue(f"maps[{map_name!r}]", pairs, "a list of (system user, pg user) pairs")
        for pair in pairs:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise InvalidValue(f"maps[{map_name!r}] entry", pair, "a (system user, pg user) pair")
            lines.append(quoting.ident_line(map_name, pair[0], pair[1]))
    text = "\n".join(lines) + "\n"
    lab.write_ident_file(text)
    return text


def ident_mappings(lab: LabServer) -> pd.DataFrame:
    """What the server read from pg_ident.conf at its last reload (``pg_ident_file_mappings``, 15+): map
    name, system user, PostgreSQL user and any error, one row per line."""
    return lab.query("SELECT line_number, map_name, sys_name, pg_username, error FROM pg_ident_file_mappings "
                     "ORDER BY line_number")


_REASONS = (r"no match in usermap", r"provided user name .* do not match", r'role "[^"]*" does not exist',
            r"certificate authentication failed", r"connection authenticated: identity=")


def login_reason(server_log: str) -> str:
    """The server log's reason for a certificate login, in its own words: the ``no match in usermap`` line
    (with the name the certificate gave), the CN/role mismatch, or the identity it accepted. Why: the
    client only ever reads "certificate authentication failed"; the map's verdict is in the log."""
    lines = [messages.strip_log_prefix(line).strip() for line in (server_log or "").splitlines()]
    for pattern in _REASONS:
        for line in lines:
            if re.search(pattern, line):
                return re.sub(r"^(LOG|FATAL|DETAIL):\s+", "", re.sub(r"\s*\(/[^)]*\)$", "", line))
    return "(nothing logged)"


def map_login_row(certificate: str, role: str, map_name: str, result: AttemptResult) -> dict[str, object]:
    """One certificate login through a map, as a table row: who asked for which role under which map, the
    role the session got, the server log's reason (:func:`login_reason`), the catalogue's key, the client's
    words (the same for every refusal, which is the point of showing them)."""
    return {"certificate": certificate, "requested role": role, "map": map_name, "connected": result.connected,
            "logged in as": result.current_user or "", "server log": login_reason(result.server_log),
            "catalogue key": result.error_key or "",
            "client says": "" if result.connected else messages.client_phrase(result.error_text)}
