"""The guide's six server layers (Fase #2) as named, declarative units, and their factories.

Why this module exists: the guide hardens the server in six steps -- TLS on, protocol range, ``hostssl`` in
pg_hba.conf, cipher list, CRL, CA file -- and a lesson measures what each one buys. A :class:`Layer` is
data (settings, pg_hba lines, files to deliver); :mod:`labkit.transaction` applies and undoes it;
:func:`describe` shows it. Factories (:func:`layer_ssl_on` ... :func:`layer_ca`) check their knobs before
anything changes and raise :class:`~labkit.errors.InvalidValue` naming the bad value; each takes
``unchecked=True`` where the lesson wants to show the server's own error message instead. Which pg_hba
line a client hits is :mod:`labkit.hba`'s job.
"""
from __future__ import annotations

import re
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from . import quoting
from .errors import InvalidValue
from .guide import CIPHERS_CRITICAL as GUIDE_CIPHERS
from .guide import HBA_RULES as GUIDE_HBA_RULES
from .handshake import VERSIONS as PROTOCOLS

if TYPE_CHECKING:
    from .pki import LabPKI
    from .server import LabServer

__all__ = ["TLS13_SUITES", "Layer", "TlsFile", "describe", "guide_layers", "known_settings_check", "layer_ca",
           "layer_ciphers", "layer_crl", "layer_ecdh_curve", "layer_hostssl", "layer_protocols", "layer_ssl_on",
           "layer_tls13", "passphrase_script"]

HBA_METHODS: tuple[str, ...] = ("scram-sha-256", "md5", "password", "cert", "trust", "reject")
CLIENTCERT_14: tuple[str, ...] = ("verify-ca", "verify-full")
CLIENTCERT_12: tuple[str, ...] = ("0", "1", "no-verify", "verify-ca", "verify-full")
SERVER_CERTS: tuple[str, ...] = ("server", "server_chain", "server2", "wrong_host", "server_by_root")
SERVER_KEYS: tuple[str, ...] = ("server", "server2", "wrong_host", "server_by_root", "server_encrypted")
CRL_SOURCES: tuple[str, ...] = ("combined", "intermediate_only", "dir")
CA_BUNDLES: tuple[str, ...] = ("combined", "root_only", "intermediate_only")

# The key that goes with each certificate when the caller does not name one.
_KEY_FOR_CERT = {"server": "server", "server_chain": "server", "server2": "server2", "wrong_host": "wrong_host",
                 "server_by_root": "server_by_root"}
# pg_settings.context values for which a reload is not enough.
_RESTART_CONTEXTS = frozenset({"postmaster"})
# What ``needs`` is before a server is asked: every ssl_* setting has been SIGHUP since PostgreSQL 10.
_KNOWN_CONTEXT = {"ssl": "sighup", "ssl_ca_file": "sighup", "ssl_cert_file": "sighup", "ssl_ciphers": "sighup",
                  "ssl_crl_dir": "sighup", "ssl_crl_file": "sighup", "ssl_key_file": "sighup",
                  "ssl_min_protocol_version": "sighup", "ssl_max_protocol_version": "sighup",
                  "ssl_prefer_server_ciphers": "sighup", "ssl_ecdh_curve": "sighup",
                  "ssl_dh_params_file": "sighup", "ssl_passphrase_command": "sighup",
                  "ssl_passphrase_command_supports_reload": "sighup", "ssl_tls13_ciphers": "sighup",
                  "ssl_groups": "sighup"}

LabCheck = Callable[["LabServer"], None]


