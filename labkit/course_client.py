"""Helpers for the client-side lessons (20-23) and the troubleshooting lesson (35).

Why this module exists: those notebooks need a few things longer than a notebook cell should hold -- a HOME
folder laid out the way the guide tells a client to prepare ``~/.postgresql``, a copy of a key with a given
mode or passphrase, the four server states of the sslmode matrix, a short server-log summary that reads the
same on every machine, and the catalogue reproduction recipes. They only *use* labkit's public API
(:mod:`labkit.layers`, :func:`labkit.attempts.attempt`, :mod:`labkit.catalogue`), never change it.
"""
from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from cryptography.hazmat.primitives import serialization

from . import catalogue
from . import layers as L, tables
from .attempts import SSLMODES, AttemptResult, attempt
from .errors import InvalidValue

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

    from .lesson import Lesson
    from .pki import LabPKI

__all__ = ["ROOT_CHOICES", "SERVER_STATES", "encrypted_key_copy", "key_copy", "lab_home", "mode_ranking",
           "server_phrase", "server_state_layers", "sslmode_matrix", "matrix_pivot", "style_matrix",
           "troubleshooting_rows"]

#: What a client may name as ``sslrootcert`` in the lessons (``missing`` = a path that does not exist).
ROOT_CHOICES: tuple[str, ...] = ("root", "combined", "intermediate", "rogue", "missing")

#: The server states of the sslmode matrix (lesson 23), weakest first.
SERVER_STATES: tuple[str, ...] = ("ssl off", "ssl on + host", "hostssl only", "hostnossl only")


# ------------------------------------------------------------------------------------------------------
# Client files
# ------------------------------------------------------------------------------------------------------


def root_file(pki: LabPKI, choice: str) -> Path:
    """The file behind a ``sslrootcert`` choice of :data:`ROOT_CHOICES`."""
    if choice not in ROOT_CHOICES:
        raise InvalidValue("sslrootcert_choice", choice, ROOT_CHOICES)
    p = pki.paths
    return {"root": p.root_crt, "combined": p.combined_crt, "intermediate": p.intermediate_crt,
            "rogue": p.rogue_ca_crt, "missing": pki.root_dir / "nowhere" / "root.crt"}[choice]


def lab_home(folder: str | Path, pki: LabPKI, *, root: str = "combined", cert: str = "client",
             key_mode: int = 0o600) -> Path:
    """A HOME folder prepared as the guide prepares a client: ``<folder>/.postgresql/`` holding
    ``postgresql.crt`` (0644), ``postgresql.key`` (``key_mode``) and ``root.crt`` (0644).

    ``root`` is a :data:`ROOT_CHOICES` name (not ``missing``); ``cert`` a client stem of the PKI
    (``client``, ``client2``, ``revoked_client``...). The folder is rebuilt from scratch each call.
    """
    if root not in ROOT_CHOICES[:-1]:
        raise InvalidValue("root", root, ROOT_CHOICES[:-1])
    if not hasattr(pki.paths, f"{cert}_crt"):
        raise InvalidValue("cert", cert, ("client", "client2", "revoked_client", "expired_client", "rogue_client"))
    home = Path(folder).absolute()
    dot = home / ".postgresql"
    if dot.exists():
        shutil.rmtree(dot)
    dot.mkdir(parents=True, mode=0o700)
    dot.chmod(0o700)
    for source, name, mode in ((getattr(pki.paths, f"{cert}_crt"), "postgresql.crt", 0o644),
                               (getattr(pki.paths, f"{cert}_key"), "postgresql.key", key_mode),
                               (root_file(pki, root), "root.crt", 0o644)):
        target = dot / name
        shutil.copyfile(source, target)
        target.chmod(mode)
    return home


