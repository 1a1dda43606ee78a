"""The course guide's claims as data, and the routines that set them beside a measurement.

Why: the course checks the guide (``/tmp/pki`` walkthrough, Fase #1-#3) rather than repeating it. A claim
written down once here -- its two TLS version tables, its cipher strings, its pg_hba lines -- can be shown,
compared with what the lab measured, and judged, without a lesson re-typing it. Nothing here talks to a
server; the measurements come from :mod:`labkit.handshake` and :mod:`labkit.client`.
"""
from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .errors import InvalidValue
from .handshake import VERSIONS

__all__ = ["CIPHERS_CRITICAL", "CIPHERS_NORMAL", "HBA_RULES", "OPENSSL_TABLE", "POSTGRES_TABLE", "PROTOCOLS",
           "cipher_suites", "compare_cipher_strings", "compatibility_check", "openssl_row"]

CIPHERS_CRITICAL = "HIGH:!aNULL:!MD5:!3DES:!RC4:!DES:!IDEA:!RC2"
"""The guide's ``ssl_ciphers`` for critical environments (banks, shops), Fase #2 paso 5."""
CIPHERS_NORMAL = "HIGH:MEDIUM:!aNULL:!MD5:!RC4"
"""The guide's string for "normal" environments (commented out in Fase #2 paso 5)."""

HBA_RULES: tuple[str, ...] = (
    "hostssl  all  conssl  0.0.0.0/0  scram-sha-256",
    "hostssl  all  conssl  0.0.0.0/0  cert  clientcert=verify-full",
)
"""The guide's two pg_hba.conf lines for ``conssl`` (Fase #2 paso 4); the second is never reached."""

# The guide's two tables (Fase #1, "Versiones compatibles de SSL/TLS con OpenSSL / con PostgreSQL"),
# columns SSLv2, SSLv3, TLS 1.0, 1.1, 1.2, 1.3, as the guide writes them.
PROTOCOLS: tuple[str, ...] = ("SSLv2", "SSLv3", *VERSIONS)
OPENSSL_TABLE: dict[str, tuple[str, ...]] = {
    "OpenSSL 1.0.x": ("disable", "disable", "true", "true", "true", "false"),
    "OpenSSL 1.1.x": ("false", "false", "true", "true", "true", "false"),
    "OpenSSL 1.1.1": ("false", "false", "true", "true", "true", "true"),
    "OpenSSL 3.0.x": ("false", "false", "true", "true", "true", "true"),
}
POSTGRES_TABLE: dict[int, tuple[str, ...]] = {
    major: ("false", "false", "true", "true", "true", "true") for major in (12, 13, 14, 15, 16, 17)
}
RANGE_SETTINGS: tuple[str, ...] = ("ssl_min_protocol_version", "ssl_max_protocol_version")
POSTGRES_ROWS: dict[str, tuple[str, ...]] = {
    "9.4": ("false", "false", "true", "true", "true", "false", "N/A", "N/A"),
    **{str(major): (*row, "TLSv1.0", "TLSv1.3") for major, row in POSTGRES_TABLE.items()},
}
"""The guide's whole PostgreSQL table, rows as it writes them (9.4, 12-17), columns :data:`PROTOCOLS` then
:data:`RANGE_SETTINGS`. PostgreSQL 18 has no row: the guide predates it."""
NOT_IN_GUIDE = "no row in the guide"


def openssl_row(server_openssl: str | None) -> str:
    """The guide's OpenSSL row that describes a server OpenSSL version string such as '1.1.1' or '3.0.13'."""
    text = str(server_openssl or "")
    if text.startswith("1.1.1"):
        return "OpenSSL 1.1.1"
    if text.startswith("1.1"):
        return "OpenSSL 1.1.x"
    if text.startswith("1.0"):
        return "OpenSSL 1.0.x"
    return "OpenSSL 3.0.x"


