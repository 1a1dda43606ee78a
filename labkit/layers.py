"""The guide's six server layers (Fase #2) as named, declarative units that can be applied and undone.

Why this module exists: the guide hardens the server in six steps -- TLS on, protocol range, ``hostssl`` in
pg_hba.conf, cipher list, CRL, CA file -- and asks you to check each one (``pg_file_settings``,
``pg_hba_file_rules``, the log after the reload). A lesson that measures what each step buys must be able to
switch one step on, observe, and switch it off again without leaving the server half-configured. So a
:class:`Layer` is data (settings, pg_hba lines, files to deliver), and :func:`apply` is a transaction:

    validate (values, files, what this server version accepts) -> deliver files -> write settings / pg_hba
    -> reload (or restart) -> read both error views and the log -> keep, or roll back and say why.

PostgreSQL itself keeps the previous configuration when a reload fails (``pg_hba.conf was not reloaded``,
``SSL configuration was not reloaded``), but the *files* stay broken, so the next unrelated reload or
restart would trip over them. Rolling the files back too is what leaves the lab exactly as it was.

Factories (:func:`layer_ssl_on` ... :func:`layer_ca`) check their knobs before anything changes and raise
:class:`~labkit.errors.InvalidValue` naming the bad value; each takes ``unchecked=True`` where the lesson
wants to show the server's own error message instead. :func:`hba_first_match` makes pg_hba's
first-match rule visible: the guide lists a scram line and then a cert line for the same user, and the
second one is never reached.
"""
from __future__ import annotations

import ipaddress
import json
import re
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import quoting
from .errors import InvalidValue, LabkitError

if TYPE_CHECKING:
    from .pki import LabPKI
    from .server import LabServer

__all__ = [
    "ApplyResult", "Layer", "TlsFile", "applied", "apply", "describe", "guide_layers", "hba_first_match",
    "layer_ca", "layer_ciphers", "layer_crl", "layer_hostssl", "layer_protocols", "layer_ssl_on", "revert",
    "server_needs",
]

TRACK_FILE = "layers.json"
"""Name of the file, next to the workspace's state.json, that records which layers are applied."""

PROTOCOLS: tuple[str, ...] = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
HBA_METHODS: tuple[str, ...] = ("scram-sha-256", "md5", "password", "cert", "trust", "reject")
CLIENTCERT_14: tuple[str, ...] = ("verify-ca", "verify-full")
CLIENTCERT_12: tuple[str, ...] = ("0", "1", "no-verify", "verify-ca", "verify-full")
SERVER_CERTS: tuple[str, ...] = ("server", "server_chain", "server2", "wrong_host", "server_by_root")
SERVER_KEYS: tuple[str, ...] = ("server", "server2", "wrong_host", "server_by_root", "server_encrypted")
CRL_SOURCES: tuple[str, ...] = ("combined", "intermediate_only", "dir")
CA_BUNDLES: tuple[str, ...] = ("combined", "root_only", "intermediate_only")
GUIDE_CIPHERS = "HIGH:!aNULL:!MD5:!3DES:!RC4:!DES:!IDEA:!RC2"
GUIDE_HBA_RULES: tuple[str, ...] = (
    "hostssl  all  conssl  0.0.0.0/0  scram-sha-256",
    "hostssl  all  conssl  0.0.0.0/0  cert  clientcert=verify-full",
)

# The key that goes with each certificate when the caller does not name one.
_KEY_FOR_CERT = {"server": "server", "server_chain": "server", "server2": "server2", "wrong_host": "wrong_host",
                 "server_by_root": "server_by_root"}
# What the server reports after a reload that it did not (fully) take. PostgreSQL keeps the old
# configuration in those cases, which is why pg_settings alone would not show the mistake.
_FAILURE_MARKERS = ("was not reloaded", "could not load")
# pg_settings.context values for which a reload is not enough.
_RESTART_CONTEXTS = frozenset({"postmaster"})
# What ``needs`` is before a server is asked: every ssl_* setting has been SIGHUP since PostgreSQL 10.
_KNOWN_CONTEXT = {"ssl": "sighup", "ssl_ca_file": "sighup", "ssl_cert_file": "sighup", "ssl_ciphers": "sighup",
                  "ssl_crl_dir": "sighup", "ssl_crl_file": "sighup", "ssl_key_file": "sighup",
                  "ssl_min_protocol_version": "sighup", "ssl_max_protocol_version": "sighup",
                  "ssl_prefer_server_ciphers": "sighup", "ssl_ecdh_curve": "sighup",
                  "ssl_dh_params_file": "sighup", "ssl_passphrase_command": "sighup",
                  "ssl_passphrase_command_supports_reload": "sighup"}

LabCheck = Callable[["LabServer"], None]


# --------------------------------------------------------------------------------------------------------
# The unit
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsFile:
    """A setting value meaning "the server-side path of the file delivered as ``tls/<name>``".

    Layers are built without a server, and the server decides where ``tls/`` is (a data directory on this
    host, or inside a container), so file paths are resolved only when :func:`apply` delivers the files.
    """

    name: str

    def __str__(self) -> str:
        return f"tls/{self.name}"


