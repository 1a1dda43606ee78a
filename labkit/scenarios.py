"""Scenarios: one server configuration after another, the same client attempts against each, one table.

Why this module exists: three lessons are "walk the lab through a list of configurations and tabulate what
clients get": the guide's ssl_cert_file / ssl_ca_file layouts (:func:`try_layout`), every sslmode against
every server state (:func:`sslmode_matrix`), and the error catalogue reproduced entry by entry
(:func:`troubleshooting_rows`). Each takes a lab and a PKI -- not a lesson -- so it runs against a user's
own lab as well, and each writes every setting it depends on, so scenarios do not leak into each other.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import catalogue, messages
from . import layers as L
from .attempt_log import collect_handshake_log
from .client import SSLMODES, AttemptResult, attempt
from .client_files import encrypted_key_copy, key_copy
from .errors import InvalidValue
from .roles import role_password
from .transaction import apply

if TYPE_CHECKING:
    from .pki import LabPKI
    from .server import LabServer

__all__ = ["Case", "Layout", "SERVER_STATES", "accepted_by_cipher_string", "tls13_settings", "key_type_pki", "suites_only_in", "describe_states", "guide_layouts", "matrix_pivot", "mode_ranking",
           "protocol_matrix", "root_file_rule", "served_chains", "server_state_layers", "sslmode_matrix", "troubleshooting_cases",
           "troubleshooting_rows", "try_layout", "try_layouts", "wording_by_client"]

#: The server states of the sslmode matrix (lesson 23), weakest first.
SERVER_STATES: tuple[str, ...] = ("ssl off", "ssl on + host", "hostssl only", "hostnossl only")


# ------------------------------------------------------------------------------------------------------
# The guide's certificate layouts
# ------------------------------------------------------------------------------------------------------


def try_layout(lab: LabServer, pki: LabPKI, label: str, *, server_cert: str, ca_bundle: str | None, rootcert: Path,
               client_cert: Path | None, client_key: Path | None, user: str = "conssl") -> AttemptResult:
    """Configure one ssl_cert_file / ssl_ca_file layout and try a ``verify-full`` client against it.

    Server: L1 with ``server_cert`` (a lab PKI name such as ``server`` or ``server_chain``), L6 with
    ``ca_bundle`` (``combined``, ``root_only``... or None for no ``ssl_ca_file``), and, when a client
    certificate is given, L3 ``hostssl ... cert clientcert=verify-full`` so the certificate is what logs the
    user in. Each call writes every setting it depends on (and, without ``ca_bundle``, first resets the lab
    to its starting configuration), so layouts do not leak into each other.
    """
    if ca_bundle is None or client_cert is None:
        lab.reset_config()
    chosen = [L.layer_ssl_on(pki, server_cert)]
    if ca_bundle is not None:
        chosen.append(L.layer_ca(pki, ca_bundle))
    if client_cert is not None:
        chosen.append(L.layer_hostssl("cert", (user,), clientcert="verify-full"))
    result = apply(lab, *chosen)
    if not result.ok:
        raise InvalidValue("layout", label, "a layout the server accepts", result.reason)
    if client_cert is None:
        return attempt(lab, label=label, sslmode="verify-full", sslrootcert=rootcert)
    return attempt(lab, label=label, sslmode="verify-full", user=user, password=None,
                            sslrootcert=rootcert, sslcert=client_cert, sslkey=client_key)


@dataclass(frozen=True)
class Layout:
    """One server/client certificate layout: what the server presents and trusts, what the client trusts
    and sends."""

    label: str
    server_cert: str
    ca_bundle: str
    rootcert: Path
    client_cert: Path
    client_key: Path


_SHORT = {"server": "server.crt", "server_chain": "server-chain.crt", "server_by_root": "server-by-root.crt",
          "combined": "combined.crt", "root_only": "root.crt"}


def guide_layouts(pki: LabPKI, user: str = "conssl") -> list[Layout]:
    """The guide's three ssl_ca_file / sslrootcert options and the variants that show why they work (the
    server presenting its leaf or its chain, the client sending its leaf or its chain). Option 3 needs a
    client certificate issued straight by the root: it is issued here (``client-by-root``)."""
    p = pki.paths
    by_root_crt, by_root_key = pki.issue_client(user, name="client-by-root", by="root", space="layouts")
    return [
        Layout("option 1 (guide): leaf only", "server", "combined", p.root_crt, p.client_crt, p.client_key),
        Layout("option 1, server sends its chain", "server_chain", "combined", p.root_crt, p.client_crt, p.client_key),
        Layout("no intermediate on the server: leaf only", "server", "root_only", p.root_crt, p.client_chain_crt,
               p.client_key),
        Layout("no intermediate on the server: chain file", "server_chain", "root_only", p.root_crt,
               p.client_chain_crt, p.client_key),
        Layout("option 2 (guide)", "server", "root_only", p.combined_crt, p.client_crt, p.client_key),
        Layout("option 2, client trusts only root", "server_chain", "root_only", p.root_crt, p.client_crt,
               p.client_key),
        Layout("option 3 (guide): leaves signed by root", "server_by_root", "root_only", p.root_crt, by_root_crt,
               by_root_key),
        Layout("Fase 2 of the guide: combined on both sides", "server", "combined", p.combined_crt, p.client_crt,
               p.client_key),
    ]


def try_layouts(lab: LabServer, pki: LabPKI, layouts: Sequence[Layout], user: str = "conssl"
                ) -> tuple[pd.DataFrame, list[AttemptResult]]:
    """:func:`try_layout` for each layout: the compared table (with the files on each side) and the attempts."""
    from .tables import outcomes

    results = [try_layout(lab, pki, x.label, server_cert=x.server_cert, ca_bundle=x.ca_bundle, rootcert=x.rootcert,
                          client_cert=x.client_cert, client_key=x.client_key, user=user) for x in layouts]
    frame = outcomes(results, extra={"client sends": [x.client_cert.name for x in layouts],
                                     "sslrootcert": [x.rootcert.name for x in layouts],
                                     "ssl_ca_file": [_SHORT.get(x.ca_bundle, x.ca_bundle) for x in layouts],
                                     "ssl_cert_file": [_SHORT.get(x.server_cert, x.server_cert) for x in layouts]})
    return frame, results


def served_chains(lab: LabServer, pki: LabPKI, layouts: dict[str, tuple[str, str | None]]) -> pd.DataFrame:
    """What the server sends for each (``ssl_cert_file`` PKI name, ``ssl_ca_file`` bundle or None) layout:
    one row per certificate sent (:func:`labkit.enumeration.chain_table`), labelled by layout. Shows that
    OpenSSL completes a leaf-only ``ssl_cert_file`` from ``ssl_ca_file`` -- the self-signed root included."""
    from .enumeration import chain_table

    frames = []
    for label, (cert, bundle) in layouts.items():
        lab.reset_config()
        chosen = [L.layer_ssl_on(pki, cert)] + ([L.layer_ca(pki, bundle)] if bundle else [])
        applied = apply(lab, *chosen)
        if not applied.ok:
            raise InvalidValue("layouts", label, "layouts the server accepts", applied.reason)
        sent = chain_table(lab)
        sent.insert(0, "layout", label)
        frames.append(sent)
    lab.reset_config()
    lab.reload()
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------------------------------------
# Lesson 11: client cap x server protocol range
# ------------------------------------------------------------------------------------------------------


def protocol_matrix(lab: LabServer, pki: LabPKI, server_ranges: Sequence[tuple[str, tuple[str, str] | None]],
                    caps: Sequence[str] = ("TLSv1.1", "TLSv1.2", "TLSv1.3"),
                    probe_versions: Sequence[str] = ("TLSv1", "TLSv1.1")) -> pd.DataFrame:
    """For each server range (label, (min, max) or None for PostgreSQL's default), the raw probe offering
    exactly each of ``probe_versions`` and a libpq client capped at each of ``caps``: one row per client,
    with what was negotiated, what :func:`labkit.handshake.expected_version` predicts, and both ends' words."""
    from .handshake import expected_version, probe_matrix
    from .tables import server_says

    rows = []
    for name, bounds in server_ranges:
        lab.reset_config()
        chosen = [L.layer_ssl_on(pki)] + ([L.layer_protocols(*bounds)] if bounds else [])
        applied = apply(lab, *chosen)
        if not applied.ok:
            raise InvalidValue("server_ranges", name, "ranges the server accepts", applied.reason)
        smin, smax = lab.show("ssl_min_protocol_version"), lab.show("ssl_max_protocol_version")
        for probe in probe_matrix(lab, versions=tuple(probe_versions)).to_dict("records"):
            rows.append({"server range": name, "client": f"raw probe, only {probe['version_asked']}",
                         "connected": probe["result"] == "accepted",
                         "outcome": probe["negotiated_version"] or probe["result"], "expected": "",
                         "client says": probe["error"] or "", "server log says": messages.gist(probe["server_log"]),
                         "psql": "(no psql equivalent: libpq cannot offer this version)"})
        for cap in caps:
            r = attempt(lab, label=cap, sslmode="require", ssl_min_protocol_version="TLSv1",
                        ssl_max_protocol_version=cap)
            rows.append({"server range": name, "client": f"libpq, max {cap}", "connected": r.connected,
                         "outcome": r.outcome, "expected": expected_version(smin, smax, cap) or "refused",
                         "client says": messages.gist(r.error_text), "server log says": server_says(r),
                         "psql": r.psql})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------------
# Lesson 13: what the server accepts, per key type and cipher string
# ------------------------------------------------------------------------------------------------------


def key_type_pki(lab: LabServer, pki: LabPKI, key_type: str) -> LabPKI:
    """The lab's PKI when it has ``key_type``, else a second PKI of that key type beside it in the lab's
    workspace (``pki-<key_type>``), made once: a server certificate's key decides which suites can be used."""
    from .pki import LabPKI

    if key_type == pki.key_type:
        return pki
    return LabPKI.ensure(lab.workspace.pki_dir.parent / f"pki-{key_type}", key_type=key_type)


def accepted_by_cipher_string(lab: LabServer, pki: LabPKI, strings: dict[str, str | None], *,
                              key_types: Sequence[str] = ("ecdsa-p256", "rsa-2048")
                              ) -> tuple[pd.DataFrame, dict[tuple[str, str], Any]]:
    """For each key type and each ``ssl_ciphers`` string (None: PostgreSQL's default), what this server
    accepts, enumerated with :func:`labkit.enumeration.enumerate_lab` (sslyze, by elimination): one row each
    with the counts a reviewer asks for and the Mozilla "intermediate" verdict computed from the accepted
    sets (:mod:`labkit.audit.profiles`), plus the sets themselves keyed by (key type, string label)."""
    from .audit.profiles import MOZILLA_GROUPS, get_profile
    from .enumeration import enumerate_lab, forward_secret

    mozilla = get_profile("mozilla-intermediate")
    facts = lab.facts()
    server = f"PostgreSQL {str(facts['server_version']).split()[0]} / OpenSSL {facts['server_openssl']}"
    rows, sets = [], {}
    for key_type in key_types:
        keyed = key_type_pki(lab, pki, key_type)
        for label, text in strings.items():
            lab.reset_config()
            chosen = [L.layer_ssl_on(keyed)] + ([L.layer_ciphers(text)] if text else [])
            applied = apply(lab, *chosen)
            if not applied.ok:
                raise InvalidValue("strings", label, "cipher strings the server accepts", applied.reason)
            found = enumerate_lab(lab)
            sets[(key_type, label)] = found
            tls12 = found.suites.get("TLSv1.2", [])
            outside = sorted(s for v, suites in found.suites.items() for s in suites if not mozilla.suite_allowed(v, s))
            versions = [v for v, ok in found.versions.items() if ok]
            passes = (not outside and all(mozilla.version_allowed(v) for v in versions)
                      and set(found.groups) <= MOZILLA_GROUPS)
            rows.append({"server": server, "key": key_type, "ssl_ciphers": label, "string": lab.show("ssl_ciphers"),
                         "versions accepted": " ".join(versions), "TLS 1.2 suites": len(tls12),
                         "without forward secrecy": sum(1 for s in tls12 if not forward_secret(s)),
                         "CBC (not AEAD)": sum(1 for s in tls12 if not any(m in s for m in ("GCM", "CHACHA", "CCM"))),
                         "TLS 1.3 suites": len(found.suites.get("TLSv1.3", [])), "groups": " ".join(found.groups),
                         "Mozilla intermediate": "pass" if passes else f"fail ({len(outside)} suites outside)",
                         "handshakes": found.handshakes, "log lines": found.log_lines})
    lab.reset_config()
    lab.reload()
    return pd.DataFrame(rows), sets


def suites_only_in(measured: Sequence[tuple[pd.DataFrame, dict[tuple[str, str], Any]]],
                   pairs: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """Per server and key type of :func:`accepted_by_cipher_string` results: for each named (wider,
    narrower) pair of string labels, the TLS 1.2 suites accepted under the first and not the second
    (``(none)`` when there are none) -- where two cipher strings really differ."""
    rows = []
    for frame, found in measured:
        for key in dict.fromkeys(frame["key"]):
            row = {"server": frame["server"].iloc[0], "key": key}
            for column, (wider, narrower) in pairs.items():
                extra = set(found[(key, wider)].suites.get("TLSv1.2", [])) - set(
                    found[(key, narrower)].suites.get("TLSv1.2", []))
                row[column] = " ".join(sorted(extra)) or "(none)"
            rows.append(row)
    return pd.DataFrame(rows)


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


def sslmode_matrix(lab: LabServer, pki: LabPKI, *, user: str = "conssl", states: Sequence[str] = SERVER_STATES,
                   untrusted_root: str | Path | None = None, **client: Any) -> tuple[pd.DataFrame, list[AttemptResult]]:
    """Every sslmode against every server state: one row per (state, sslmode), plus the attempts.

    The server goes from state to state with :func:`labkit.layers.apply` (a reload each, no restart);
    ``client`` keywords (``sslrootcert``, ``ssl_max_protocol_version``...) go to every attempt.

    "server verified" is measured, never read from the mode's name: with ``untrusted_root`` (a CA file that
    does not trust the lab's server certificate, e.g. ``pki.paths.rogue_ca_crt``) every cell is tried a
    second time as if the server were an impostor, and a mode verified the server only when it connected
    with TLS to the real one *and* refused the impostor. Without ``untrusted_root`` the column is None (not
    measured). The impostor attempts are in the returned list too, labelled ``... (untrusted root)``.
    """
    password = role_password(lab, user)
    rows, results = [], []
    for state in states:
        lab.reset_config()
        applied = apply(lab, *server_state_layers(pki, state, user))
        if not applied.ok:  # pragma: no cover - a lab problem, not a lesson outcome
            raise InvalidValue("state", state, SERVER_STATES, applied.reason)
        for mode in SSLMODES:
            result = attempt(lab, label=f"{state} / {mode}", sslmode=mode, user=user, password=password, **client)
            results.append(result)
            row = {"server state": state, "sslmode": mode, "connected": result.connected,
                   "encrypted": bool(result.connected and result.ssl), "server verified": None,
                   "outcome": _cell(result), "with untrusted root": None, "psql": result.psql}
            if untrusted_root is not None:
                impostor = attempt(lab, label=f"{state} / {mode} (untrusted root)", sslmode=mode, user=user,
                                   password=password, **{**client, "sslrootcert": untrusted_root})
                results.append(impostor)
                row["with untrusted root"] = _cell(impostor)
                row["server verified"] = bool(row["encrypted"] and not impostor.connected)
            rows.append(row)
    lab.reset_config()
    lab.reload()
    return pd.DataFrame(rows), results


def _cell(result: AttemptResult) -> str:
    """A matrix cell: ``plaintext``, the TLS version, or the catalogue key of the error."""
    return "plaintext" if result.connected and not result.ssl else result.outcome


def root_file_rule(lab: LabServer, pki: LabPKI, *, user: str = "conssl", modes: Sequence[str] = ("prefer",
                   "require", "verify-ca"), **client: Any) -> pd.DataFrame:
    """libpq's rule, measured: a root file present makes ``require`` check the chain like ``verify-ca``.

    The server is in "ssl on + host" (TLS offered, plain text allowed); each mode is tried with no root file,
    with the lab's root (``combined.crt``) and with a root that does not trust the server (the rogue CA).
    One row per (mode, root file): connected, encrypted, the outcome and the client's message -- where
    ``prefer``'s silent fall-back to plain text after a failed verification shows.
    """
    password = role_password(lab, user)
    lab.reset_config()
    applied = apply(lab, *server_state_layers(pki, "ssl on + host", user))
    if not applied.ok:  # pragma: no cover - a lab problem
        raise InvalidValue("state", "ssl on + host", SERVER_STATES, applied.reason)
    roots = (("none", None), ("combined.crt (trusts the server)", pki.paths.combined_crt),
             ("rogue-ca.crt (does not trust it)", pki.paths.rogue_ca_crt))
    rows = []
    for mode in modes:
        for name, root in roots:
            r = attempt(lab, label=f"{mode}, root file {name}", sslmode=mode, user=user, password=password,
                        sslrootcert=root, **client)
            rows.append({"sslmode": mode, "sslrootcert": name, "connected": r.connected,
                         "encrypted": bool(r.connected and r.ssl), "outcome": _cell(r),
                         "client says": messages.client_phrase(r.error_text) if r.error_text else "",
                         "server log": messages.server_phrase(r.server_log), "psql": r.psql})
    lab.reset_config()
    lab.reload()
    return pd.DataFrame(rows)


def matrix_pivot(frame: pd.DataFrame) -> pd.DataFrame:
    """sslmode rows (weakest first) x server-state columns, cell = outcome."""
    pivot = frame.pivot(index="sslmode", columns="server state", values="outcome")
    return pivot.reindex(index=list(SSLMODES), columns=[s for s in SERVER_STATES if s in pivot.columns])


def mode_ranking(frame: pd.DataFrame) -> pd.DataFrame:
    """Per sslmode: in how many server states it connects, how many of those were encrypted and in how many
    it refused an impostor (the measured "server verified" of :func:`sslmode_matrix`; 0 where not measured)
    -- the guide's low-to-high ranking, measured."""
    measured = frame.assign(**{"server verified": frame["server verified"].fillna(False).astype(bool)})
    grouped = measured.groupby("sslmode", sort=False).agg(
        **{"states connected": ("connected", "sum"), "encrypted": ("encrypted", "sum"),
           "server verified": ("server verified", "sum")})
    grouped["plaintext"] = grouped["states connected"] - grouped["encrypted"]
    grouped["states tried"] = frame.groupby("sslmode", sort=False).size()
    return grouped.reindex(list(SSLMODES))[["states tried", "states connected", "plaintext", "encrypted",
                                            "server verified"]].astype(int)


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


# ------------------------------------------------------------------------------------------------------
# The same failure in two clients' words (errata on error wording)
# ------------------------------------------------------------------------------------------------------


def wording_by_client(lab: LabServer, pki: LabPKI) -> pd.DataFrame:
    """Two failures the guide quotes, each met by psycopg's libpq and by Debian's psql 15 against the same
    server state: a host name the server certificate does not list (``verify-full``), and a revoked client
    certificate (certificate login with ``ssl_crl_file``). One row per (case, client) with the client's
    OpenSSL as its library's banner says, and the message without libpq's "connection to ... failed" part."""
    from .doctor import client_facts
    from .other_clients import psql_attempt

    p = pki.paths
    libpq = f"psycopg's libpq {client_facts()['libpq_version']}"
    libpq_openssl = f"OpenSSL {client_facts()['client_openssl']}"
    cases = [
        ("host name not in the certificate", [L.layer_ssl_on(pki)],
         {"sslmode": "verify-full", "sslrootcert": p.combined_crt, "host": "db.wrong-host.example",
          "hostaddr": "127.0.0.1", "user": "conssl", "password": role_password(lab, "conssl")}),
        ("revoked client certificate", _cert_auth(pki),
         {"sslmode": "verify-full", "sslrootcert": p.combined_crt, "user": "conssl", "password": None,
          "sslcert": p.revoked_client_crt, "sslkey": p.revoked_client_key}),
    ]
    rows = []
    for case, layers, params in cases:
        lab.reset_config()
        applied = apply(lab, *layers)
        if not applied.ok:  # pragma: no cover - a lab problem
            raise InvalidValue("case", case, "a configuration the server accepts", applied.reason)
        ours = attempt(lab, label=case, **params)
        text = ours.error_text.split(" failed: ", 1)[-1].strip().splitlines()[0] if ours.error_text else ""
        rows.append({"case": case, "client": libpq, "client's OpenSSL": libpq_openssl, "connected": ours.connected,
                     "message": text})
        other = psql_attempt(lab, **params)
        rows.append({"case": case, "client": other.client, "client's OpenSSL": other.openssl,
                     "connected": other.connected, "message": other.message})
    lab.reset_config()
    lab.reload()
    return pd.DataFrame(rows)


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


def troubleshooting_cases(lab: LabServer, pki: LabPKI, scratch: Path) -> list[Case]:
    """The catalogue entries the course documents, each with its recipe (the ones of tests/test_layers.py
    and the lessons). ``scratch`` is a folder for client key copies."""
    p = pki.paths
    passphrase = lab.workspace.secret("client-key-passphrase")
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


def troubleshooting_rows(lab: LabServer, pki: LabPKI, scratch: str | Path, *, include_reload_errors: bool = True
                         ) -> tuple[pd.DataFrame, list[AttemptResult]]:
    """Reproduce every case: one row with the client's message, the server's, the classification and the
    catalogue's cause and fix. Consecutive cases with the same server layers share one reload."""
    scratch = Path(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    rows, results = [], []
    current: tuple[str, ...] | None = None
    for case in troubleshooting_cases(lab, pki, scratch):
        if case.reload_only and not include_reload_errors:
            continue
        layers = case.server(pki)
        signature = tuple(repr(sorted(x.settings.items(), key=lambda kv: kv[0])) + repr(x.hba_rules)
                          for x in layers)
        client_text = server_log = psql = ""
        if case.reload_only:
            if current is None:
                apply(lab, *_cert_auth(pki))
            outcome = apply(lab, *layers)
            server_log = "\n".join(outcome.log)
            client_text = "(none: the reload was rejected and the server kept its previous configuration)"
            reproduced = not outcome.ok and outcome.rolled_back
            psql = "SELECT pg_reload_conf();"
        else:
            if signature != current:
                lab.reset_config()
                applied = apply(lab, *layers)
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
                     "client message": messages.client_phrase(client_text) if not case.reload_only else "(reload)",
                     "server log": messages.server_phrase(server_log), "cause": expected.cause, "fix": expected.fix,
                     "guide": expected.guide_ref or "(not in the guide)",
                     "raw client text": client_text, "raw server log": server_log, "psql": psql})
    lab.reset_config()
    lab.reload()
    return pd.DataFrame(rows), results


def tls13_settings(lab: LabServer, pki: LabPKI, layers: Sequence[L.Layer | None]) -> pd.DataFrame:
    """One row per layer (:func:`labkit.layers.layer_tls13`, :func:`~labkit.layers.layer_ecdh_curve`; ``None``
    for the server's defaults): whether the reload took it (else the catalogue key of the server's refusal),
    the TLS 1.3 suites and groups the server then accepts (sslyze by elimination), what Python's default
    client (one X25519 key share) meets on the wire -- HelloRetryRequest, round trips, group -- and the suite
    libpq's ``verify-full`` session gets in pg_stat_ssl. Each layer is reverted before the next."""
    from . import enumeration, handshake, transaction

    rows = []
    for layer in layers:
        applied = apply(lab, layer) if layer is not None else None
        row: dict[str, Any] = {"setting": ", ".join(f"{k} = {v}" for k, v in layer.settings.items()) if layer
                               else "(defaults)", "reload": "refused" if applied and not applied.ok else "ok"}
        if applied is not None and not applied.ok:
            found = catalogue.classify("", "\n".join(applied.problems))
            rows.append({**row, "outcome": found.key if found else "refused"})
            continue
        sets = enumeration.enumerate_lab(lab, versions=("TLSv1.3",))
        row.update({"suites accepted": " ".join(sets.suites.get("TLSv1.3", [])), "groups accepted": " ".join(sets.groups)})
        mark = lab.log_mark()
        try:
            trace = handshake.handshake_trace(lab.host, lab.port, "TLSv1.3")
            row.update({"HelloRetryRequest": trace.hello_retry, "round trips": trace.round_trips, "group used": trace.group})
        except handshake.HandshakeFailure as exc:
            found = catalogue.classify(exc.message, collect_handshake_log(lab, mark))
            row["raw client refused"] = found.key if found else exc.message
        session = attempt(lab, sslmode="verify-full", sslrootcert=pki.paths.combined_crt)
        rows.append({**row, "pg_stat_ssl cipher": session.pg_stat_ssl.get("cipher") or "", "outcome": session.outcome})
        if layer is not None:
            transaction.revert(lab, layer)
    frame = pd.DataFrame(rows)
    if "round trips" in frame:
        frame["round trips"] = frame["round trips"].astype("Int64")
    return frame
