"""The README's "Where the guide is wrong" section, checked against the committed lessons.

Every item must name a lesson and at least one tagged cell (``erratum-<slug>``); every named cell must
exist in that lesson, and its *visible* output (what a reader sees: printed text, or the rendered table with
its HTML stripped) must show the fact the item states. The facts are written here as patterns over that
text, so a rebuilt notebook whose measurement changed -- or a README item pointing at a cell that no longer
exists -- fails this test, not only a reader's trust.

No server is started: the evidence is the committed output (nbval checks elsewhere that rebuilding gives
the same compared outputs).
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SECTION = "## Where the guide is wrong (measured)"
REFERENCE = re.compile(r"lesson (\d\d), cells? ((?:`erratum-[a-z0-9-]+`(?:,? (?:and )?)?)+)")
TAG = re.compile(r"`(erratum-[a-z0-9-]+)`")

#: (lesson, tag) -> patterns the cell's visible output must match (regular expressions over the text with
#: whitespace collapsed to single spaces).
FACTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("12", "erratum-clientcert-1"): (r"where error is not null 0", r"where type is null 1"),
    ("12", "erratum-hba-first-match"): (r"FIRST MATCH: scram-sha-256", r"cert .*never reached"),
    ("15", "erratum-ca-file-client-side"): (r"verify-full \+ password, no ssl_ca_file True",
                                            r"client certificates can only be checked if a root certificate "
                                            r"store is available"),
    ("01", "erratum-guide-layouts"): (r"option 1 \(guide\): leaf only server\.crt combined\.crt root\.crt client\.crt True",
                                      r"Fase 2 of the guide: combined on both sides server\.crt combined\.crt "
                                      r"combined\.crt client\.crt True"),
    ("01", "erratum-ca-file-chain"): (r"server\.crt, no ssl_ca_file 1 localhost pgtls-lab Intermediate CA False",
                                      r"option 1\) 3 pgtls-lab Root CA pgtls-lab Root CA True",
                                      r"server-chain\.crt \+ ssl_ca_file = combined\.crt 2 pgtls-lab Intermediate CA "
                                      r"pgtls-lab Root CA False"),
    ("20", "erratum-ca-file-chain"): (r"verify-ca, sslrootcert=root\.crt, server ssl_ca_file=combined\.crt True",
                                      r"3 pgtls-lab Root CA pgtls-lab Root CA True"),
    ("00", "erratum-version-tables"): (r"TLSv1 .*refused", r"TLSv1\.1 .*refused"),
    ("30", "erratum-tls-floor-since-13"): (r"\b12 TLSv1 (\d+ )?13 TLSv1\.2 (\d+ )?14 TLSv1\.2 (\d+ )?15 TLSv1\.2 (\d+ )?16 TLSv1\.2",),
    ("00", "erratum-server-openssl"): (r"OpenSSL 1\.1\.1 11 Sep 2018 1\.1\.1 \(none\) 11 Sep 2018",),
    ("11", "erratum-silent-range"): (r"pg_file_settings rows with an error: 0; SHOW: min TLSv1\.3, max TLSv1\.2; "
                                     r"TLS 1\.2 probe: accepted",),
    ("44", "erratum-ecdh-curve"): (r"ssl_ecdh_curve = secp384r1 ok .*? secp384r1 True 2 ",
                                   r"ssl_ecdh_curve = X25519 refused( —)+ tls13_setting_invalid",
                                   r"ssl_ecdh_curve = prime256v1:secp384r1 refused( —)+ tls13_setting_invalid",
                                   r"ssl_tls13_ciphers = TLS_AES_256_GCM_SHA384 refused( —)+ setting_unknown"),
    ("40", "erratum-require-mitm"): (
        r"attacker's own CA plain scram require read the data read the data",
        r"lab CA, other host \(db\.other-host\.example\) plain scram require read the data read the data",
        r"verify-ca read the data read the data",
        r"verify-full stopped: hostname_mismatch stopped: hostname_mismatch stopped: hostname_mismatch"),
    ("13", "erratum-cipher-accepted"): (
        r"OpenSSL 1\.1\.1 ecdsa-p256 default TLSv1\.2 TLSv1\.3 15 0 ",
        r"OpenSSL 1\.1\.1 ecdsa-p256 critical \(guide\) TLSv1\.2 TLSv1\.3 15 0 ",
        r"OpenSSL 1\.1\.1 ecdsa-p256 normal \(guide\) TLSv1\.2 TLSv1\.3 15 0 ",
        r"OpenSSL 1\.1\.1 rsa-2048 default TLSv1\.2 TLSv1\.3 46 17 ",
        r"OpenSSL 1\.1\.1 rsa-2048 critical \(guide\) TLSv1\.2 TLSv1\.3 44 16 ",
        r"OpenSSL 1\.1\.1 rsa-2048 normal \(guide\) TLSv1\.2 TLSv1\.3 46 17 ",
        r"OpenSSL 3\.0\.\d+ ecdsa-p256 critical \(guide\) TLSv1\.2 TLSv1\.3 15 0 ",
        r"OpenSSL 3\.0\.\d+ rsa-2048 default TLSv1\.2 TLSv1\.3 44 16 ",
        r"OpenSSL 3\.0\.\d+ rsa-2048 critical \(guide\) TLSv1\.2 TLSv1\.3 44 16 ",
        r"OpenSSL 3\.0\.\d+ rsa-2048 normal \(guide\) TLSv1\.2 TLSv1\.3 44 16 ",
        r"strict \(ours\) TLSv1\.2 TLSv1\.3 \d+ 0 0 3 prime256v1 pass",
        r"critical \(guide\) TLSv1\.2 TLSv1\.3 \d+ \d+ \d+ 3 prime256v1 fail"),
    ("13", "erratum-critical-vs-normal"): (r"OpenSSL 1\.1\.1 rsa-2048 DHE-RSA-SEED-SHA SEED-SHA",
                                           r"OpenSSL 3\.0\.\d+ rsa-2048 \(none\)"),
    ("13", "erratum-cipher-typo"): (r"NOPE-NOTHING True False NOPE-NOTHING refused accepted",),
    ("34", "erratum-tls13-suites"): (r"TLSv1\.3 True 3 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256 "
                                     r"TLS_AES_128_GCM_SHA256",),
    ("34", "erratum-groups"): (r"groups the server accepts: prime256v1 \(ssl_ecdh_curve = prime256v1\)",),
    ("34", "erratum-hello-retry"): (r"TLSv1\.2 \(none: TLS 1\.2\) 2 False", r"TLSv1\.3 X25519 2 True prime256v1 prime256v1"),
    ("34", "erratum-ecdh-curve"): (r"reload ok: False, rolled back: True; ssl_ecdh_curve now: prime256v1",
                                   r"ECDH: could not create key"),
    ("34", "erratum-hello-retry-cure"): (r"TLSv1\.3 prime256v1 1 False",),
    ("34", "erratum-error-wording"): (
        r'psycopg\'s libpq 18\.\d+ OpenSSL 3\.5\.\d+ False server certificate for "localhost" \(and 1 other name\)',
        r'psql 15\.\d+ \(libpq 15\) OpenSSL 3\.0\.\d+ .*? False server certificate for "localhost" \(and 1 other name\)',
        r"libpq 18\.\d+ OpenSSL 3\.5\.\d+ False SSL error: ssl/tls alert certificate revoked",
        r"OpenSSL 3\.0\.\d+ [^|]*? False SSL error: sslv3 alert certificate revoked"),
    ("14", "erratum-crl-missing"): (r"client: .*SSL error: tlsv1 alert unknown ca",
                                    r"depth 1: unable to get certificate CRL"),
    ("32", "erratum-rotation"): (r"files replaced by \S+, no reload True server\.crt", r"after reload True server2\.crt"),
    ("33", "erratum-passphrase-reload"): (r"off TLSv1\.3 accepted False", r"on TLSv1\.3 refused True"),
    ("23", "erratum-root-file-rule"): (
        r"require none True True TLSv1\.\d",
        r"require rogue-ca\.crt \(does not trust it\) False False server_cert_untrusted SSL error: certificate verify failed",
        r"prefer rogue-ca\.crt \(does not trust it\) True False plaintext"),
    ("23", "erratum-sslmode-verified"): (r"server_cert_untrusted",),
    ("23", "erratum-sslmode-ranking"): (
        r"disable 4 3 3 0 0 allow 4 4 3 1 1 prefer 4 4 2 2 1 require 4 2 0 2 2 verify-ca 4 2 0 2 2 "
        r"verify-full 4 2 0 2 2",),
}


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start:end if end != -1 else None]


def _items() -> list[str]:
    """The section's bullet items, each joined onto one line."""
    items: list[str] = []
    for line in _section().splitlines():
        if line.startswith("- "):
            items.append(line[2:])
        elif line.startswith("  ") and items:
            items[-1] += " " + line.strip()
    return items