@dataclass(frozen=True)
class Layer:
    """One hardening step: what it writes to postgresql.conf and pg_hba.conf, and which files it needs.

    ``settings`` values are plain Python values (formatted by the server module), :class:`TlsFile`
    references, or ``None`` to remove a setting. ``hba_rules`` of ``None`` leaves pg_hba.conf alone.
    ``files`` maps a name under the server's ``tls/`` folder to a file on this host. ``needs`` is the
    expectation before any server is asked; :func:`apply` asks the server (``pg_settings.context``).
    ``checks`` are extra validations that depend on the server (e.g. its major version).
    """

    key: str
    title: str
    settings: Mapping[str, object] = field(default_factory=dict)
    hba_rules: tuple[str, ...] | None = None
    files: Mapping[str, Path] = field(default_factory=dict)
    needs: str = "reload"
    guide_ref: str = ""
    explanation: str = ""
    unchecked: bool = False
    checks: tuple[LabCheck, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key.strip():
            raise InvalidValue("key", self.key, "a non-empty string such as 'L1'")
        if self.needs not in ("reload", "restart"):
            raise InvalidValue("needs", self.needs, ("reload", "restart"))
        # Private copies: a frozen layer must not change because the caller's dict did.
        object.__setattr__(self, "settings", dict(self.settings))
        object.__setattr__(self, "files", {str(k): Path(v) for k, v in self.files.items()})
        if self.hba_rules is not None:
            object.__setattr__(self, "hba_rules", tuple(self.hba_rules))

    def __hash__(self) -> int:
        return hash((self.key, self.title, repr(sorted(self.settings.items(), key=lambda kv: kv[0])),
                     self.hba_rules))


@dataclass
class ApplyResult:
    """What :func:`apply` or :func:`revert` did, in the terms the guide uses to check a change.

    ``ok`` is False when the server rejected the change; ``rolled_back`` then says the previous files were
    written back (and reloaded), and ``file_errors`` / ``hba_errors`` / ``log`` hold the evidence from the
    rejected attempt, not from the rollback.
    """

    layers: list[str]
    ok: bool
    action: str
    file_errors: pd.DataFrame
    hba_errors: pd.DataFrame
    log: list[str]
    rolled_back: bool
    seconds: float
    reason: str = ""

    @property
    def problems(self) -> list[str]:
        """The log lines that made the change fail, with the DETAIL/CONTEXT lines that follow them."""
        return _problem_lines(self.log)

    def summary(self) -> pd.DataFrame:
        """One row per finding (or one row saying all is well), for a notebook cell."""
        head = {"layers": ", ".join(self.layers), "ok": self.ok, "action": self.action,
                "rolled_back": self.rolled_back, "seconds": round(self.seconds, 4)}
        rows: list[dict[str, Any]] = []
        for rec in self.file_errors.to_dict("records"):
            rows.append({**head, "source": "pg_file_settings",
                         "detail": f"{rec.get('name')} = {rec.get('setting')!r}: {rec.get('error')}"})
        for rec in self.hba_errors.to_dict("records"):
            rows.append({**head, "source": "pg_hba_file_rules",
                         "detail": f"line {rec.get('line_number')}: {rec.get('error')}"})
        for line in self.problems:
            rows.append({**head, "source": "server log", "detail": line})
        if not rows:
            rows.append({**head, "source": "", "detail": self.reason or "applied; no errors"})
        elif self.reason:
            rows.insert(0, {**head, "source": "labkit", "detail": self.reason})
        return pd.DataFrame(rows, columns=[*head, "source", "detail"])


# --------------------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------------------


def _needs_for(names: Iterable[str]) -> str:
    return "restart" if any(_KNOWN_CONTEXT.get(n, "sighup") in _RESTART_CONTEXTS for n in names) else "reload"


def _bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(name, value, (True, False))
    return value


def _pki_file(pki: LabPKI, attr: str) -> Path:
    path = Path(getattr(pki.paths, attr))
    return path


def _file_choice(pki: LabPKI, param: str, value: object, choices: Sequence[str], suffix: str,
                 unchecked: bool) -> tuple[str, Path | None, str | None]:
    """Resolve a certificate/key knob to (server-side name, host path, literal path).

    A choice name picks a PKI file; a Path picks any host file (which must exist unless ``unchecked``, in
    which case a missing one is written as a literal path so the lesson sees the server's own error).
    """
    if isinstance(value, str) and value in choices:
        path = _pki_file(pki, f"{value}_{suffix}")
        return path.name, path, None
    if isinstance(value, Path):
        if value.is_file():
            return value.name, value, None
        if unchecked:
            return value.name, None, str(value)
        raise InvalidValue(param, str(value), f"one of {', '.join(map(repr, choices))} or an existing file",
                           "the file does not exist on this host; pass unchecked=True to see the server's error")
    raise InvalidValue(param, value, choices, "or a pathlib.Path to a file on this host")


def _clientcert_problem(major: int, clientcert: str, method: str) -> InvalidValue | None:
    """Why ``clientcert`` is not accepted by PostgreSQL ``major`` for ``method`` (None when it is)."""
    allowed = CLIENTCERT_14 if major >= 14 else CLIENTCERT_12
    if clientcert not in allowed:
        return InvalidValue(
            "clientcert", clientcert, allowed,
            f"PostgreSQL {major} rejects clientcert={clientcert} in pg_hba.conf "
            "(14 removed 0/1/no-verify); pass unchecked=True to see the server's own error")
    if method == "cert":
        cert_allowed = ("verify-full",) if major >= 14 else ("1", "verify-ca", "verify-full")
        if clientcert not in cert_allowed:
            return InvalidValue(
                "clientcert", clientcert, cert_allowed,
                f"with method 'cert' PostgreSQL {major} always verifies the certificate"
                + (" and its CN, so only verify-full is accepted" if major >= 14 else ""))
    return None


def _clientcert_check(clientcert: str, method: str) -> LabCheck:
    """A check run at apply time, because which clientcert values are valid depends on the server major."""

    def check(lab: LabServer) -> None:
        problem = _clientcert_problem(lab.state.pg_major, clientcert, method)
        if problem is not None:
            raise problem

    return check


def _known_settings_check(names: Sequence[str]) -> LabCheck:
    """Every name must be a setting this server has (ssl_crl_dir only exists from PostgreSQL 14 on)."""

    def check(lab: LabServer) -> None:
        rows = lab.execute("SELECT name FROM pg_settings WHERE name = ANY(%s)", (list(names),))
        known = {r["name"] for r in rows}
        for name in names:
            if name not in known:
                raise InvalidValue("setting", name, f"settings PostgreSQL {lab.state.pg_major} knows",
                                   f"PostgreSQL {lab.state.pg_major} has no parameter {name!r}")

    return check


# --------------------------------------------------------------------------------------------------------
# The six layers
# --------------------------------------------------------------------------------------------------------


def layer_ssl_on(pki: LabPKI, cert: str | Path = "server", key: str | Path | None = None, *,
                 unchecked: bool = False) -> Layer:
    """L1: ``ssl = on`` with a certificate and key from the lab PKI.

    ``cert`` picks what the server presents: ``server`` (leaf only: a client must trust the intermediate
    too, as the guide's ``sslrootcert=combined.crt`` does), ``server_chain`` (leaf + intermediate: the root
    alone is enough for the client), ``server2``, ``wrong_host`` (fails verify-full), ``server_by_root``.
    ``key`` defaults to the key of that certificate; a mismatching key or a Path that does not exist
    (``unchecked=True``) lets a lesson watch the server refuse the reload.
    """
    _bool("unchecked", unchecked)
    cert_name, cert_path, cert_literal = _file_choice(pki, "cert", cert, SERVER_CERTS, "crt", unchecked)
    if key is None:
        key = _KEY_FOR_CERT[cert] if isinstance(cert, str) else None
        if key is None:
            raise InvalidValue("key", None, SERVER_KEYS, "a custom certificate needs its key named explicitly")
    key_name, key_path, key_literal = _file_choice(pki, "key", key, SERVER_KEYS, "key", unchecked)
    files: dict[str, Path] = {}
    settings: dict[str, object] = {"ssl": True}
    for setting, name, path, literal in (("ssl_cert_file", cert_name, cert_path, cert_literal),
                                         ("ssl_key_file", key_name, key_path, key_literal)):
        if path is not None:
            files[name] = path
            settings[setting] = TlsFile(name)
        else:
            settings[setting] = literal
    return Layer(
        key="L1", title="TLS on: server certificate and key", settings=settings, files=files,
        needs=_needs_for(settings), guide_ref="Fase #2, paso 2: Primera capa (postgresql.conf)",
        explanation=("Without a certificate the lab trusts, the server can only offer the bootstrap one, so "
                     "no client can verify whom it talks to. This layer makes the server present a "
                     f"certificate ({cert_name}) that chains to the lab root."),
        unchecked=unchecked,
    )


def layer_protocols(min: str = "TLSv1.2", max: str = "TLSv1.3", *, unchecked: bool = False) -> Layer:  # noqa: A002
    """L2: the TLS protocol range (``ssl_min_protocol_version`` / ``ssl_max_protocol_version``).

    ``max=""`` means "no upper bound". A range with min above max is refused here because the server
    would refuse it at reload ("could not set SSL protocol version range") and keep the old range;
    ``unchecked=True`` writes it anyway so the lesson can read that message in the log.
    """
    _bool("unchecked", unchecked)
    if not unchecked:
        hint = "PostgreSQL spells TLS 1.0 as 'TLSv1'" if min == "TLSv1.0" or max == "TLSv1.0" else None
        if min not in PROTOCOLS:
            raise InvalidValue("min", min, PROTOCOLS, hint)
        if max not in ("", *PROTOCOLS):
            raise InvalidValue("max", max, ("", *PROTOCOLS), hint or "'' means no upper bound")
        if max and PROTOCOLS.index(min) > PROTOCOLS.index(max):
            raise InvalidValue(
                "min", min, f"a version not above max={max!r} ({', '.join(PROTOCOLS[:PROTOCOLS.index(max) + 1])})",
                "the server would refuse this at reload with \"invalid SSL protocol version range\" "
                "(logged as 'could not set SSL protocol version range') and keep the old range; "
                "pass unchecked=True to see it happen")
    settings = {"ssl_min_protocol_version": min, "ssl_max_protocol_version": max}
    return Layer(
        key="L2", title=f"TLS protocol range {min or '(any)'} .. {max or '(any)'}", settings=settings,
        needs=_needs_for(settings), guide_ref="Fase #2, paso 3: Segunda capa (postgresql.conf)",
        explanation=("Old protocol versions carry weaknesses a client cannot avoid once the server accepts "
                     "them; a floor makes the server refuse such clients during the handshake."),
        unchecked=unchecked,
    )


def layer_hostssl(method: str = "scram-sha-256", users: Sequence[str] = ("conssl",),
                  clientcert: str | int | None = None, address: str = "0.0.0.0/0", database: str = "all",
                  extra_rules: Sequence[str] = (), *, pg_major: int | None = None, unchecked: bool = False) -> Layer:
    """L3: ``hostssl`` lines in pg_hba.conf, one per user, then ``extra_rules``.

    A ``hostssl`` line only matches connections that use TLS, so once these are the only TCP lines a
    client with ``sslmode=disable`` finds no entry at all. Which ``clientcert`` values exist depends on the
    server (14 dropped 0/1/no-verify): that is checked when the layer is applied, or here when
    ``pg_major`` is given. ``unchecked=True`` skips every check so the server's pg_hba error can be seen.
    """
    _bool("unchecked", unchecked)
    users_t = (users,) if isinstance(users, str) else tuple(users)
    extra_t = (extra_rules,) if isinstance(extra_rules, str) else tuple(extra_rules)
    cc = None if clientcert is None else str(clientcert)
    checks: tuple[LabCheck, ...] = ()
    # The shape of every field is checked even when unchecked: a value may be wrong on purpose, but it can
    # never widen the rule (a comma list), add a line or include a file.
    if not users_t:
        raise InvalidValue("users", users, "at least one role name (or 'all')")
    for user in users_t:
        quoting.hba_token("users", user, "one role name without blanks or commas, or 'all'")
    quoting.hba_token("database", database, "'all', 'sameuser', or one database name without blanks or commas")
    quoting.hba_token("method", method, "an authentication method name")
    quoting.hba_address(address)
    for rule in extra_t:
        quoting.hba_line(rule)
    if cc is not None:
        quoting.hba_option(f"clientcert={cc}")
    if not unchecked:
        if method not in HBA_METHODS:
            raise InvalidValue("method", method, HBA_METHODS)
        if cc is not None:
            if cc not in CLIENTCERT_12:
                raise InvalidValue("clientcert", clientcert, CLIENTCERT_12)
            checks = (_clientcert_check(cc, method),)
            if pg_major is not None:
                problem = _clientcert_problem(int(pg_major), cc, method)
                if problem is not None:
                    raise problem
    option = f"  clientcert={cc}" if cc is not None else ""
    rules = tuple(f"hostssl  {database}  {user}  {address}  {method}{option}" for user in users_t) + extra_t
    return Layer(
        key="L3", title=f"pg_hba: hostssl only ({method}{', clientcert=' + cc if cc else ''})",
        hba_rules=rules, needs="reload", guide_ref="Fase #2, paso 4: Tercera capa (pg_hba.conf)",
        explanation=("Turning TLS on does not stop a client from connecting without it; only pg_hba.conf "
                     "can. With hostssl lines as the only TCP entries, an unencrypted attempt finds no "
                     "matching line and is refused before any password is asked."),
        unchecked=unchecked, checks=checks,
    )


def layer_ciphers(ciphers: str = GUIDE_CIPHERS, prefer_server: bool = True, *, unchecked: bool = False) -> Layer:
    """L4: ``ssl_ciphers`` and ``ssl_prefer_server_ciphers``.

    The string is checked with this host's OpenSSL (Python's ``ssl`` module): if it selects no cipher at
    all, the server (with the same OpenSSL rules) would refuse it at reload. ``ssl_ciphers`` governs TLS
    1.2 and below only; TLS 1.3 suites are not configurable here.
    """
    _bool("unchecked", unchecked)
    _bool("prefer_server", prefer_server)
    if not unchecked:
        if not isinstance(ciphers, str) or not ciphers.strip():
            raise InvalidValue("ciphers", ciphers, "an OpenSSL cipher list such as " + repr(GUIDE_CIPHERS))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.set_ciphers(ciphers)
        except ssl.SSLError:
            raise InvalidValue(
                "ciphers", ciphers, f"an OpenSSL cipher list that selects at least one cipher ({ssl.OPENSSL_VERSION})",
                "TLS 1.3 suite names (TLS_AES_...) are not set by ssl_ciphers; use names like "
                "ECDHE-ECDSA-AES128-GCM-SHA256 or keywords like HIGH") from None
    settings = {"ssl_ciphers": ciphers, "ssl_prefer_server_ciphers": prefer_server}
    return Layer(
        key="L4", title="Cipher list for TLS 1.2 and below", settings=settings, needs=_needs_for(settings),
        guide_ref="Fase #2, paso 5: Cuarta capa (postgresql.conf)",
        explanation=("A TLS 1.2 handshake settles on any suite both sides accept, weak ones included; the "
                     "list removes those from the server's offer and, with server preference, lets the "
                     "server pick. TLS 1.3 suites are unaffected."),
        unchecked=unchecked,
    )


def layer_crl(pki: LabPKI, source: str = "combined") -> Layer:
    """L5: certificate revocation, from ``combined.crl``, the intermediate's CRL alone, or a hashed dir.

    PostgreSQL checks CRLs for *every* certificate of the client's chain. With only the intermediate's CRL
    the intermediate itself (depth 1) has no CRL to be checked against, so every client certificate fails
    ("unable to get certificate CRL" at depth 1) -- the guide's error. CRLs matter only when the server
    verifies client certificates, i.e. together with L6 (``ssl_ca_file``).
    """
    if source not in CRL_SOURCES:
        raise InvalidValue("source", source, CRL_SOURCES)
    files: dict[str, Path]
    settings: dict[str, object]
    checks: tuple[LabCheck, ...] = ()
    if source == "dir":
        folder = pki.paths.crl_dir
        found = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
        if not found:
            raise InvalidValue("source", source, CRL_SOURCES, f"{folder} holds no CRL; run LabPKI.ensure again")
        files = {f"crl/{p.name}": p for p in found}
        settings = {"ssl_crl_dir": TlsFile("crl"), "ssl_crl_file": None}
        checks = (_known_settings_check(["ssl_crl_dir"]),)
    else:
        path = pki.paths.combined_crl if source == "combined" else pki.paths.intermediate_crl
        files = {path.name: path}
        settings = {"ssl_crl_file": TlsFile(path.name), "ssl_crl_dir": None}
        checks = (_known_settings_check(["ssl_crl_file"]),)
    return Layer(
        key="L5", title=f"Revocation list ({source})", settings=settings, files=files,
        needs=_needs_for(settings), guide_ref="Fase #2, paso 7: Quinta capa (postgresql.conf)",
        explanation=("A stolen client key stays usable until its certificate expires unless the server "
                     "consults a revocation list; with one, a revoked certificate fails the handshake."),
        checks=checks,
    )


def layer_ca(pki: LabPKI, bundle: str = "combined") -> Layer:
    """L6: ``ssl_ca_file``, the CAs the server trusts for client certificates (and asks clients for one).

    ``combined`` (intermediate + root) verifies a client that sends only its leaf; ``root_only`` does not
    (the server cannot build the chain: the client reads ``tlsv1 alert unknown ca``) unless the client
    sends the intermediate along; ``intermediate_only`` lacks the anchor.
    """
    if bundle not in CA_BUNDLES:
        raise InvalidValue("bundle", bundle, CA_BUNDLES)
    path = {"combined": pki.paths.combined_crt, "root_only": pki.paths.root_crt,
            "intermediate_only": pki.paths.intermediate_crt}[bundle]
    settings = {"ssl_ca_file": TlsFile(path.name)}
    return Layer(
        key="L6", title=f"Client certificate CAs ({bundle})", settings=settings, files={path.name: path},
        needs=_needs_for(settings), guide_ref="Fase #2, paso 8: Sexta capa (postgresql.conf)",
        explanation=("To accept a client certificate the server must be able to chain it to a CA it trusts; "
                     "ssl_ca_file is that list, and it must hold every CA between the client's leaf and the "
                     "root unless the client sends them."),
    )


def guide_layers(pki: LabPKI) -> list[Layer]:
    """The six layers with exactly the guide's values (Fase #2, steps 2-8)."""
    return [
        layer_ssl_on(pki),
        layer_protocols("TLSv1.2", "TLSv1.3"),
        layer_hostssl("scram-sha-256", ("conssl",), extra_rules=GUIDE_HBA_RULES[1:]),
        layer_ciphers(GUIDE_CIPHERS, True),
        layer_crl(pki, "combined"),
        layer_ca(pki, "combined"),
    ]


# --------------------------------------------------------------------------------------------------------
# Applying
# --------------------------------------------------------------------------------------------------------


@dataclass
class _Snapshot:
    """Everything apply() may change, as it was: formatted settings, lesson pg_hba rules, tls/ files."""

    settings: dict[str, str]
    hba_rules: list[str] | None
    files: dict[str, bytes | None]


def _take_snapshot(lab: LabServer, file_names: Iterable[str]) -> _Snapshot:
    files: dict[str, bytes | None] = {}
    for name in file_names:
        try:
            files[name] = lab.backend.read_file(f"tls/{name}")
        except (FileNotFoundError, OSError, LabkitError):
            files[name] = None
    return _Snapshot(lab.settings, lab.hba_rules, files)


def _restore(lab: LabServer, snap: _Snapshot) -> None:
    lab.restore_settings(snap.settings)
    lab.set_hba_rules(snap.hba_rules)
    for name, data in snap.files.items():
        if data is None:
            lab.backend.remove_file(f"tls/{name}")
        else:
            lab.backend.write_file(f"tls/{name}", data, _file_mode(name))


def _file_mode(name: str) -> int:
    return 0o600 if name.endswith(".key") else 0o644


def _server_contexts(lab: LabServer, names: Iterable[str]) -> dict[str, str]:
    rows = lab.execute("SELECT name, context FROM pg_settings WHERE name = ANY(%s)", (sorted(set(names)),))
    return {r["name"]: r["context"] for r in rows}


def server_needs(lab: LabServer, *layers: Layer) -> str:
    """"reload" or "restart", as the server says: any setting whose ``pg_settings.context`` is
    ``postmaster`` needs a restart; everything else (sighup, and pg_hba.conf) takes a reload."""
    names = [n for layer in layers for n in layer.settings]
    contexts = _server_contexts(lab, names) if names else {}
    return "restart" if any(c in _RESTART_CONTEXTS for c in contexts.values()) else "reload"


def _validate(lab: LabServer, layers: Sequence[Layer]) -> None:
    """Everything that can be known before touching the server; raises InvalidValue."""
    if not layers:
        raise InvalidValue("layers", (), "at least one Layer", "e.g. apply(lab, layer_ssl_on(pki))")
    for layer in layers:
        if not isinstance(layer, Layer):
            raise InvalidValue("layers", layer, "Layer objects from the layer_* factories or guide_layers()")
        for name, path in layer.files.items():
            if not path.is_file():
                raise InvalidValue(f"{layer.key} file {name!r}", str(path), "an existing file on this host",
                                   "the PKI may have been removed; call LabPKI.ensure again")
        for check in layer.checks:
            check(lab)
        if not layer.unchecked and layer.settings:
            _known_settings_check(list(layer.settings))(lab)


def _merge(layers: Sequence[Layer]) -> tuple[dict[str, object], list[str] | None, dict[str, Path]]:
    settings: dict[str, object] = {}
    rules: list[str] | None = None
    files: dict[str, Path] = {}
    for layer in layers:
        settings.update(layer.settings)
        files.update(layer.files)
        if layer.hba_rules is not None:
            rules = (rules or []) + list(layer.hba_rules)
    return settings, rules, files


def _resolve(lab: LabServer, settings: Mapping[str, object], delivered: Mapping[str, str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in settings.items():
        if isinstance(value, TlsFile):
            out[name] = delivered.get(value.name) or lab.backend.server_path(f"tls/{value.name}")
        else:
            out[name] = value
    return out


_ROUTINE = re.compile(
    r'received SIGHUP|parameter "[^"]+" (changed to|removed from configuration file)|connection (received|authorized|'
    r'authenticated)|Connection matched|database system|listening on|starting PostgreSQL|shut ?down|checkpoint|'
    r'redo |background worker|aborting any active transactions|received fast shutdown|autovacuum')
_PID = re.compile(r"\[(\d+)\]")


def _problem_lines(lines: Sequence[str]) -> list[str]:
    """The lines of a reload/restart log that explain a failure, i.e. everything but routine chatter.

    For a reload only the postmaster's own lines count (its pid is on the "received SIGHUP" line), so a
    client that happens to fail at the same moment is not mistaken for the reason. Why not just the
    "was not reloaded" line: the cause is logged before it ("invalid value for clientcert", "private key
    file ... cannot be reloaded because it requires a passphrase"), and for some pg_hba mistakes the log is
    the only place that names it (see :func:`_hba_errors`).
    """
    postmaster = None
    for line in lines:
        if "received SIGHUP" in line:
            match = _PID.search(line)
            postmaster = match.group(1) if match else None
            break
    found: list[str] = []
    keep = False
    for line in lines:
        match = _PID.search(line)
        if match is None or line.startswith(("\t", " ")):  # continuation of the previous entry
            if keep:
                found.append(line)
            continue
        keep = (postmaster is None or match.group(1) == postmaster) and not _ROUTINE.search(line)
        if keep:
            found.append(line)
    return found


def _hba_errors(lab: LabServer) -> pd.DataFrame:
    """pg_hba_file_rules rows with an error -- and rows the server could not parse but gave no error for.

    Measured on PostgreSQL 16.14 and 15.18: a line with ``clientcert=1`` shows up with every column NULL
    and ``error`` NULL too (the reason, "invalid value for clientcert", goes to the log only), so
    ``WHERE error IS NOT NULL`` -- the guide's check -- misses it. ``type IS NULL`` catches it.
    """
    frame = lab.query("SELECT line_number, type, database, user_name, address, auth_method, options, "
                      "coalesce(error, 'line not understood (the server gives no reason here; see the log)') "
                      "AS error FROM pg_hba_file_rules WHERE error IS NOT NULL OR type IS NULL "
                      "ORDER BY line_number")
    return frame


def _run(lab: LabServer, action: str) -> tuple[pd.DataFrame, pd.DataFrame, list[str], str]:
    """Reload or restart; return (file errors, hba errors, log lines, failure text or '')."""
    from .errors import ServerStartError

    if action == "reload":
        # LabServer.reload returns only after the postmaster has also reloaded pg_hba.conf and the SSL
        # files, so "SSL configuration was not reloaded" is already in result.log.
        result = lab.reload()
        lines = result.log.splitlines()
        file_errors, hba_errors = result.file_errors, _hba_errors(lab)
    else:
        mark = lab.log_mark()
        try:
            lab.restart()
        except ServerStartError as exc:
            lines = lab.log_since(mark).splitlines()
            return pd.DataFrame(), pd.DataFrame(), lines, f"the server did not start again: {exc.message}"
        lines = lab.log_since(mark).splitlines()
        file_errors, hba_errors = lab.file_setting_errors(), _hba_errors(lab)
    reasons = []
    if not file_errors.empty:
        reasons.append(f"postgresql.conf has {len(file_errors)} error(s) (pg_file_settings)")
    if not hba_errors.empty:
        reasons.append(f"pg_hba.conf has {len(hba_errors)} error(s) (pg_hba_file_rules)")
    bad = [ln for ln in lines if any(m in ln for m in _FAILURE_MARKERS)]
    if bad:
        reasons.append("the server log says: " + " | ".join(_strip_prefix(b) for b in bad))
    return file_errors, hba_errors, lines, "; ".join(reasons)


def _strip_prefix(line: str) -> str:
    match = re.search(r"\b(LOG|FATAL|ERROR|WARNING|DETAIL):\s+(.*)", line)
    return match.group(2) if match else line.strip()


def _change(lab: LabServer, keys: list[str], settings: Mapping[str, object] | None, formatted: Mapping[str, str] | None,
            hba: tuple[bool, list[str] | None], files: Mapping[str, Path], action: str) -> ApplyResult:
    """The transaction shared by apply() and revert(): snapshot, write, reload/restart, keep or roll back."""
    started = time.perf_counter()
    snap = _take_snapshot(lab, files)
    try:
        delivered = {name: lab.deliver(name, path, _file_mode(name)) for name, path in files.items()}
        if formatted is not None:
            lab.restore_settings(formatted)
        if settings:
            lab.set_settings(_resolve(lab, settings, delivered))
        if hba[0]:
            lab.set_hba_rules(hba[1])
    except BaseException:
        _restore(lab, snap)
        raise
    try:
        file_errors, hba_errors, lines, failure = _run(lab, action)
    except LabkitError:
        # The server did not confirm the reload (timeout) or did not come back: put the files back so the
        # lab is at least consistent on disk, try once more to load them, and let the caller see the error.
        _restore(lab, snap)
        try:
            if action == "restart" and not lab.backend.is_running():
                lab.start()
            else:
                lab.reload()
        except LabkitError:
            pass
        raise
    if not failure:
        return ApplyResult(keys, True, action, file_errors, hba_errors, lines, False,
                           time.perf_counter() - started)
    _restore(lab, snap)
    if action == "restart" and not lab.backend.is_running():
        lab.start()
        rb_failure = ""
    else:
        _, _, _, rb_failure = _run(lab, action)
    reason = f"rejected by the server, rolled back: {failure}"
    if rb_failure:
        reason += f"; the rollback {action} also reported: {rb_failure}"
    return ApplyResult(keys, False, action, file_errors, hba_errors, lines, True, time.perf_counter() - started,
                       reason)


def apply(lab: LabServer, *layers: Layer) -> ApplyResult:
    """Apply ``layers`` together (later layers win on the same setting; pg_hba rules are concatenated).

    Validation (values, files, what this server version accepts) happens first and raises
    :class:`InvalidValue` with nothing changed. Then files are delivered, settings and pg_hba written, and
    the server reloaded -- or restarted when a setting's ``pg_settings.context`` is ``postmaster``. If the
    server rejects the change (errors in either view, or "was not reloaded" / "could not load" in the log)
    everything is written back as it was and reloaded again, and the result says why.
    """
    _validate(lab, layers)
    settings, rules, files = _merge(layers)
    action = server_needs(lab, *layers)
    before = lab.settings
    hba_before = lab.hba_rules
    result = _change(lab, [layer.key for layer in layers], settings, None, (rules is not None, rules), files, action)
    if result.ok:
        _track_apply(lab, layers, before, hba_before)
    return result


def revert(lab: LabServer, *layers: Layer | str) -> ApplyResult:
    """Undo layers: each setting goes back to what it was before :func:`apply` (when that was tracked and
    the layer is still in force), otherwise it is removed; pg_hba rules go back likewise (to the default
    rules when nothing was tracked). Accepts Layer objects or keys of applied layers."""
    if not layers:
        raise InvalidValue("layers", (), "at least one Layer or applied layer key")
    entries = {e["key"]: e for e in _live_entries(lab)}
    new_settings = lab.settings
    hba: tuple[bool, list[str] | None] = (False, None)
    keys: list[str] = []
    names: list[str] = []
    for item in layers:
        if isinstance(item, Layer):
            key, setting_names, sets_hba = item.key, list(item.settings), item.hba_rules is not None
        elif isinstance(item, str) and item in entries:
            key, setting_names, sets_hba = item, list(entries[item]["settings"]), entries[item]["hba_rules"] is not None
        else:
            raise InvalidValue("layers", item, [*entries] or "Layer objects (no layer is applied now)")
        keys.append(key)
        names += setting_names
        entry = entries.get(key)
        for name in setting_names:
            previous = entry["previous"].get(name) if entry else None
            if previous is None:
                new_settings.pop(name, None)
            else:
                new_settings[name] = previous
        if sets_hba:
            hba = (True, entry["hba_previous"] if entry else None)
    action = "restart" if any(c in _RESTART_CONTEXTS for c in _server_contexts(lab, names).values()) else "reload"
    result = _change(lab, keys, None, new_settings, hba, {}, action)
    if result.ok:
        _track_revert(lab, keys)
    return result


# --------------------------------------------------------------------------------------------------------
# Tracking what is applied (a small JSON file next to state.json)
# --------------------------------------------------------------------------------------------------------


def _track_path(lab: LabServer) -> Path:
    return lab.workspace.path / TRACK_FILE


def _read_entries(lab: LabServer) -> list[dict[str, Any]]:
    try:
        data = json.loads(_track_path(lab).read_text())
        entries = data.get("applied", []) if isinstance(data, dict) else []
        return [e for e in entries if isinstance(e, dict) and "key" in e]
    except (OSError, ValueError):
        return []


def _write_entries(lab: LabServer, entries: list[dict[str, Any]]) -> None:
    path = _track_path(lab)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"applied": entries}, indent=2))
    tmp.replace(path)


