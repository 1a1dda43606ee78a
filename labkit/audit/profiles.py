"""What "hardened" means, as a profile: the guide's state, CIS-style, and Mozilla's two server profiles.

A profile only sets thresholds; every verdict is still computed from what the audit observed. The Mozilla
lists are those of Mozilla's server-side TLS recommendations (version 5.7): TLS 1.2 suites named there for
"intermediate", TLS 1.3 only for "modern", the groups X25519/P-256/P-384 for both. The guide's profile is
its hardened state (Fase #2): TLS 1.2 floor, ``HIGH:!aNULL:!MD5:!3DES:!RC4:!DES:!IDEA:!RC2``, ``hostssl``
lines only, a client certificate asked for (``ssl_ca_file``). The CIS-style profile follows the CIS
PostgreSQL benchmark's TLS recommendation (§6.8: TLS on, TLS 1.2 or later) and its authentication items
(no ``trust``, ``password`` or ``md5``; remote connections over ``hostssl``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ..errors import InvalidValue

VERSION_ORDER: tuple[str, ...] = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
"""PostgreSQL's names for the TLS versions, lowest first (its ssl_min_protocol_version spelling)."""

WEAK_SUITE = re.compile(r"(^|-)(NULL|EXP|EXPORT|RC4|RC2|DES|3DES|DES-CBC3|IDEA|MD5|ADH|AECDH|aNULL|eNULL|SEED|PSK|SRP|"
                        r"DSS)(-|$)|^(ADH|AECDH)")
"""OpenSSL suite names the guide's cipher string removes (and CIS-style audits flag): no authentication,
no encryption, export grade, broken ciphers or MD5; DSS/PSK/SRP are not for a PostgreSQL server either."""

MOZILLA_INTERMEDIATE_TLS12 = frozenset({
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384", "DHE-RSA-CHACHA20-POLY1305",
})
TLS13_SUITES = frozenset({"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"})
MOZILLA_GROUPS = frozenset({"X25519", "prime256v1", "secp384r1"})
"""Groups Mozilla's profiles name, in OpenSSL's spelling (P-256 is prime256v1 / secp256r1)."""
GROUP_ALIASES = {"secp256r1": "prime256v1", "x25519": "X25519", "P-256": "prime256v1", "P-384": "secp384r1"}


@dataclass(frozen=True)
class Profile:
    """Thresholds one audit applies. ``allowed_suites`` ``None`` means "anything not weak"."""

    name: str
    title: str
    min_tls: str
    require_tls13: bool = True
    allowed_suites: frozenset[str] | None = None
    allowed_tls13_suites: frozenset[str] | None = None
    groups: frozenset[str] | None = None
    """Groups allowed; ``None``: groups are not part of this profile (and are not scanned)."""
    client_cert_requested: bool = False
    """The guide's state asks every client for a certificate (ssl_ca_file is set)."""
    hba_cert_rule: bool = False
    """Some hostssl line authenticates by certificate (``cert`` or ``clientcert=verify-*``)."""
    ecdsa_only: bool = False
    min_rsa_bits: int = 2048
    expiry_warn_days: int = 30
    reference: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def with_min_tls(self, version: str | None) -> Profile:
        """The same profile with another floor (``--min-tls``)."""
        if version is None:
            return self
        return replace(self, min_tls=check_tls_version(version, "--min-tls"))

    def version_allowed(self, version: str) -> bool:
        return VERSION_ORDER.index(version) >= VERSION_ORDER.index(self.min_tls)

    def suite_allowed(self, version: str, suite: str) -> bool:
        """Whether an accepted suite (OpenSSL name) is within the profile for that TLS version."""
        if version == "TLSv1.3":
            return suite in (self.allowed_tls13_suites or TLS13_SUITES)
        if self.allowed_suites is not None:
            return suite in self.allowed_suites
        return not WEAK_SUITE.search(suite)


PROFILES: dict[str, Profile] = {
    "guide": Profile(
        name="guide", title="The guide's hardened state (Fase #2)", min_tls="TLSv1.2",
        client_cert_requested=True, hba_cert_rule=True,
        reference="the guide, Fase #2 steps 2-8 (layers L1-L6)"),
    "cis": Profile(
        name="cis", title="CIS PostgreSQL benchmark, §6.8-style", min_tls="TLSv1.2", require_tls13=False,
        reference="CIS PostgreSQL benchmark §6.8 (TLS) and the authentication items"),
    "mozilla-intermediate": Profile(
        name="mozilla-intermediate", title="Mozilla server-side TLS: intermediate", min_tls="TLSv1.2",
        allowed_suites=MOZILLA_INTERMEDIATE_TLS12, groups=MOZILLA_GROUPS,
        reference="Mozilla server-side TLS recommendations 5.7, intermediate"),
    "mozilla-modern": Profile(
        name="mozilla-modern", title="Mozilla server-side TLS: modern", min_tls="TLSv1.3",
        allowed_suites=frozenset(), groups=MOZILLA_GROUPS, ecdsa_only=True,
        reference="Mozilla server-side TLS recommendations 5.7, modern"),
}


def check_tls_version(value: object, name: str) -> str:
    """PostgreSQL's version spelling; ``TLSv1.0`` gets a hint (PostgreSQL spells it ``TLSv1``)."""
    if value not in VERSION_ORDER:
        raise InvalidValue(name, value, VERSION_ORDER,
                           "PostgreSQL spells TLS 1.0 as 'TLSv1'" if value == "TLSv1.0" else None)
    return str(value)


def get_profile(name: object, min_tls: str | None = None) -> Profile:
    """The named profile, with ``--min-tls`` applied; a wrong name lists the profiles there are."""
    if name not in PROFILES:
        raise InvalidValue("profile", name, sorted(PROFILES))
    return PROFILES[str(name)].with_min_tls(min_tls)


def group_name(name: str) -> str:
    """One spelling per group, OpenSSL's, so sslyze's names compare with the profile's."""
    return GROUP_ALIASES.get(name, name)
