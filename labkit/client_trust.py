"""What a 2026 client trusts and insists on: libpq 16-18's ``sslrootcert=system``, ``sslcertmode``,
``require_auth`` and a client-side CRL, each measured against a lab.

Why a room of its own: these are the client's half of the hardening. The server layers (``layers``) decide
what the server accepts; these keywords decide what the *client* accepts -- which CAs may vouch for the
server, whether a client certificate takes part, which authentication the server may ask for, and
whether a revoked server certificate is noticed. Each verdict here comes from a real connection
(:func:`labkit.client.attempt`); nothing is inferred from a keyword's name.

The operating system's store is simulated without touching the machine's: OpenSSL reads ``SSL_CERT_FILE``
and ``SSL_CERT_DIR`` when libpq asks it for the default trust paths (``sslrootcert=system``), so
:func:`system_store` writes a bundle and an empty folder and returns those two variables for ``env=``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import layers as L
from . import messages
from .ca import load_cert, openssl_name_hash, pem, write_file
from .client import AttemptResult, attempt
from .errors import InvalidValue
from .transaction import apply

if TYPE_CHECKING:
    from .pki import LabPKI
    from .server import LabServer

__all__ = ["CERTMODE_RULES", "CERTMODES", "REQUIRE_AUTH", "REQUIRE_AUTH_RULES", "RevokedServer", "certmode_rows",
           "crl_rows", "frame", "require_auth_rows", "revoked_server", "row", "server_saw", "system_rows",
           "system_store"]

CERTMODES: tuple[str, ...] = ("disable", "allow", "require")
#: pg_hba rules for the sslcertmode table: (label, method, clientcert option).
CERTMODE_RULES: tuple[tuple[str, str, str | None], ...] = (
    ("cert", "cert", None), ("scram-sha-256", "scram-sha-256", None),
    ("scram-sha-256 clientcert=verify-ca", "scram-sha-256", "verify-ca"),
    ("scram-sha-256 clientcert=verify-full", "scram-sha-256", "verify-full"),
)
REQUIRE_AUTH: tuple[str, ...] = ("scram-sha-256", "!password", "none", "password")
REQUIRE_AUTH_RULES: tuple[str, ...] = ("trust", "password", "scram-sha-256", "cert")


def system_store(folder: Path, *certificates: Path) -> dict[str, str]:
    """A stand-in for the operating system's trust store: ``folder/bundle.pem`` holding ``certificates``
    (none at all is allowed: a store that trusts nobody) and an empty ``folder/certs``; returns the
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` pair to pass as ``attempt(..., env=...)``."""
    folder = Path(folder)
    (folder / "certs").mkdir(parents=True, exist_ok=True)
    data = b""
    for path in certificates:
        try:
            data += pem(load_cert(Path(path)))
        except (OSError, ValueError):
            raise InvalidValue("certificates", str(path), "PEM certificate files", "e.g. pki.paths.root_crt") from None
    write_file(folder / "bundle.pem", data, 0o644)
    return {"SSL_CERT_FILE": str(folder / "bundle.pem"), "SSL_CERT_DIR": str(folder / "certs")}


@dataclass(frozen=True)
class RevokedServer:
    """A server certificate for the lab's names, revoked by the lab intermediate, and the client-side CRLs
    that say so: one PEM file (intermediate + root CRL) and a hashed directory (``<hash>.r0``)."""

    crt: Path
    key: Path
    crl_file: Path
    crl_dir: Path


def revoked_server(pki: LabPKI, folder: Path, *, space: str, names: Sequence[str] = ("localhost", "127.0.0.1")
                   ) -> RevokedServer:
    """Issue a server certificate in the lesson's PKI ``space``, revoke it in CRLs written to ``folder``.

    The lab's own CRL files are left alone (other lessons read them): the CRLs are signed here with the lab
    CAs' keys (:meth:`labkit.ca.CA.crl`). libpq checks a CRL for every CA of the chain, so the root's empty
    CRL goes along with the intermediate's.
    """
    crt, key = pki.issue_server(tuple(names), name="server-revoked", space=space)
    inter, root = pki.intermediate_ca(), pki.root_ca()
    inter.revoke(load_cert(crt))
    crls = (inter.crl(), root.crl())
    folder = Path(folder)
    hashed = folder / "crl-dir"
    hashed.mkdir(parents=True, exist_ok=True)
    write_file(folder / "revoked.crl", b"".join(pem(c) for c in crls), 0o644)
    for crl in crls:
        write_file(hashed / f"{openssl_name_hash(crl.issuer)}.r0", pem(crl), 0o644)
    return RevokedServer(crt, key, folder / "revoked.crl", hashed)


def server_saw(result: AttemptResult) -> str:
    """What the server recorded about the session (pg_stat_ssl): its client certificate's DN, or TLS
    without one; ``not connected`` when there was no session to ask."""
    if not result.connected:
        return "not connected"
    if not result.ssl_is_used:
        return "no TLS"
    return f"client certificate {result.ssl_client_dn}" if result.ssl_client_dn else "TLS, no client certificate"


def row(feature: str, setting: str, result: AttemptResult, **more: Any) -> dict[str, Any]:
    """One line of the lesson's key result: the keyword tried, the outcome as both ends saw it."""
    return {"feature": feature, "setting": setting, **more, "connected": result.connected,
            "server saw": server_saw(result), "outcome": result.outcome, "error key": result.error_key or ("" if result.connected else "?"),
            "client says": "" if result.connected else messages.client_phrase(result.error_text),
            "psql": result.short_psql}


def _hba(lab: LabServer, pki: LabPKI, method: str, user: str, clientcert: str | None = None) -> None:
    done = apply(lab, L.layer_ssl_on(pki), L.layer_ca(pki), L.layer_hostssl(method, users=(user,), clientcert=clientcert))
    if not done.ok:
        raise InvalidValue("pg_hba rule", f"{method} clientcert={clientcert}", "a rule the server accepts", done.reason)


def _keyword_rows(lab: LabServer, pki: LabPKI, keyword: str, values: Sequence[str],
                  rules: Iterable[tuple[str, str, str | None]], *, user: str, password: str) -> list[dict[str, Any]]:
    """One reload per pg_hba rule, then one attempt per value of the libpq ``keyword``; the client holds the
    right password and the lab's certificate for ``user`` every time, and verifies the server fully."""
    out = []
    for label, method, clientcert in rules:
        _hba(lab, pki, method, user, clientcert)
        for value in values:
            result = attempt(lab, label=f"{label} / {value}", sslmode="verify-full", sslrootcert=pki.paths.combined_crt,
                             user=user, password=password, sslcert=pki.paths.client_crt, sslkey=pki.paths.client_key,
                             extra={keyword: value})
            out.append(row(keyword, value, result, context=label))
    return out


def certmode_rows(lab: LabServer, pki: LabPKI, *, user: str, password: str,
                  rules: Iterable[tuple[str, str, str | None]] = CERTMODE_RULES,
                  modes: Sequence[str] = CERTMODES) -> list[dict[str, Any]]:
    """``sslcertmode`` x pg_hba rule: whether the client connects and whether the server saw its
    certificate (``server saw`` is the session's ``pg_stat_ssl.client_dn``)."""
    return _keyword_rows(lab, pki, "sslcertmode", modes, rules, user=user, password=password)


def require_auth_rows(lab: LabServer, pki: LabPKI, *, user: str, password: str,
                      rules: Iterable[str] = REQUIRE_AUTH_RULES,
                      values: Sequence[str] = REQUIRE_AUTH) -> list[dict[str, Any]]:
    """``require_auth`` x the method of the pg_hba rule: whether libpq lets the server's way of
    authenticating stand."""
    return _keyword_rows(lab, pki, "require_auth", values, [(m, m, None) for m in rules], user=user,
                         password=password)


def system_rows(lab: LabServer, pki: LabPKI, folder: Path, *, user: str, password: str,
                wrong_host: str) -> list[dict[str, Any]]:
    """``sslrootcert=system`` with a store that holds the lab root and one that does not: verify-full,
    sslmode left to libpq (also with a host name the certificate lacks), verify-ca and require."""
    with_root = system_store(Path(folder) / "store-with-lab-root", pki.paths.root_crt)
    without_root = system_store(Path(folder) / "store-without-lab-root")
    cases = [("store with the lab root", mode, host, with_root) for mode, host in
             (("verify-full", None), (None, None), (None, wrong_host), ("verify-ca", None), ("require", None))]
    cases.append(("store without the lab root", "verify-full", None, without_root))
    out = []
    for store, mode, host, env in cases:
        result = attempt(lab, sslmode=mode, host=host, hostaddr="127.0.0.1" if host else None, env=env, user=user,
                         password=password, sslrootcert="system")
        setting = f"sslmode={mode or '(not given)'}" + (f", host={host}" if host else "")
        out.append(row("sslrootcert=system", setting, result, context=store))
    return out


def crl_rows(lab: LabServer, pki: LabPKI, revoked: RevokedServer, *, user: str, password: str,
             include_dir: bool = True) -> list[dict[str, Any]]:
    """The lab serving ``revoked``'s certificate, clients with verify-full and: no CRL, the revoking CRL file,
    the lab's own CRL (which does not list it), a file that does not exist and, with ``include_dir``, the hashed folder -- alone, and
    beside an ``sslcrl`` naming a file that does not exist (libpq then checks no revocation at all)."""
    cases: dict[str, dict[str, object]] = {
        "no CRL": {}, "sslcrl=revoked.crl": {"sslcrl": revoked.crl_file},
        "sslcrl=lab combined.crl (not listing it)": {"sslcrl": pki.paths.combined_crl},
        "sslcrl=missing file": {"sslcrl": revoked.crl_file.with_name("missing.crl")}}
    if include_dir:
        cases["sslcrldir=crl-dir"] = {"sslcrldir": revoked.crl_dir}
        cases["sslcrldir=crl-dir + sslcrl=missing file"] = {"sslcrldir": revoked.crl_dir,
                                                            "sslcrl": revoked.crl_file.with_name("missing.crl")}
    return [row("client CRL", label, attempt(lab, label=label, sslmode="verify-full", sslrootcert=pki.paths.combined_crt,
                                             user=user, password=password, extra=extra))
            for label, extra in cases.items()]


def frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Rows of :func:`row` as a table, ``context`` (the pg_hba rule or the trust store) filled with an empty cell where it does not apply."""
    table = pd.DataFrame(list(rows))
    if "context" in table:
        table["context"] = table["context"].fillna("")
    return table