def _is_live(lab: LabServer, entry: dict[str, Any]) -> bool:
    """Still in force: every setting it wrote is still there with that value, and its pg_hba rules too.
    Anything else (a reset_config, another layer writing the same setting) means it no longer applies."""
    current = lab.settings
    for name, value in entry["settings"].items():
        if current.get(name) != value:
            return False
    if entry.get("hba_rules") is not None:
        rules = lab.hba_rules or []
        if any(rule not in rules for rule in entry["hba_rules"]):
            return False
    return True


def _live_entries(lab: LabServer) -> list[dict[str, Any]]:
    return [e for e in _read_entries(lab) if _is_live(lab, e)]


def _track_apply(lab: LabServer, layers: Sequence[Layer], before: dict[str, str],
                 hba_before: list[str] | None) -> None:
    entries = _live_entries(lab)
    by_key = {e["key"]: e for e in entries}
    for layer in layers:
        old = by_key.get(layer.key)
        previous = {n: before.get(n) for n in layer.settings}
        if old is not None:  # re-applying a key: "before" should still mean before the first application
            previous.update({n: v for n, v in old["previous"].items() if n in previous})
        entry = {
            "key": layer.key, "title": layer.title,
            "settings": {n: lab.settings.get(n) for n in layer.settings},
            "previous": previous,
            "hba_rules": list(layer.hba_rules) if layer.hba_rules is not None else None,
            "hba_previous": (old["hba_previous"] if old is not None and old.get("hba_rules") is not None
                             else hba_before),
            "applied_at": time.time(),
        }
        entries = [e for e in entries if e["key"] != layer.key] + [entry]
        by_key[layer.key] = entry
    _write_entries(lab, entries)