def key_copy(source: str | Path, target: str | Path, mode: int) -> Path:
    """Copy a private key and give the copy ``mode`` (e.g. 0o644 to watch libpq refuse it)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(mode)
    return target


def encrypted_key_copy(source: str | Path, target: str | Path, passphrase: str) -> Path:
    """Write ``source`` (an unencrypted PEM key) to ``target`` encrypted with ``passphrase``, mode 0600:
    what ``openssl pkey -aes256`` would produce, for the ``sslpassword`` lesson."""
    key = serialization.load_pem_private_key(Path(source).read_bytes(), password=None)
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(passphrase.encode()))
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    target.chmod(0o600)
    return target


# ------------------------------------------------------------------------------------------------------
# Server log, summarised the same way on every backend
# ------------------------------------------------------------------------------------------------------

_PREFIX = re.compile(r"^.*?\[\d+\] (?:\S+@\S+ )?(?=(LOG|FATAL|DETAIL|HINT|ERROR|WARNING|CONTEXT):)")
_BORING = re.compile(r"connection received|connection authenticated|connection authorized|Failed certificate data|"
                     r"Connection matched|CONTEXT:|received SIGHUP|parameter \"|^\s")


def server_phrase(log: str) -> str:
    """The server's side of an attempt (or reload) in a few words: the lines that explain a failure, without
    timestamps, pids, client addresses or file paths (which differ between machines and backends).
    ``(nothing logged)`` when the server had nothing to say beyond accepting the connection."""
    kept: list[str] = []
    for line in log.splitlines():
        if _BORING.search(line):
            continue
        text = _PREFIX.sub("", line).strip()
        text = re.sub(r'host "[^"]*"', 'host "<client>"', text)
        text = re.sub(r'"?/[^\s"]+"?', "<file>", text)
        text = re.sub(r"\s+", " ", text)
        if text and text not in kept:
            kept.append(text)
    return " / ".join(kept) if kept else "(nothing logged)"


# ------------------------------------------------------------------------------------------------------
# Lesson 23: the sslmode matrix
# ------------------------------------------------------------------------------------------------------


def server_state_layers(pki: LabPKI, state: str, user: str = "conssl") -> list[L.Layer]:
    """The layers that put the lab in one of :data:`SERVER_STATES` for ``user`` (scram password)."""
    if state not in SERVER_STATES:
        raise InvalidValue("state", state, SERVER_STATES)
    rule = f"{{}}  all  {user}  0.0.0.0/0  scram-sha-256"
    if state == "ssl off":
        return [L.Layer(key="L1", title="TLS off", settings={"ssl": False, "ssl_cert_file": None,
                                                              "ssl_key_file": None},
                        hba_rules=(rule.format("host"),))]
    tls = L.layer_ssl_on(pki, "server")
    if state == "ssl on + host":
        return [tls, L.Layer(key="L3", title="pg_hba: host (TLS optional)", hba_rules=(rule.format("host"),))]
    if state == "hostssl only":
        return [tls, L.layer_hostssl("scram-sha-256", (user,))]
    return [tls, L.Layer(key="L3", title="pg_hba: hostnossl only", hba_rules=(rule.format("hostnossl"),))]


def sslmode_matrix(lesson: Lesson, *, user: str = "conssl", states: Sequence[str] = SERVER_STATES,
                   **client: Any) -> tuple[pd.DataFrame, list[AttemptResult]]:
    """Every sslmode against every server state: one row per (state, sslmode), plus the attempts.

    The server goes from state to state with :func:`labkit.layers.apply` (a reload each, no restart);
    ``client`` keywords (``sslrootcert``, ``ssl_max_protocol_version``...) go to every attempt.
    """
    lab, pki = lesson.lab, lesson.pki
    password = lesson.password(user)
    rows, results = [], []
    for state in states:
        lab.reset_config()
        applied = L.apply(lab, *server_state_layers(pki, state, user))
        if not applied.ok:  # pragma: no cover - a lab problem, not a lesson outcome
            raise InvalidValue("state", state, SERVER_STATES, applied.reason)
        for mode in SSLMODES:
            result = attempt(lab, label=f"{state} / {mode}", sslmode=mode, user=user, password=password, **client)
            results.append(result)
            rows.append({"server state": state, "sslmode": mode, "connected": result.connected,
                         "encrypted": bool(result.connected and result.ssl),
                         "server verified": bool(result.connected and result.ssl and mode.startswith("verify")),
                         "outcome": "plaintext" if result.connected and not result.ssl else result.outcome,
                         "psql": result.psql})
    lab.reset_config()
    lab.reload()
    return pd.DataFrame(rows), results


def matrix_pivot(frame: pd.DataFrame) -> pd.DataFrame:
    """sslmode rows (weakest first) x server-state columns, cell = outcome."""
    pivot = frame.pivot(index="sslmode", columns="server state", values="outcome")
    return pivot.reindex(index=list(SSLMODES), columns=[s for s in SERVER_STATES if s in pivot.columns])


def style_matrix(pivot: pd.DataFrame) -> Styler:
    """Green = TLS, amber = plaintext, red = refused."""
    def colour(value: object) -> str:
        text = str(value)
        if text.startswith("TLS"):
            return "background-color: #c8e6c9"
        if text == "plaintext":
            return "background-color: #ffe0b2"
        return "background-color: #ffcdd2"

    styler = pivot.style.map(colour) if hasattr(pivot.style, "map") else pivot.style.applymap(colour)
    return styler.set_uuid("sslmode-matrix")


def mode_ranking(frame: pd.DataFrame) -> pd.DataFrame:
    """Per sslmode: in how many server states it connects, how many of those were encrypted and how many
    also authenticated the server -- the guide's low-to-high ranking, measured."""
    grouped = frame.groupby("sslmode", sort=False).agg(
        **{"states connected": ("connected", "sum"), "encrypted": ("encrypted", "sum"),
           "server verified": ("server verified", "sum")})
    grouped["plaintext"] = grouped["states connected"] - grouped["encrypted"]
    grouped["states tried"] = frame.groupby("sslmode", sort=False).size()
    return grouped.reindex(list(SSLMODES))[["states tried", "states connected", "plaintext", "encrypted",
                                            "server verified"]].astype(int)