def _verdict(guide_pg: str, default: str, legacy: str, libpq_can: bool) -> str:
    agrees = (guide_pg == "true") == (default == "accepted")
    if agrees:
        text = "agrees"
    elif legacy == "accepted":
        text = "guide too generous: refused by default (floor TLSv1.2); accepted only after lowering the floor"
    else:
        text = "guide too generous: refused even with the floor lowered (this server's OpenSSL)"
    if guide_pg == "true" and not libpq_can:
        text += "; and today's libpq cannot offer it at all"
    return text


def compatibility_check(*, default_probe: pd.DataFrame, legacy_probe: pd.DataFrame,
                        python_can: Mapping[str, bool], libpq_can: Mapping[str, bool], server_openssl: str | None,
                        major: int, enumvals: Sequence[str]) -> pd.DataFrame:
    """The guide's two version tables next to what was measured, one row per protocol, with a verdict.

    ``default_probe``/``legacy_probe`` are :func:`labkit.handshake.probe_matrix` frames at the default floor
    and with ``ssl_min_protocol_version = 'TLSv1'``; ``python_can``/``libpq_can`` say whether each client
    could offer each TLS version. A "true" of the guide agrees only when the server accepts the version at
    its default settings.
    """
    row_name = openssl_row(server_openssl)
    if isinstance(major, bool) or not isinstance(major, int) or major < 12:
        raise InvalidValue("major", major, "a PostgreSQL major version, 12 or newer")
    guide_row = POSTGRES_TABLE.get(major)  # 18 and newer: the guide has no row, so there is nothing to judge
    by_version = {name: (d, lg) for name, d, lg in zip(default_probe["version_asked"], default_probe["result"],
                                                      legacy_probe["result"])}
    rows = []
    for i, name in enumerate(PROTOCOLS):
        guide_ossl = OPENSSL_TABLE[row_name][i]
        guide_pg = guide_row[i] if guide_row else NOT_IN_GUIDE
        py, lp = bool(python_can.get(name, False)), bool(libpq_can.get(name, False))
        if name.startswith("SSL"):
            default = legacy = "no setting value"
            text = f"agrees: PostgreSQL has no value for it ({', '.join(enumvals)})"
        else:
            default, legacy = by_version[name]
            text = _verdict(guide_pg, default, legacy, lp)
        if guide_row is None:
            text = f"not judged: the guide's table stops at PostgreSQL 17 (measured here: {default} by default)"
        rows.append({"protocol": name, f"guide: {row_name}": guide_ossl, f"guide: PostgreSQL {major}": guide_pg,
                     "server, defaults": default, "server, min TLSv1": legacy,
                     "Python ssl can offer": py, "libpq can offer": lp, "verdict": text})
    return pd.DataFrame(rows)


def cipher_suites(cipher_string: str) -> pd.DataFrame:
    """The TLS 1.2 (and older) suites an OpenSSL cipher string selects, in OpenSSL's preference order.

    Expanded with this Python's OpenSSL (``SSLContext.set_ciphers`` + ``get_ciphers``), which is what
    ``openssl ciphers -v '<string>'`` prints -- the *client's* library, not the server's. TLS 1.3 suites
    are always listed by ``get_ciphers`` whatever the string says (they are configured elsewhere), so they
    are left out. Raises :class:`InvalidValue` when the string selects nothing.
    """
    if not isinstance(cipher_string, str) or not cipher_string.strip():
        raise InvalidValue("cipher_string", cipher_string, "an OpenSSL cipher string such as 'HIGH:!aNULL'")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.set_ciphers(cipher_string)
    except ssl.SSLError:
        allowed = f"an OpenSSL cipher string that selects at least one suite ({ssl.OPENSSL_VERSION})"
        raise InvalidValue("cipher_string", cipher_string, allowed) from None
    rows = []
    for order, suite in enumerate(c for c in context.get_ciphers() if c["protocol"] != "TLSv1.3"):
        rows.append({"order": order + 1, "suite": suite["name"], "min_protocol": suite["protocol"],
                     "key_exchange": suite["kea"].replace("kx-", ""), "auth": suite["auth"].replace("auth-", ""),
                     "cipher": suite["symmetric"], "aead": suite["aead"], "bits": suite["strength_bits"]})
    return pd.DataFrame(rows, columns=["order", "suite", "min_protocol", "key_exchange", "auth", "cipher", "aead",
                                       "bits"])