def _references(item: str) -> list[tuple[str, str]]:
    return [(lesson, tag) for lesson, tags in REFERENCE.findall(item) for tag in TAG.findall(tags)]


def _notebook(lesson: str) -> dict:
    found = sorted(NOTEBOOKS.glob(f"{lesson}_*.ipynb"))
    assert found, f"README names lesson {lesson}, which has no notebook in {NOTEBOOKS}"
    return json.loads(found[0].read_text())


def visible_text(cell: dict) -> str:
    """What a reader sees of a cell's output: stream text, the HTML table as text, else the plain text."""
    parts = []
    for output in cell.get("outputs", []):
        if "text" in output:
            parts.append("".join(output["text"]))
        data = output.get("data", {})
        if "text/html" in data:
            markup = re.sub(r"<style.*?</style>", " ", "".join(data["text/html"]), flags=re.S)
            parts.append(html.unescape(re.sub(r"<[^>]+>", " ", markup)))
        elif "text/plain" in data:
            parts.append("".join(data["text/plain"]))
    return " ".join(" ".join(parts).split())


def _cell(lesson: str, tag: str) -> dict:
    cells = [c for c in _notebook(lesson)["cells"] if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"lesson {lesson} has {len(cells)} cells tagged {tag!r} (want exactly 1)"
    return cells[0]


def test_every_item_names_a_lesson_and_a_tagged_cell() -> None:
    items = _items()
    assert len(items) >= 15, items
    missing = [item[:80] for item in items if not _references(item)]
    assert not missing, f"README errata without `lesson NN, cell `erratum-…``: {missing}"


def test_every_referenced_cell_has_facts_to_check() -> None:
    named = {ref for item in _items() for ref in _references(item)}
    assert named <= set(FACTS), f"cells named in the README with no facts in this test: {sorted(named - set(FACTS))}"
    assert set(FACTS) <= named, f"facts for cells the README no longer names: {sorted(set(FACTS) - named)}"


@pytest.mark.parametrize(("lesson", "tag"), sorted(FACTS))
def test_the_tagged_cell_shows_the_fact(lesson: str, tag: str) -> None:
    cell = _cell(lesson, tag)
    text = visible_text(cell)
    assert text, f"lesson {lesson}, cell {tag}: no visible output (an assert alone is not evidence)"
    for pattern in FACTS[(lesson, tag)]:
        assert re.search(pattern, text), f"lesson {lesson}, cell {tag}: {pattern!r} not in its output:\n{text[:3000]}"


def test_a_missing_cell_or_fact_fails() -> None:
    """The checks above can fail: a tag that no lesson carries and a fact no output shows are caught."""
    with pytest.raises(AssertionError, match="0 cells tagged"):
        _cell("13", "erratum-no-such-cell")
    text = visible_text(_cell("13", "erratum-cipher-accepted"))
    assert not re.search(r"OpenSSL 1\.1\.1 rsa-2048 critical \(guide\) TLSv1\.2 TLSv1\.3 125 48 ", text)
    assert not _references("- **An item** (13): no cell named")