# ------------------------------------------------------------------------------------------------------
# Lesson 35: the catalogue, reproduced
# ------------------------------------------------------------------------------------------------------


@dataclass
class Case:
    """One documented error and how to make it happen: a server configuration, then one client attempt
    (or, for a configuration the server rejects, only the reload)."""

    key: str
    what: str
    server: Callable[[LabPKI], list[L.Layer]]
    client: dict[str, Any]
    reload_only: bool = False
    # What a server before PostgreSQL 16 makes of it, when that differs: 16 added the log line naming the
    # depth and reason of a failed client-certificate check, without which "no CRL for the root" looks
    # exactly like an unknown CA (measured on Debian's 15).
    key_before_16: str | None = None


def _cert_auth(pki: LabPKI, *, ca: str = "combined", crl: str | None = "combined", cert: str = "server",
               protocols: tuple[str, str] | None = None) -> list[L.Layer]:
    layers = [L.layer_ssl_on(pki, cert), L.layer_ca(pki, ca),
              L.layer_hostssl("cert", ("conssl", "reporter"), clientcert="verify-full")]
    if crl:
        layers.append(L.layer_crl(pki, crl))
    if protocols:
        layers.append(L.layer_protocols(*protocols))
    return layers


def troubleshooting_cases(lesson: Lesson, scratch: Path) -> list[Case]:
    """The catalogue entries the course documents, each with its recipe (the ones of tests/test_layers.py
    and the lessons). ``scratch`` is a folder for client key copies."""
    p = lesson.pki.paths
    passphrase = lesson.lab.workspace.secret("client-key-passphrase")
    world_key = key_copy(p.client_key, scratch / "client-0644.key", 0o644)
    locked_key = encrypted_key_copy(p.client_key, scratch / "client-encrypted.key", passphrase)
    vfull = {"sslmode": "verify-full", "sslrootcert": p.combined_crt, "user": "conssl", "password": None}
    with_cert = {**vfull, "sslcert": p.client_crt, "sslkey": p.client_key}
    std = _cert_auth
    return [
        Case("unknown_ca", "server trusts only the root; client sends its leaf without the intermediate",
             lambda pki: std(pki, ca="root_only", crl=None, cert="server_chain"),
             {**with_cert, "sslrootcert": p.root_crt}),
        Case("crl_missing", "ssl_crl_file holds only the intermediate's CRL (no CRL for depth 1)",
             lambda pki: std(pki, crl="intermediate_only"), with_cert, key_before_16="unknown_ca"),
        Case("cert_revoked", "client certificate listed in the CRL", std,
             {**vfull, "sslcert": p.revoked_client_crt, "sslkey": p.revoked_client_key}),
        Case("cert_expired", "client certificate past its notAfter", std,
             {**vfull, "sslcert": p.expired_client_crt, "sslkey": p.expired_client_key}),
        Case("cert_auth_failed", "certificate CN conssl, user reporter", std, {**with_cert, "user": "reporter"}),
        Case("client_cert_required", "cert rule, client sends no certificate", std, vfull),
        Case("hostname_mismatch", "verify-full with a host name the server certificate does not list", std,
             {**with_cert, "host": "db.wrong-host.example", "hostaddr": "127.0.0.1"}),
        Case("server_cert_untrusted", "client trusts another CA (rogue root)", std,
             {**with_cert, "sslrootcert": p.rogue_ca_crt}),
        Case("root_cert_missing", "sslrootcert names a file that does not exist", std,
             {**with_cert, "sslrootcert": scratch / "nowhere" / "root.crt"}),
        Case("key_permissions", "client key readable by everyone (0644)", std, {**with_cert, "sslkey": world_key}),
        Case("key_bad_decrypt", "encrypted client key, wrong sslpassword", std,
             {**with_cert, "sslkey": locked_key, "sslpassword": "not-the-passphrase"}),
        Case("protocol_range_invalid", "client ssl_min_protocol_version above its max", std,
             {**with_cert, "ssl_min_protocol_version": "TLSv1.3", "ssl_max_protocol_version": "TLSv1.2"}),
        Case("no_hba_no_encryption", "hostssl rules only, client sslmode=disable", std,
             {"sslmode": "disable", "user": "conssl", "password": None}),
        Case("protocol_mismatch", "server accepts TLS 1.3 only, client at most TLS 1.2",
             lambda pki: std(pki, protocols=("TLSv1.3", "TLSv1.3")),
             {**with_cert, "ssl_max_protocol_version": "TLSv1.2"}),
        Case("protocol_range_invalid", "server ssl_min_protocol_version above its max (reload rejected)",
             lambda pki: [L.layer_protocols("TLSv1.3", "TLSv1.2", unchecked=True)], {}, reload_only=True),
        Case("clientcert_invalid", "pg_hba.conf line with clientcert=1 on PostgreSQL >= 14 (reload rejected)",
             lambda pki: [L.layer_hostssl("cert", ("conssl",), clientcert="1", unchecked=True)], {},
             reload_only=True),
    ]


