"""labkit.guide: the guide's claims as data, judged against measurements (no server needed)."""
from __future__ import annotations

import pandas as pd
import pytest

from labkit import guide
from labkit.errors import InvalidValue


def test_compatibility_check_flags_the_guides_tls10_claim() -> None:
    versions = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    default = pd.DataFrame({"version_asked": versions, "result": ["refused", "refused", "accepted", "accepted"]})
    legacy = pd.DataFrame({"version_asked": versions, "result": ["accepted"] * 4})
    frame = guide.compatibility_check(default_probe=default, legacy_probe=legacy, server_openssl="1.1.1",
                                      major=16, enumvals=versions, python_can=dict.fromkeys(versions, True),
                                      libpq_can={"TLSv1": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": True})
    verdicts = dict(zip(frame["protocol"], frame["verdict"]))
    assert list(frame["protocol"]) == ["SSLv2", "SSLv3", *versions]
    assert verdicts["TLSv1"].startswith("guide too generous: refused by default")
    assert "libpq cannot offer" in verdicts["TLSv1.1"]
    assert verdicts["TLSv1.2"] == verdicts["TLSv1.3"] == "agrees"
    assert "guide: OpenSSL 1.1.1" in frame.columns
    with pytest.raises(InvalidValue):
        guide.compatibility_check(default_probe=default, legacy_probe=legacy, server_openssl="1.1.1", major=9,
                                  enumvals=versions, python_can={}, libpq_can={})


@pytest.mark.parametrize(("version", "row"), [("1.1.1", "OpenSSL 1.1.1"), ("1.1.0h", "OpenSSL 1.1.x"),
                                              ("1.0.2", "OpenSSL 1.0.x"), ("3.0.13", "OpenSSL 3.0.x")])
def test_openssl_row(version: str, row: str) -> None:
    assert guide.openssl_row(version) == row


def test_cipher_suites_expands_a_string_and_leaves_out_tls13() -> None:
    strict = guide.cipher_suites("ECDHE+AESGCM:ECDHE+CHACHA20")
    assert len(strict) > 0 and strict.aead.all() and set(strict.key_exchange) == {"ecdhe"}
    assert not strict.suite.str.startswith("TLS_").any()
    both = guide.compare_cipher_strings({"critical": guide.CIPHERS_CRITICAL, "strict": "ECDHE+AESGCM"})
    assert both.critical.all() and both.strict.sum() < both.critical.sum()
    with pytest.raises(InvalidValue, match="cipher_string"):
        guide.cipher_suites("NOPE-NOTHING")


def test_a_major_the_guide_has_no_row_for_is_measured_but_not_judged() -> None:
    versions = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    default = pd.DataFrame({"version_asked": versions, "result": ["refused", "refused", "accepted", "accepted"]})
    frame = guide.compatibility_check(default_probe=default, legacy_probe=default, server_openssl="1.1.1",
                                      major=18, enumvals=versions, python_can=dict.fromkeys(versions, True),
                                      libpq_can=dict.fromkeys(versions, True))
    rows = frame.set_index("protocol")
    assert set(rows["guide: PostgreSQL 18"]) == {guide.NOT_IN_GUIDE}
    assert rows.loc["TLSv1", "verdict"].startswith("not judged: the guide's table stops at PostgreSQL 17")
    assert "refused by default" in rows.loc["TLSv1", "verdict"]
    assert list(guide.POSTGRES_ROWS) == ["9.4", "12", "13", "14", "15", "16", "17"]
    assert guide.POSTGRES_ROWS["9.4"][-3:] == ("false", "N/A", "N/A")