def _track_revert(lab: LabServer, keys: Sequence[str]) -> None:
    _write_entries(lab, [e for e in _live_entries(lab) if e["key"] not in keys])


def applied(lab: LabServer) -> list[str]:
    """Keys of the layers in force now, in the order they were applied (checked against the files, so a
    ``reset_config`` elsewhere is noticed)."""
    return [e["key"] for e in _live_entries(lab)]


# --------------------------------------------------------------------------------------------------------
# Showing
# --------------------------------------------------------------------------------------------------------


def _shown(value: object) -> str:
    """A setting value as it will read in labkit.conf (file references as ``tls/<name>``)."""
    if value is None:
        return "(removed)"
    if isinstance(value, TlsFile):
        return f"'<data dir>/{value}'"
    return quoting.conf_value(value)


def describe(layers: Iterable[Layer]) -> pd.DataFrame:
    """One row per layer: what it writes where, and whether it takes a reload or a restart."""
    rows = []
    for layer in layers:
        if not isinstance(layer, Layer):
            raise InvalidValue("layers", layer, "Layer objects")
        rows.append({
            "key": layer.key, "title": layer.title,
            "settings": "\n".join(f"{n} = {_shown(v)}" for n, v in layer.settings.items()),
            "hba_rules": "(unchanged)" if layer.hba_rules is None else "\n".join(layer.hba_rules),
            "files": "\n".join(f"tls/{n} <- {p}" for n, p in layer.files.items()),
            "needs": layer.needs, "guide_ref": layer.guide_ref, "explanation": layer.explanation,
        })
    return pd.DataFrame(rows, columns=["key", "title", "settings", "hba_rules", "files", "needs", "guide_ref",
                                       "explanation"])


# --------------------------------------------------------------------------------------------------------
# pg_hba first match
# --------------------------------------------------------------------------------------------------------

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


def hba_first_match(lab: LabServer, *, conn_type: str = "hostssl", database: str = "postgres", user: str = "conssl",
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