def compare_cipher_strings(strings: Mapping[str, str]) -> pd.DataFrame:
    """One row per TLS 1.2 suite selected by any of ``strings`` (label -> cipher string), a yes/no column
    per label; rows in the order of the first string that selects them."""
    seen: dict[str, dict[str, Any]] = {}
    for label, text in strings.items():
        for rec in cipher_suites(text).to_dict("records"):
            row = seen.setdefault(rec["suite"], {k: rec[k] for k in ("suite", "key_exchange", "auth", "cipher",
                                                                     "aead", "bits")})
            row[label] = True
    out = pd.DataFrame(list(seen.values()))
    for label in strings:
        out[label] = out[label].fillna(False).astype(bool) if label in out else False
    return out


# -- the two tables beside `labkit matrix` ---------------------------------------------------------------
def _row_for_major(major: int) -> str | None:
    return str(major) if str(major) in POSTGRES_ROWS else None


def _protocol_cell(guide_value: str, protocol: str, server: Mapping[str, Any], accepted: Mapping[str, str],
                   where: str) -> tuple[str, bool, str]:
    """(measured, agrees, disagreement) for one protocol column: "true" agrees only with an accepted
    handshake; SSLv2/SSLv3 cannot be asked (no setting value names them, no current client offers them)."""
    allowed = (server["ranges"].get("ssl_min_protocol_version") or {}).get("allowed", [])
    if protocol.startswith("SSL"):
        measured = "no setting value" if protocol not in allowed else "a setting value"
        agrees = guide_value in ("false", "disable")
        return measured, agrees, "" if agrees else f"guide says {guide_value}; PostgreSQL cannot be set to {protocol}"
    measured = accepted.get(protocol, "not asked")
    if measured not in ("accepted", "refused"):
        return measured, False, f"could not be measured ({measured})"
    agrees = (guide_value == "true") == (measured == "accepted")
    if agrees:
        return measured, True, ""
    return measured, False, f"guide says {guide_value}; {measured} {where}"


def _range_cell(guide_value: str, name: str, server: Mapping[str, Any]) -> tuple[str, bool, str]:
    facts = server["ranges"].get(name)
    if facts is None:
        return "setting absent", guide_value == "N/A", "" if guide_value == "N/A" else f"{name} does not exist"
    default, allowed = facts["default"], facts["allowed"]
    measured = repr(default) if default == "" else default
    if guide_value == "N/A":
        return measured, False, f"guide says N/A; the setting exists (default {measured})"
    if guide_value == default:
        return measured, True, ""
    if guide_value == "TLSv1.0" and default == "TLSv1":
        return measured, True, "agrees in meaning; PostgreSQL spells TLS 1.0 'TLSv1' ('TLSv1.0' is an invalid value)"
    why = f"guide says {guide_value}; the built-in default is {measured}"
    if default == "":
        why += " (no ceiling: whatever the server's OpenSSL supports)"
    if guide_value not in allowed:
        why += f"; '{guide_value}' is not even an allowed value ({', '.join(v or repr(v) for v in allowed)})"
    return measured, False, why


