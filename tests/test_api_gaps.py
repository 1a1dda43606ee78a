"""The API met when reproducing PostgreSQL's own SSL cases (issue 9, item 8), each against a real server.

``attempt(sslmode=None)`` and ``env=``; ``execute(..., dbname=)``; pg_ident.conf maps with ``map=`` and
``clientname=DN``; certificates the PKI could not make before: no SAN, a custom subject, an encrypted
client key, expired and not-yet-valid leaves -- all listed by ``describe()``, and a lesson's own ones kept
in its space. Every positive case has a refused control.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from labkit import hba, quoting
from labkit.ca import load_cert
from labkit.client import _redact, attempt
from labkit.errors import InvalidValue
from labkit.pki import LabPKI
from labkit.server import LabServer
from tests.test_catalogue import Lab, ensure_roles, pki  # noqa: F401 - pki is a fixture


@pytest.fixture
def lab(clean_lab16: LabServer, pki: LabPKI) -> Lab:  # noqa: F811
    return Lab(clean_lab16, pki, ensure_roles(clean_lab16))


# ---------------------------------------------------------------------------------------------------------
# attempt(): sslmode left to libpq, per-attempt environment, redaction
# ---------------------------------------------------------------------------------------------------------


def test_sslmode_none_leaves_the_choice_to_libpq(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    lab.configure()
    result = attempt(lab.server, sslmode=None)
    assert "sslmode" not in result.params and "sslmode" not in result.psql
    assert result.connected and result.tls_version in ("TLSv1.2", "TLSv1.3")  # libpq's default: prefer
    monkeypatch.setenv("PGSSLMODE", "disable")  # a reader's profile must not decide a lab result
    shielded = attempt(lab.server, sslmode=None)
    assert shielded.tls_version and "PGSSLMODE" in shielded.client_defaults, shielded.client_defaults
    with pytest.raises(InvalidValue, match="sslmode"):
        attempt(lab.server, sslmode="verify")


def test_env_is_read_by_libpq_for_one_attempt(lab: Lab) -> None:
    lab.configure()
    plain = attempt(lab.server, sslmode=None, env={"PGSSLMODE": "disable"})
    assert plain.connected and plain.ssl is False and plain.tls_version is None, plain
    assert plain.psql.startswith("PGSSLMODE=disable ") and "env: PGSSLMODE" in plain.client_defaults
    assert attempt(lab.server, sslmode=None).ssl is True  # control: nothing left behind in the environment
    secret = attempt(lab.server, sslmode="require", user="reporter", password=None,
                     env={"PGPASSWORD": lab.passwords["reporter"]})
    assert secret.connected and lab.passwords["reporter"] not in secret.psql and "PGPASSWORD=***" in secret.psql
    for bad in ({"pgsslmode": "x"}, {"HOME": "/tmp"}, {"PGSSLMODE": "a\nb"}, ["PGSSLMODE"]):
        with pytest.raises(InvalidValue):
            attempt(lab.server, env=bad)  # type: ignore[arg-type]


def test_redaction_masks_values_not_words() -> None:
    assert _redact('password authentication failed for user "x"', ["pass"]) == \
        'password authentication failed for user "x"'
    assert _redact("password=pass host=h", ["pass"]) == "password=*** host=h"
    assert _redact('invalid value "s3cret" for option', ["s3cret"]) == 'invalid value "***" for option'


# ---------------------------------------------------------------------------------------------------------
# execute(dbname=) and pg_ident.conf
# ---------------------------------------------------------------------------------------------------------


def test_execute_in_another_database(lab: Lab) -> None:
    if not lab.server.execute("SELECT 1 FROM pg_database WHERE datname = 'fid_other'"):
        lab.server.execute("CREATE DATABASE fid_other")
    assert lab.server.execute("SELECT current_database() AS db", dbname="fid_other") == [{"db": "fid_other"}]
    assert lab.server.execute("SELECT current_database() AS db") == [{"db": "postgres"}]
    assert list(lab.server.query("SELECT 1 AS one", dbname="fid_other")["one"]) == [1]
    with pytest.raises(InvalidValue, match="dbname"):
        lab.server.execute("SELECT 1", dbname="")


def test_ident_line_quotes_a_dn_and_refuses_what_could_add_a_field() -> None:
    assert quoting.ident_line("certmap", "CN=conssl,O=pgtls-lab", "reporter") == \
        'certmap  "CN=conssl,O=pgtls-lab"  reporter'
    assert quoting.ident_line("m", "conssl", "reporter") == "m  conssl  reporter"
    assert quoting.ident_line("m", r"/^(.*)@lab$", r"\1") == r"m  /^(.*)@lab$  \1"
    for args in (("m", 'CN="x"', "r"), ("m", "a\nb", "r"), ("m m", "a", "r"), ("m", "a", "r s"), ("m", "", "r")):
        with pytest.raises(InvalidValue):
            quoting.ident_line(*args)


def test_pg_ident_map_with_the_certificate_dn(lab: Lab) -> None:
    """clientname=DN hands the map the whole subject (RFC 2253 order), so the map names the DN."""
    lab.cert_auth()
    dn_rule = "hostssl all reporter 0.0.0.0/0 cert clientname=DN map=certmap"
    text = hba.set_ident_maps(lab.server, {"certmap": [("CN=conssl,O=pgtls-lab", "reporter")]})
    assert '"CN=conssl,O=pgtls-lab"' in text
    assert lab.configure([dn_rule], ssl_ca_file=lab.deliver("combined.crt", lab.p.combined_crt)).ok
    mappings = hba.ident_mappings(lab.server)
    assert list(mappings["sys_name"]) == ["CN=conssl,O=pgtls-lab"] and mappings["error"].isna().all()
    mapped = lab.client(lab.p.client_crt, lab.p.client_key, user="reporter")
    assert mapped.connected and mapped.current_user == "reporter", mapped.error_text + mapped.server_log
    # control: the same certificate without the map is refused for that role
    hba.set_ident_maps(lab.server, None)
    assert lab.configure([dn_rule], ssl_ca_file=lab.deliver("combined.crt", lab.p.combined_crt)).ok
    refused = lab.client(lab.p.client_crt, lab.p.client_key, user="reporter")
    assert not refused.connected and 'no match in usermap "certmap"' in refused.server_log, refused.server_log
    with pytest.raises(InvalidValue):
        hba.set_ident_maps(lab.server, {"certmap": [("CN=x",)]})  # type: ignore[list-item]
    hba.set_ident_maps(lab.server, {"certmap": [("CN=conssl,O=pgtls-lab", "reporter")]})
    lab.server.reset_config()  # the next lesson starts without another one's maps
    lab.server.reload()
    assert hba.ident_mappings(lab.server).empty


# ---------------------------------------------------------------------------------------------------------
# The PKI's new certificates
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def own_pki(tmp_path: Path) -> LabPKI:
    return LabPKI.ensure(tmp_path / "pki")


def test_san_less_and_custom_subject_certificates(own_pki: LabPKI) -> None:
    crt, _ = own_pki.issue_server(("db.example.test",), name="no-san", san=False, subject="CN=db.example.test,OU=ops")
    cert = load_cert(crt)
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert cert.subject.rfc4514_string() == "CN=db.example.test,OU=ops"
    client, _ = own_pki.issue_client("conssl", name="custom-dn", subject="CN=conssl,OU=ops,O=acme")
    assert load_cert(client).subject.rfc4514_string() == "CN=conssl,OU=ops,O=acme"
    default, _ = own_pki.issue_client("reporter")
    assert load_cert(default).subject == load_cert(own_pki.paths.client2_crt).subject  # unchanged default
    rows = own_pki.describe().set_index("file")
    assert rows.loc["certs/no-san.crt", "sans"] == "" and "no SAN" in rows.loc["certs/no-san.crt", "lesson"]
    assert "subject CN=conssl,OU=ops,O=acme" in rows.loc["certs/custom-dn.crt", "lesson"]
    with pytest.raises(InvalidValue, match="subject"):
        own_pki.issue_client("conssl", name="bad", subject="not a name")


def test_expired_and_not_yet_valid_leaves(own_pki: LabPKI) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    old, _ = own_pki.issue_server(("localhost",), name="old-server", validity="expired")
    new, _ = own_pki.issue_client("conssl", name="future-client", validity="not-yet-valid")
    assert load_cert(old).not_valid_after_utc < now < load_cert(new).not_valid_before_utc
    rows = own_pki.describe().set_index("file")
    assert "expired" in rows.loc["certs/old-server.crt", "lesson"] and not rows.loc["certs/old-server.crt",
                                                                                     "chain_verifies"]
    assert "not-yet-valid" in rows.loc["certs/future-client.crt", "lesson"]
    assert not rows.loc["certs/future-client.crt", "chain_verifies"]
    with pytest.raises(InvalidValue, match="validity"):
        own_pki.issue_client("conssl", validity="old")


def test_encrypted_client_key_in_a_lesson_space(own_pki: LabPKI) -> None:
    crt, key = own_pki.issue_client("conssl", name="locked", passphrase="right-one", space="14")
    assert crt == own_pki.root_dir / "spaces" / "14" / "certs" / "locked.crt"
    assert key.stat().st_mode & 0o777 == 0o600 and b"ENCRYPTED" in key.read_bytes()
    serialization.load_pem_private_key(key.read_bytes(), b"right-one")
    assert "spaces/14/certs/locked.crt" not in set(own_pki.describe()["file"])  # other lessons do not see it
    mine = own_pki.describe(space="14").set_index("file")
    assert "encrypted key" in mine.loc["spaces/14/certs/locked.crt", "lesson"]
    assert "space 14" in mine.loc["spaces/14/certs/locked.crt", "lesson"]
    with pytest.raises(InvalidValue, match="passphrase"):
        own_pki.issue_client("conssl", name="empty", passphrase="")
    with pytest.raises(InvalidValue, match="space"):
        own_pki.issue_client("conssl", name="x", space="../up")
    LabPKI.ensure(own_pki.root_dir, regenerate=True)
    assert not (own_pki.root_dir / "spaces").exists()  # a new CA generation drops the lessons' old leaves


def test_new_certificates_on_a_real_server(lab: Lab, tmp_path: Path) -> None:
    pki_ = lab.pki
    lab.cert_auth()
    crt, key = pki_.issue_client("conssl", name="fid-locked", passphrase="right-one", space="tests")
    assert lab.client(crt, key, sslpassword="right-one").connected
    assert lab.client(crt, key, sslpassword="wrong").error_key == "key_bad_decrypt"
    future, future_key = pki_.issue_client("conssl", name="fid-future", validity="not-yet-valid", space="tests")
    early = lab.client(future, future_key)
    assert not early.connected and "certificate is not yet valid" in early.server_log, early.server_log
    expired, expired_key = pki_.issue_client("conssl", name="fid-expired", validity="expired", space="tests")
    assert lab.client(expired, expired_key).error_key == "cert_expired"
