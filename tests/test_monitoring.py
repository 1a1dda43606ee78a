"""labkit.monitoring against a real PostgreSQL 16 lab: the guide's views of a running server."""
from __future__ import annotations

import pytest

from labkit import client, monitoring, transaction
from labkit.layers import layer_ssl_on
from labkit.pki import LabPKI


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI.ensure(tmp_path_factory.mktemp("monitoring-pki"))


def test_ssl_settings_relative_paths(clean_lab16, pki: LabPKI) -> None:
    lab = clean_lab16
    assert transaction.apply(lab, layer_ssl_on(pki)).ok
    frame = monitoring.ssl_settings(lab)
    settings = dict(zip(frame["name"], frame["setting"]))
    assert settings["ssl_cert_file"] == "$PGDATA/tls/server.crt"
    assert settings["ssl"] == "on" and list(frame.columns) == ["name", "setting", "context"]
    shown = monitoring.settings_frame(lab, ["ssl", "ssl_cert_file"])
    assert shown.set_index("name").loc["ssl_cert_file", "setting"] == "server.crt"
    assert shown.set_index("name").loc["ssl_cert_file", "set in"] == "labkit.conf"


def test_stat_ssl_and_sslinfo(clean_lab16, pki: LabPKI) -> None:
    lab = clean_lab16
    with client.session(lab, sslmode="require", extra={"application_name": "ops-tls"}) as tls_conn, \
            client.session(lab, sslmode="disable", extra={"application_name": "ops-plain"}) as plain_conn:
        live = monitoring.stat_ssl(lab)
        tls_info = monitoring.sslinfo_row(tls_conn)
        plain_info = monitoring.sslinfo_row(plain_conn)
    rows = live.set_index("application_name")
    assert bool(rows.loc["ops-tls", "ssl"]) and not bool(rows.loc["ops-plain", "ssl"])
    assert "client backend" in set(live["backend_type"])
    assert len(live) == 2  # the admin session running the query is left out
    assert list(tls_info) == list(monitoring.SSLINFO_FUNCTIONS)
    assert tls_info["ssl_is_used"] is True and tls_info["ssl_version"].startswith("TLSv1.")
    assert tls_info["ssl_client_cert_present"] is False and tls_info["ssl_client_dn"] is None
    assert plain_info["ssl_is_used"] is False and plain_info["ssl_cipher"] is None


def test_session_views_of_an_attempt(clean_lab16) -> None:
    lab = clean_lab16
    tls = client.attempt(lab, sslmode="require")
    assert monitoring.session_ssl(tls)["pg_stat_ssl.ssl"] is True
    assert monitoring.auth_method(tls) == "scram-sha-256"
    refused = client.attempt(lab, sslmode="require", user="nobody")
    assert monitoring.session_ssl(refused) == {"pg_stat_ssl.ssl": None, "version": None, "cipher": None}
    assert monitoring.auth_method(refused) in ("", "(not logged)")


def test_requirements_and_versions_name_both_sides(clean_lab16) -> None:
    from labkit import handshake, roles

    roles.ensure_role(clean_lab16, "conssl")
    checklist = monitoring.requirements(clean_lab16, handshake.probe_matrix(clean_lab16))
    assert checklist["ok"].eq(True).all(), checklist[checklist["ok"].ne(True)]
    # The failing control: as the guide has it (a superuser), conssl reads the server's key file.
    roles.ensure_role(clean_lab16, "conssl", superuser=True)
    try:
        assert monitoring.role_reads_server_files(clean_lab16, "conssl")
        as_guide = monitoring.requirements(clean_lab16, handshake.probe_matrix(clean_lab16)).set_index("requirement")
        assert not as_guide.loc["conssl cannot read the server's files", "ok"]
        assert not as_guide.loc["role conssl: login, not superuser", "ok"]
    finally:
        roles.ensure_role(clean_lab16, "conssl")
    assert not checklist["requirement"].str.contains(r"\d+\.\d+\.\d+[a-z]").any()  # no version numbers
    sides = monitoring.versions(clean_lab16).groupby("side").size().to_dict()
    assert sides == {"client": 3, "server": 4}
    missing = monitoring.requirements(clean_lab16, handshake.probe_matrix(clean_lab16), role="nobody_here")
    assert not missing.set_index("requirement").loc["role nobody_here: login, not superuser", "ok"]


def test_a_server_openssl_not_observed_is_not_judged_too_old(clean_lab16, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen once under load: the server's libcrypto could not be read and the checklist said False, a
    verdict with no observation behind it. Not observed is None (shown as missing), never False."""
    from labkit import handshake

    row = "#1 server OpenSSL >= 1.1.1"
    probe = handshake.probe_matrix(clean_lab16)
    observed = monitoring.requirements(clean_lab16, probe).set_index("requirement").loc[row, "ok"]
    assert observed == True  # noqa: E712 - a numpy bool: equal to True, not identical to it
    monkeypatch.setattr(clean_lab16.backend, "server_openssl_banner", lambda: None)  # the read failing
    unread = monitoring.requirements(clean_lab16, probe).set_index("requirement").loc[row, "ok"]
    assert unread is None
    assert monitoring._at_least("1.1.0l", (1, 1, 1)) is False and monitoring._at_least("3.0.17", (1, 1, 1))


def test_new_client_view_follows_the_server(clean_lab16, pki: LabPKI) -> None:
    lab = clean_lab16
    assert transaction.apply(lab, layer_ssl_on(pki)).ok
    view = monitoring.new_client_view(lab, pki, "now", sslmode="verify-full", sslrootcert=pki.paths.combined_crt)
    assert view["certificate presented"] == "server.crt" and view["new client connects"]
    control = monitoring.new_client_view(lab, pki, "rogue", sslmode="verify-full", sslrootcert=pki.paths.rogue_ca_crt)
    assert not control["new client connects"]