def postgres_table_check(servers: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The guide's PostgreSQL table cell by cell beside `labkit matrix`'s measurements (``servers``: its
    ``result["servers"]``): one row per (server, column), with the guide's value, the measured one, whether
    they agree and the disagreement in words. Protocol cells are judged at the server's *defaults* (what a
    DBA gets without touching anything); range cells against ``pg_settings.boot_val``. Guide rows with no
    measured server (9.4; a major not installed) get one row saying so; a server whose major the guide
    has no row for (18) is listed with its measurements and "no row in the guide"."""
    columns = (*PROTOCOLS, *RANGE_SETTINGS)
    rows: list[dict[str, Any]] = []
    measured_rows = set()
    for server in servers:
        major = int(server["build"]["major"])
        guide_key = _row_for_major(major)
        measured_rows.add(guide_key)
        for i, column in enumerate(columns):
            guide_value = POSTGRES_ROWS[guide_key][i] if guide_key else NOT_IN_GUIDE
            if column in RANGE_SETTINGS:
                measured, agrees, why = _range_cell(guide_value, column, server)
            else:
                measured, agrees, why = _protocol_cell(guide_value, column, server, server["accepted_default"],
                                                       "at the defaults")
            if guide_key is None:
                agrees, why = None, f"not judged: the guide has no row for PostgreSQL {major}"
            rows.append({"server": server["build"]["label"], "guide row": guide_key or NOT_IN_GUIDE,
                         "column": column, "guide says": guide_value, "measured": measured,
                         "agrees": agrees, "disagreement": why})
    for key in POSTGRES_ROWS:
        if key not in measured_rows:
            rows.append({"server": "(none measured)", "guide row": key, "column": "all",
                         "guide says": ", ".join(POSTGRES_ROWS[key]), "measured": "not measured",
                         "agrees": None, "disagreement": "no build of this major here" if key != "9.4" else
                         "not measured: labkit runs 12-18 (9.4 has no ssl_min_protocol_version)"})
    return pd.DataFrame(rows)


def openssl_table_check(servers: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The guide's OpenSSL table beside the servers linked with each OpenSSL line: the table is about what
    the *library* can do, so each cell is judged with the floor lowered to ``TLSv1`` (the most permissive
    setting PostgreSQL has). Rows of OpenSSL lines no measured server uses say so."""
    rows: list[dict[str, Any]] = []
    seen = set()
    for server in servers:
        library = server.get("server_openssl")
        guide_key = openssl_row(library)
        seen.add(guide_key)
        accepted = server["accepted_min_tlsv1"]
        for i, column in enumerate(PROTOCOLS):
            guide_value = OPENSSL_TABLE[guide_key][i]
            measured, agrees, why = _protocol_cell(guide_value, column, server, accepted,
                                                   "with ssl_min_protocol_version = 'TLSv1'")
            rows.append({"server": server["build"]["label"],
                         "OpenSSL": server.get("server_openssl_banner") or library, "guide row": guide_key,
                         "column": column, "guide says": guide_value, "measured": measured, "agrees": agrees,
                         "disagreement": why})
    for key in OPENSSL_TABLE:
        if key not in seen:
            rows.append({"server": "(none measured)", "OpenSSL": "", "guide row": key, "column": "all",
                         "guide says": ", ".join(OPENSSL_TABLE[key]), "measured": "not measured",
                         "agrees": None, "disagreement": "no server here is linked with this OpenSSL line"})
    return pd.DataFrame(rows)


def check_pivot(frame: pd.DataFrame) -> pd.DataFrame:
    """A check table (:func:`postgres_table_check`, :func:`openssl_table_check`) as servers x columns, each
    cell "= value" where guide and measurement agree and "guide X, measured Y" where not."""
    judged = frame[frame["column"] != "all"].copy()
    judged["cell"] = [f"= {m}" if ok else (f"guide {g}, measured {m}" if ok is False else f"{m} (no guide row)")
                      for g, m, ok in zip(judged["guide says"], judged["measured"], judged["agrees"])]
    order = list(dict.fromkeys(judged["column"]))
    pivot = judged.pivot(index="server", columns="column", values="cell")[order]
    return pivot.loc[list(dict.fromkeys(judged["server"]))]