def troubleshooting_rows(lesson: Lesson, scratch: str | Path, *, include_reload_errors: bool = True
                         ) -> tuple[pd.DataFrame, list[AttemptResult]]:
    """Reproduce every case: one row with the client's message, the server's, the classification and the
    catalogue's cause and fix. Consecutive cases with the same server layers share one reload."""
    lab, pki = lesson.lab, lesson.pki
    scratch = Path(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    rows, results = [], []
    current: tuple[str, ...] | None = None
    for case in troubleshooting_cases(lesson, scratch):
        if case.reload_only and not include_reload_errors:
            continue
        layers = case.server(pki)
        signature = tuple(repr(sorted(x.settings.items(), key=lambda kv: kv[0])) + repr(x.hba_rules)
                          for x in layers)
        client_text = server_log = psql = ""
        if case.reload_only:
            if current is None:
                L.apply(lab, *_cert_auth(pki))
            outcome = L.apply(lab, *layers)
            server_log = "\n".join(outcome.log)
            client_text = "(none: the reload was rejected and the server kept its previous configuration)"
            reproduced = not outcome.ok and outcome.rolled_back
            psql = "SELECT pg_reload_conf();"
        else:
            if signature != current:
                lab.reset_config()
                applied = L.apply(lab, *layers)
                if not applied.ok:  # pragma: no cover - a lab problem
                    raise InvalidValue("case", case.key, "a configuration the server accepts", applied.reason)
                current = signature
            result = attempt(lab, label=case.key, **case.client)
            results.append(result)
            client_text, server_log, psql = result.error_text, result.server_log, result.psql
            reproduced = not result.connected
        entry = catalogue.classify("" if case.reload_only else client_text, server_log)
        found = entry.key if entry else None
        expected = catalogue.by_key(case.key)
        here = case.key_before_16 if case.key_before_16 and lab.state.pg_major < 16 else case.key
        rows.append({"expected": here, "documented as": case.key, "classified as": found,
                     "reproduced": reproduced and found == here,
                     "how": case.what,
                     "client message": catalogue_client_phrase(client_text) if not case.reload_only else "(reload)",
                     "server log": server_phrase(server_log), "cause": expected.cause, "fix": expected.fix,
                     "guide": expected.guide_ref or "(not in the guide)",
                     "raw client text": client_text, "raw server log": server_log, "psql": psql})
    lab.reset_config()
    lab.reload()
    return pd.DataFrame(rows), results


def catalogue_client_phrase(text: str) -> str:
    """The client's message without the 'connection to server at ..., port N failed:' head, file paths,
    the client address and libpq's multi-line hints: the part that names the problem."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    first = re.sub(r'^connection to server at "[^"]*"(?: \([^)]*\))?, port \d+ failed: ', "", first)
    first = re.sub(r'host "[^"]*"', 'host "<client>"', first)
    first = re.sub(r'"/[^"]+"', '"<file>"', first)
    first = re.sub(r";\s*file must have.*$", "", first)
    return re.sub(r"\s+", " ", first).strip()


# ------------------------------------------------------------------------------------------------------
# Tables for the notebooks
# ------------------------------------------------------------------------------------------------------

VERDICT_COLUMNS: tuple[str, ...] = ("label", "connected", "outcome", "tls_version", "psql")


def verdicts(results: Sequence[AttemptResult], columns: Sequence[str] = VERDICT_COLUMNS, *,
             uuid: str = "verdicts") -> Styler:
    """The attempts as a green/red table with only stable columns (what nbval compares), and a fixed
    HTML id so the rendered table is byte-identical from run to run."""
    from .attempts import attempts_frame, styled

    frame = attempts_frame(results)
    frame["server says"] = [server_phrase(r.server_log) if not r.connected else "" for r in results]
    frame = frame[list(columns)].copy()
    if "tls_version" in frame:
        frame["tls_version"] = frame["tls_version"].fillna("")
    if "connected" not in frame:
        return tables.table(frame, uuid)
    return styled(frame).set_uuid(uuid).hide(axis="index")


def raw_messages(results: Sequence[AttemptResult]) -> pd.DataFrame:
    """What each end really said (volatile: addresses, pids, paths) -- for cells tagged nbval-ignore-output."""
    return pd.DataFrame([{"label": r.label, "client said": r.error_text or "(connected)",
                          "server log": r.server_log} for r in results])


def describe_states(pki: LabPKI, user: str = "conssl") -> pd.DataFrame:
    """One row per :data:`SERVER_STATES` entry: the TLS setting and the pg_hba.conf lesson rule it writes."""
    rows = []
    for state in SERVER_STATES:
        settings: dict[str, object] = {}
        rules: list[str] = []
        for layer in server_state_layers(pki, state, user):
            settings.update(layer.settings)
            rules += list(layer.hba_rules or ())
        tls = "ssl = on, ssl_cert_file = server.crt" if settings.get("ssl") else "ssl = off"
        rows.append({"server state": state, "postgresql.conf": tls,
                     "pg_hba.conf lesson rule": " ".join(" | ".join(rules).split())})
    return pd.DataFrame(rows)