# --------------------------------------------------------------------------------------------------------
# The unit
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlsFile:
    """A setting value meaning "the server-side path of the file delivered as ``tls/<name>``".

    Layers are built without a server, and the server decides where ``tls/`` is (a data directory on this
    host, or inside a container), so file paths are resolved only when :func:`labkit.transaction.apply`
    delivers the files.
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
    expectation before any server is asked; :func:`labkit.transaction.apply` asks the server (``pg_settings.context``).
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


def known_settings_check(names: Sequence[str]) -> LabCheck:
    """Every name must be a setting this server has (ssl_crl_dir only exists from PostgreSQL 14 on). Asked
    with current_setting(), not pg_settings, so an old name the server still maps counts (18 reads
    ``ssl_ecdh_curve`` as ``ssl_groups``)."""

    def check(lab: LabServer) -> None:
        rows = lab.execute("SELECT name FROM unnest(%s::text[]) AS name WHERE current_setting(name, true) IS NOT NULL",
                           (list(names),))
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


def layer_ecdh_curve(curve: str = "prime256v1") -> Layer:
    """The guide's parameter 8: ``ssl_ecdh_curve``, the one group PostgreSQL 17 and earlier offer for the key
    exchange (18 renamed it ``ssl_groups`` and takes a list). Any OpenSSL short name is written as given: the
    server is the judge (PostgreSQL 16 refuses ``X25519`` at reload, "ECDH: could not create key", because
    it builds the group as an EC key), and :func:`labkit.transaction.apply` rolls a refused reload back."""
    if not isinstance(curve, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{1,40}(:[A-Za-z][A-Za-z0-9_-]{1,40})*", curve):
        raise InvalidValue("curve", curve, "an OpenSSL curve name such as prime256v1, secp384r1 or X25519 (a "
                                           "colon list is written too, for the server to refuse before 18)")
    return Layer(key="L4", title=f"ssl_ecdh_curve = {curve}", settings={"ssl_ecdh_curve": curve},
                 guide_ref="parameter 8 (ssl_ecdh_curve)")


TLS13_SUITES: tuple[str, ...] = ("TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256",
                                  "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256")
"""RFC 8446's five TLS 1.3 suites, in OpenSSL's spelling (what ``ssl_tls13_ciphers`` takes, colon-separated)."""


def layer_tls13(suites: str | None = None, groups: str | None = None, *, unchecked: bool = False) -> Layer:
    """PostgreSQL 18's ``ssl_tls13_ciphers`` (which TLS 1.3 suites) and ``ssl_groups`` (which key-exchange
    groups, a list that replaced the one-group ``ssl_ecdh_curve``); ``None`` leaves a setting alone.

    Each value is checked for shape (colon-separated names, nothing that could end the line) and suites
    against :data:`TLS13_SUITES`; which names the server's OpenSSL really knows is the server's call at
    reload. On 17 and earlier neither setting exists: :func:`labkit.transaction.apply` refuses the layer
    before writing ("PostgreSQL 16 has no parameter"), and ``unchecked=True`` writes it anyway so the
    server's own answer can be read (it refuses the file and keeps its settings)."""
    _bool("unchecked", unchecked)
    settings: dict[str, object] = {}
    for name, value in (("ssl_tls13_ciphers", suites), ("ssl_groups", groups)):
        if value is None:
            continue
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]+(:[A-Za-z0-9_-]+)*", value):
            raise InvalidValue(name, value, "colon-separated OpenSSL names, e.g. 'TLS_AES_256_GCM_SHA384' or "
                                            "'X25519:prime256v1'")
        unknown = [s for s in value.split(":") if s not in TLS13_SUITES] if name == "ssl_tls13_ciphers" else []
        if unknown and not unchecked:
            raise InvalidValue(name, unknown[0], TLS13_SUITES, "pass unchecked=True to see the server refuse it")
        settings[name] = value
    if not settings:
        raise InvalidValue("suites/groups", None, "at least one of suites= or groups=")
    return Layer(key="L4b", title="TLS 1.3 suites and groups: " + ", ".join(f"{k} = {v}" for k, v in settings.items()),
                 settings=settings, guide_ref="parameter 8 (ssl_ecdh_curve), PostgreSQL 18's successors",
                 explanation=("TLS 1.3 suites are not governed by ssl_ciphers; PostgreSQL 18 names them, and "
                              "the key-exchange groups, in two settings of their own."), unchecked=unchecked)


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
        checks = (known_settings_check(["ssl_crl_dir"]),)
    else:
        path = pki.paths.combined_crl if source == "combined" else pki.paths.intermediate_crl
        files = {path.name: path}
        settings = {"ssl_crl_file": TlsFile(path.name), "ssl_crl_dir": None}
        checks = (known_settings_check(["ssl_crl_file"]),)
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


def passphrase_script(passphrase_file: str = "passphrase.txt") -> bytes:
    """A POSIX shell script for ``ssl_passphrase_command`` that prints the passphrase kept in a file next
    to it (so the secret is never written into the script or into postgresql.conf)."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+", passphrase_file):
        raise InvalidValue("passphrase_file", passphrase_file, "a plain file name (letters, digits, '.', '_', '-')")
    return ("#!/bin/sh\n"
            "# ssl_passphrase_command: print the server key's passphrase on stdout, nothing else.\n"
            f'exec cat "$(dirname "$0")/{passphrase_file}"\n').encode()
