"""The audit's checks: each has an id, a title, a verdict computed from an observation, the evidence, the
fix, and the lesson of this course that teaches it.

Verdicts: ``pass``, ``fail``, ``warn`` (not wrong, but worth a look), ``not-measurable`` (the evidence says
why: no CA bundle given, a privilege the role lacks, a version the client cannot offer). A check never
looks at a setting's name to guess the effect when the effect itself can be observed: the TLS floor is
judged on handshakes (outside) *and* on ``ssl_min_protocol_version`` (inside), each saying where it was seen.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass

from . import certs
from .inside import InsideView
from .outside import PLAINTEXT_AUTH_ASKED, PLAINTEXT_CONNECTED, PLAINTEXT_REFUSED, OutsideView
from .profiles import VERSION_ORDER, Profile
from .targets import Target

PASS, FAIL, WARN, NOT_MEASURABLE = "pass", "fail", "warn", "not-measurable"
VERDICTS: tuple[str, ...] = (PASS, FAIL, WARN, NOT_MEASURABLE)

END_OF_LIFE: dict[int, dt.date] = {
    12: dt.date(2024, 11, 21), 13: dt.date(2025, 11, 13), 14: dt.date(2026, 11, 12),
    15: dt.date(2027, 11, 11), 16: dt.date(2028, 11, 9), 17: dt.date(2029, 11, 8), 18: dt.date(2030, 11, 14),
}
"""Final releases per major (PostgreSQL's versioning policy: five years of support)."""
EOL_WARN_DAYS = 180
TCP_TYPES = ("host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc")
WEAK_METHODS = ("trust", "password", "md5")
SIGNATURE_HASHES_BROKEN = ("md5", "sha1")


@dataclass(frozen=True)
class Context:
    """What a check may look at."""

    target: Target
    profile: Profile
    outside: OutsideView
    inside: InsideView
    now: dt.datetime


@dataclass(frozen=True)
class CheckResult:
    id: str
    title: str
    side: str
    verdict: str
    evidence: str
    fix: str
    lesson: str

    def as_json(self) -> dict[str, str]:
        return asdict(self)


Judge = Callable[[Context], tuple[str, str]]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    side: str
    """``outside`` (seen from the network, no credentials) or ``inside`` (the server's own view)."""
    fix: str
    lesson: str
    judge: Judge
    applies: Callable[[Profile], bool] = lambda profile: True
    needs_tls: bool = True
    """Outside checks that observe a handshake cannot measure anything on a server that offers no TLS."""

    def run(self, ctx: Context) -> CheckResult:
        if self.side == "inside" and not ctx.inside.connected:
            verdict, evidence = NOT_MEASURABLE, f"no inside view: {ctx.inside.error}"
        elif self.side == "outside" and self.needs_tls and ctx.outside.ssl_request != "S":
            answer = ctx.outside.ssl_request
            verdict, evidence = NOT_MEASURABLE, ("the server offers no TLS (SSLRequest answered 'N')" if answer == "N"
                                                 else f"no TLS handshake possible: {answer}")
        else:
            verdict, evidence = self.judge(ctx)
        return CheckResult(self.id, self.title, self.side, verdict, evidence, self.fix, self.lesson)


# ---------------------------------------------------------------------------------------------- outside


def _ssl_request(ctx: Context) -> tuple[str, str]:
    answer = ctx.outside.ssl_request
    if answer == "S":
        return PASS, "the server answered 'S' to SSLRequest (it offers TLS)"
    if answer == "N":
        return FAIL, "the server answered 'N' to SSLRequest: ssl is off, every connection is in clear text"
    return NOT_MEASURABLE, answer


def _tls_floor(ctx: Context) -> tuple[str, str]:
    versions, minimum = ctx.outside.versions, ctx.profile.min_tls
    below = [v for v in VERSION_ORDER if not ctx.profile.version_allowed(v)]
    accepted = [v for v in below if versions.get(v, {}).get("result") == "accepted"]
    unknown = [v for v in below if versions.get(v, {}).get("result") not in ("accepted", "refused")]
    seen = ", ".join(f"{v} {versions.get(v, {}).get('result', 'not asked')}" for v in VERSION_ORDER)
    if accepted:
        return FAIL, f"accepted below {minimum}: {', '.join(accepted)} (handshakes: {seen})"
    if unknown:
        details = "; ".join(f"{v}: {versions.get(v, {}).get('detail') or 'not asked'}" for v in unknown)
        return NOT_MEASURABLE, f"could not offer {', '.join(unknown)} ({details})"
    lowest = next((v for v in VERSION_ORDER if versions.get(v, {}).get("result") == "accepted"), None)
    return PASS, f"every version below {minimum} refused; lowest accepted {lowest} (handshakes: {seen})"


def _tls13(ctx: Context) -> tuple[str, str]:
    result = ctx.outside.versions.get("TLSv1.3", {})
    if result.get("result") == "accepted":
        return PASS, f"TLS 1.3 handshake completed ({result.get('cipher')})"
    if result.get("result") == "refused":
        verdict = FAIL if ctx.profile.require_tls13 else WARN
        return verdict, f"TLS 1.3 refused: {result.get('detail')}"
    return NOT_MEASURABLE, f"TLS 1.3 not asked: {result.get('detail') or 'no handshake'}"


def _suites(ctx: Context) -> tuple[str, str]:
    outside = ctx.outside
    missing = [v for v in outside.accepted_versions() if v not in outside.suites]
    if missing:
        return NOT_MEASURABLE, (f"suites of {', '.join(missing)} not enumerated: "
                                f"{'; '.join(outside.errors) or 'sslyze gave no result'}")
    bad = {v: [s for s in suites if not ctx.profile.suite_allowed(v, s)] for v, suites in outside.suites.items()}
    bad = {v: s for v, s in bad.items() if s}
    counts = ", ".join(f"{v}: {len(s)}" for v, s in outside.suites.items() if s)
    if bad:
        listed = "; ".join(f"{v}: {', '.join(s)}" for v, s in bad.items())
        return FAIL, f"accepted outside the {ctx.profile.name} profile -- {listed} (accepted per version: {counts})"
    return PASS, f"every accepted suite is within the {ctx.profile.name} profile (accepted per version: {counts})"


def _groups(ctx: Context) -> tuple[str, str]:
    groups, allowed = ctx.outside.groups, ctx.profile.groups or frozenset()
    if groups is None:
        return NOT_MEASURABLE, "groups not enumerated: " + ("; ".join(ctx.outside.errors) or "no result")
    extra = sorted(set(groups) - allowed)
    if extra:
        return FAIL, f"accepted groups outside {sorted(allowed)}: {', '.join(extra)} (all accepted: {groups})"
    return PASS, f"accepted groups: {', '.join(groups) or 'none'}"


def _need_chain(ctx: Context) -> tuple[str, str] | None:
    if not ctx.outside.chain:
        return NOT_MEASURABLE, "no certificate chain observed: " + ("; ".join(ctx.outside.errors) or "no TLS")
    return None


def _bundle(ctx: Context) -> list[object] | None:
    return certs.load_bundle(ctx.target.root) if ctx.target.root is not None else None  # type: ignore[return-value]


def _cert_root(ctx: Context) -> tuple[str, str]:
    if (missing := _need_chain(ctx)) is not None:
        return missing
    result = certs.validate(ctx.outside.chain, _bundle(ctx), ctx.now)  # type: ignore[arg-type]
    if result.ok is None:
        return NOT_MEASURABLE, result.message
    leaf = ctx.outside.chain[0]
    where = f"against {ctx.target.root}"
    if result.ok:
        return PASS, f"{leaf.subject.rfc4514_string()} validates {where}: {result.message}"
    return FAIL, f"{leaf.subject.rfc4514_string()} (issuer {leaf.issuer.rfc4514_string()}) does not validate {where}: {result.message}"


def _cert_chain(ctx: Context) -> tuple[str, str]:
    """Complete means the last certificate the server sends is a root, or is issued by a root of the bundle:
    then a client holding only that root can build the chain."""
    if (missing := _need_chain(ctx)) is not None:
        return missing
    chain = ctx.outside.chain
    served = " > ".join(c.subject.rfc4514_string() for c in chain)
    note = f"served {len(chain)} certificate(s): {served}"
    last = chain[-1]
    if certs.is_self_signed(last):
        extra = "; the root itself is sent too (harmless, clients ignore it)" if len(chain) > 1 else \
            " (a self-signed certificate: complete, but see OUT-CERT-ROOT)"
        return PASS, f"the served chain ends in a root{extra}; {note}"
    bundle = _bundle(ctx)
    if bundle is None:
        return NOT_MEASURABLE, f"no CA bundle given to tell whether {last.issuer.rfc4514_string()} is a root; {note}"
    if certs.issued_by_any(last, [c for c in bundle if certs.is_self_signed(c)]):  # type: ignore[arg-type]
        return PASS, f"the served chain reaches a root of the bundle; {note}"
    return FAIL, (f"missing intermediate: the chain stops at {last.subject.rfc4514_string()}, whose issuer "
                  f"{last.issuer.rfc4514_string()} is neither sent nor a root of {ctx.target.root}; a client "
                  f"that trusts only the root cannot build the chain; {note}")


def _cert_name(ctx: Context) -> tuple[str, str]:
    if (missing := _need_chain(ctx)) is not None:
        return missing
    leaf = ctx.outside.chain[0]
    names = certs.subject_alt_names(leaf) or [f"CN={leaf.subject.rfc4514_string()}"]
    if certs.name_matches(leaf, ctx.target.host):
        return PASS, f"{ctx.target.host!r} is named by the certificate ({', '.join(names)})"
    return FAIL, f"{ctx.target.host!r} is not named by the certificate ({', '.join(names)}): verify-full fails"


def _cert_expiry(ctx: Context) -> tuple[str, str]:
    if (missing := _need_chain(ctx)) is not None:
        return missing
    leaf = ctx.outside.chain[0]
    days = certs.days_left(leaf, ctx.now)
    until = leaf.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
    if days < 0:
        ago = (ctx.now - leaf.not_valid_after_utc) // dt.timedelta(days=1)
        return FAIL, f"expired {ago} day(s) ago (notAfter {until})"
    if days < ctx.profile.expiry_warn_days:
        return WARN, f"expires in {days} day(s) (notAfter {until}); renew before {ctx.profile.expiry_warn_days}"
    return PASS, f"{days} days left (notAfter {until})"


def _cert_key(ctx: Context) -> tuple[str, str]:
    if (missing := _need_chain(ctx)) is not None:
        return missing
    kind, bits = certs.key_label(ctx.outside.chain[0])
    label = f"{kind} {bits} bits"
    if kind == "DSA":
        return FAIL, f"{label}: DSA server keys are obsolete"
    if kind == "RSA" and bits < ctx.profile.min_rsa_bits:
        return FAIL, f"{label}: below {ctx.profile.min_rsa_bits} bits"
    if kind == "RSA" and ctx.profile.ecdsa_only:
        return FAIL, f"{label}: the {ctx.profile.name} profile asks for an ECDSA (P-256) certificate"
    if kind.startswith("EC ") and bits < 256:
        return FAIL, f"{label}: below 256 bits"
    return PASS, label


def _cert_signature(ctx: Context) -> tuple[str, str]:
    if (missing := _need_chain(ctx)) is not None:
        return missing
    signed = [c for c in ctx.outside.chain if not certs.is_self_signed(c)]  # a root's self-signature is not checked
    labels = [f"{c.subject.rfc4514_string()}: {certs.signature_label(c)}" for c in signed]
    weak = [label for c, label in zip(signed, labels) if certs.signature_label(c) in SIGNATURE_HASHES_BROKEN]
    if weak:
        return FAIL, "broken signature hash: " + "; ".join(weak)
    return PASS, "; ".join(labels) or "only a self-signed certificate was served"


def _client_cert(ctx: Context) -> tuple[str, str]:
    asked = ctx.outside.client_auth
    if asked is None:
        return NOT_MEASURABLE, "no handshake observed the CertificateRequest: " + "; ".join(ctx.outside.errors)
    if asked in ("optional", "required"):
        return PASS, f"the server sends a CertificateRequest in the handshake (client certificate {asked})"
    return FAIL, "the server never asks for a client certificate (no CertificateRequest): ssl_ca_file is not set"


def _plaintext(ctx: Context) -> tuple[str, str]:
    attempt = ctx.outside.plaintext
    text = f"sslmode=disable as {attempt.get('user')!r}, no password sent: {attempt.get('message')}"
    if attempt.get("outcome") == PLAINTEXT_REFUSED:
        return PASS, text
    if attempt.get("outcome") in (PLAINTEXT_AUTH_ASKED, PLAINTEXT_CONNECTED):
        return FAIL, f"pg_hba let an unencrypted TCP connection through to authentication -- {text}"
    return NOT_MEASURABLE, text


# ---------------------------------------------------------------------------------------------- inside


def _seen_inside(ctx: Context) -> str:
    role = ctx.inside.role
    return f"as {role.get('role')!r} on PostgreSQL {role.get('server_version')}"


def _ssl_on(ctx: Context) -> tuple[str, str]:
    value = ctx.inside.settings.get("ssl")
    if value is None:
        return NOT_MEASURABLE, "ssl not visible in pg_settings"
    return (PASS if value == "on" else FAIL), f"ssl = {value} ({_seen_inside(ctx)})"


def _min_protocol(ctx: Context) -> tuple[str, str]:
    value = ctx.inside.settings.get("ssl_min_protocol_version")
    if value is None:
        return NOT_MEASURABLE, "ssl_min_protocol_version not visible (PostgreSQL 12 or later has it)"
    if value not in VERSION_ORDER:
        return FAIL, f"ssl_min_protocol_version = {value!r}: not a TLS version this audit knows"
    ok = ctx.profile.version_allowed(value)
    return (PASS if ok else FAIL), f"ssl_min_protocol_version = {value} (profile floor {ctx.profile.min_tls}; {_seen_inside(ctx)})"


def _tcp_rules(ctx: Context) -> list[dict[str, object]]:
    return [r for r in ctx.inside.hba or [] if r.get("type") in TCP_TYPES]


def _rule_text(rule: dict[str, object]) -> str:
    fields = [str(rule.get("type")), ",".join(rule.get("database") or []),  # type: ignore[arg-type]
              ",".join(rule.get("user_name") or []), str(rule.get("address") or ""),  # type: ignore[arg-type]
              str(rule.get("netmask") or ""), str(rule.get("auth_method") or ""),
              " ".join(rule.get("options") or [])]  # type: ignore[arg-type]
    return f"line {rule.get('line_number')}: " + " ".join(f for f in fields if f)


def _hba_missing(ctx: Context) -> tuple[str, str] | None:
    if ctx.inside.hba is None:
        return NOT_MEASURABLE, f"pg_hba_file_rules unreadable: {ctx.inside.hba_error}"
    return None


def _hba_tls(ctx: Context) -> tuple[str, str]:
    if (missing := _hba_missing(ctx)) is not None:
        return missing
    rules = _tcp_rules(ctx)
    plain = [r for r in rules if r.get("type") in ("host", "hostnossl") and r.get("auth_method") != "reject"]
    if plain:
        return FAIL, "TCP lines that accept connections without TLS: " + "; ".join(_rule_text(r) for r in plain)
    return PASS, f"{len(rules)} TCP line(s), none lets a connection in without TLS ({_seen_inside(ctx)})"


def _hba_auth(ctx: Context) -> tuple[str, str]:
    if (missing := _hba_missing(ctx)) is not None:
        return missing
    weak = [r for r in _tcp_rules(ctx) if r.get("auth_method") in WEAK_METHODS]
    if weak:
        return FAIL, "weak authentication over TCP: " + "; ".join(_rule_text(r) for r in weak)
    methods = sorted({str(r.get("auth_method")) for r in _tcp_rules(ctx)})
    return PASS, f"TCP methods in use: {', '.join(methods) or 'none'}"


def _hba_cert(ctx: Context) -> tuple[str, str]:
    if (missing := _hba_missing(ctx)) is not None:
        return missing
    with_cert = [r for r in _tcp_rules(ctx) if r.get("type") == "hostssl" and (
        r.get("auth_method") == "cert"
        or any(str(o).startswith("clientcert=verify-") for o in r.get("options") or []))]  # type: ignore[union-attr]
    if with_cert:
        return PASS, "certificate authentication: " + "; ".join(_rule_text(r) for r in with_cert)
    return FAIL, "no hostssl line authenticates by client certificate (cert, or clientcert=verify-ca/verify-full)"


def _sessions(ctx: Context) -> tuple[str, str]:
    sessions = ctx.inside.plaintext_sessions
    if sessions is None:
        return NOT_MEASURABLE, str(ctx.inside.sessions_error)
    if sessions:
        listed = "; ".join(f"pid {s['pid']} {s['usename']!r} from {s['client_addr']}" for s in sessions)
        return FAIL, f"{len(sessions)} TCP session(s) without TLS now (pg_stat_ssl.ssl = false): {listed}"
    return PASS, f"no TCP session without TLS in pg_stat_activity ⋈ pg_stat_ssl ({_seen_inside(ctx)})"


def _passphrase(ctx: Context) -> tuple[str, str]:
    info = ctx.inside.passphrase
    if info is None:
        return NOT_MEASURABLE, "ssl_passphrase_command is hidden from this role (needs pg_read_all_settings)"
    if not info["set"]:
        return PASS, "ssl_passphrase_command is not set (the key file is not protected by a passphrase command)"
    if info["prints_literal"]:
        return FAIL, (f"ssl_passphrase_command runs {info['program']!r} with the passphrase written in the "
                      "setting itself (value not shown): anyone who reads the settings reads the passphrase")
    return PASS, f"ssl_passphrase_command runs {info['program']!r} (value not shown)"


def _version(ctx: Context) -> tuple[str, str]:
    number = ctx.inside.role.get("server_version_num")
    if not isinstance(number, int):
        return NOT_MEASURABLE, "server_version_num not readable"
    major = number // 10000
    end = END_OF_LIFE.get(major)
    today = ctx.now.date()
    if end is None:
        return WARN, f"PostgreSQL {major}: not in labkit's support table ({min(END_OF_LIFE)}-{max(END_OF_LIFE)})"
    left = (end - today).days
    if left < 0:
        return FAIL, f"PostgreSQL {major} ({ctx.inside.role.get('server_version')}) is out of support since {end}"
    if left < EOL_WARN_DAYS:
        return WARN, f"PostgreSQL {major} support ends {end} ({left} days)"
    return PASS, f"PostgreSQL {ctx.inside.role.get('server_version')}: supported until {end}"


def _audit_role(ctx: Context) -> tuple[str, str]:
    role = ctx.inside.role
    granted = [name for key, name in (("read_all_settings", "pg_read_all_settings"),
                                      ("read_all_stats", "pg_read_all_stats")) if role.get(key)]
    if role.get("superuser"):
        return WARN, (f"the audit ran as superuser {role.get('role')!r}: more than it needs (pg_read_all_settings, "
                      "pg_monitor, and a grant on pg_hba_file_rules)")
    return PASS, f"not a superuser; member of {', '.join(granted) or 'no monitoring role'}"


CHECKS: tuple[Check, ...] = (
    Check("OUT-SSLREQUEST", "The server offers TLS (SSLRequest answered 'S')", "outside",
          "set ssl = on with a certificate and key", "10_layer1_ssl_on", _ssl_request, needs_tls=False),
    Check("OUT-TLS-FLOOR", "No TLS version below the profile's floor is accepted", "outside",
          "set ssl_min_protocol_version to the floor (e.g. 'TLSv1.2') and reload", "11_layer2_protocols", _tls_floor),
    Check("OUT-TLS13", "TLS 1.3 is accepted", "outside",
          "leave ssl_max_protocol_version empty or 'TLSv1.3'; PostgreSQL needs OpenSSL 1.1.1 or later",
          "34_tls12_vs_13", _tls13),
    Check("OUT-SUITES", "Only the profile's cipher suites are accepted", "outside",
          "restrict ssl_ciphers (TLS 1.2 and below) and set ssl_prefer_server_ciphers = on",
          "13_layer4_ciphers", _suites),
    Check("OUT-GROUPS", "Only the profile's key-exchange groups are accepted", "outside",
          "set ssl_ecdh_curve (PostgreSQL 17 and earlier take one curve; 18 takes a list as ssl_groups)",
          "34_tls12_vs_13", _groups, applies=lambda p: p.groups is not None),
    Check("OUT-CERT-ROOT", "The served certificate validates against the given root", "outside",
          "serve a certificate issued by the CA your clients trust (ssl_cert_file)", "20_verify_ca", _cert_root),
    Check("OUT-CERT-CHAIN", "The served chain is complete (no missing intermediate)", "outside",
          "put the intermediate CA after the leaf in ssl_cert_file (e.g. server-chain.crt)",
          "10_layer1_ssl_on", _cert_chain),
    Check("OUT-CERT-NAME", "The certificate names the host clients connect to", "outside",
          "issue the certificate with the host name or IP address in its subjectAltName",
          "21_verify_full", _cert_name),
    Check("OUT-CERT-EXPIRY", "The certificate is valid and not about to expire", "outside",
          "renew the certificate and reload (ssl_cert_file/ssl_key_file are reread on SIGHUP)",
          "32_cert_rotation", _cert_expiry),
    Check("OUT-CERT-KEY", "The certificate's key type and size are strong enough", "outside",
          "issue the certificate with an ECDSA P-256 key, or RSA of at least 2048 bits", "01_pki", _cert_key),
    Check("OUT-CERT-SIGNATURE", "Certificates are signed with an unbroken hash", "outside",
          "reissue with SHA-256 or better", "01_pki", _cert_signature),
    Check("OUT-CLIENT-CERT", "The server asks clients for a certificate", "outside",
          "set ssl_ca_file to the CAs of your client certificates", "15_layer6_ca_file", _client_cert,
          applies=lambda p: p.client_cert_requested),
    Check("OUT-PLAINTEXT-LOGIN", "An unencrypted login is refused by pg_hba", "outside",
          "use hostssl (not host) lines for TCP in pg_hba.conf and reload", "12_layer3_hostssl", _plaintext,
          needs_tls=False),
    Check("IN-SSL-ON", "ssl is on", "inside", "set ssl = on and reload", "10_layer1_ssl_on", _ssl_on),
    Check("IN-MIN-PROTOCOL", "ssl_min_protocol_version is at the profile's floor", "inside",
          "set ssl_min_protocol_version and reload", "11_layer2_protocols", _min_protocol),
    Check("IN-HBA-TLS", "No pg_hba line lets TCP in without TLS (host, hostnossl)", "inside",
          "replace host/hostnossl lines by hostssl and reload", "12_layer3_hostssl", _hba_tls),
    Check("IN-HBA-AUTH", "No trust, password or md5 over TCP", "inside",
          "use scram-sha-256 or cert in pg_hba.conf (re-set passwords with password_encryption = scram-sha-256)",
          "12_layer3_hostssl", _hba_auth),
    Check("IN-HBA-CERT", "A hostssl line authenticates by client certificate", "inside",
          "add a hostssl line with cert (or clientcert=verify-full) for the roles that should use certificates",
          "22_client_cert_auth", _hba_cert, applies=lambda p: p.hba_cert_rule),
    Check("IN-SESSIONS-TLS", "No current TCP session is without TLS", "inside",
          "find the clients in pg_stat_activity, move them to sslmode=verify-full, then tighten pg_hba",
          "30_monitoring", _sessions),
    Check("IN-PASSPHRASE", "The key's passphrase is not written in the settings", "inside",
          "let ssl_passphrase_command read a file only the server account can read, not echo the passphrase",
          "33_passphrase", _passphrase),
    Check("IN-VERSION", "The server's major version is still supported", "inside",
          "upgrade to a supported major version", "00_requirements", _version),
    Check("IN-AUDIT-ROLE", "The audit role has least privilege", "inside",
          "audit with a role granted pg_read_all_settings and pg_monitor (plus SELECT on pg_hba_file_rules)",
          "30_monitoring", _audit_role),
)


def checks_for(profile: Profile) -> list[Check]:
    """The checks a profile applies, in report order."""
    return [check for check in CHECKS if check.applies(profile)]


def run_checks(ctx: Context) -> list[CheckResult]:
    return [check.run(ctx) for check in checks_for(ctx.profile)]
