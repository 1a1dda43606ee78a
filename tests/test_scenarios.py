"""labkit.scenarios against a real PostgreSQL 16 lab: each takes a lab and a PKI (no lesson), writes every
setting it depends on, and tabulates what clients get."""
from __future__ import annotations

import pytest

from labkit import roles, scenarios
from labkit.pki import LabPKI


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LabPKI:
    return LabPKI.ensure(tmp_path_factory.mktemp("scenarios-pki"))


def test_the_guides_layouts_on_a_plain_lab(clean_lab16, pki: LabPKI) -> None:
    roles.ensure_role(clean_lab16, "conssl", superuser=True)
    frame, results = scenarios.try_layouts(clean_lab16, pki, scenarios.guide_layouts(pki))
    outcome = dict(zip(frame["attempt"], frame["outcome"]))
    assert outcome["option 1 (guide): leaf only"].startswith("TLS")
    assert outcome["no intermediate on the server: leaf only"] == "server_cert_untrusted"  # the failing control
    assert outcome["option 2, client trusts only root"] == "unknown_ca"
    assert outcome["option 3 (guide): leaves signed by root"].startswith("TLS")
    assert list(frame.columns[:5]) == ["attempt", "ssl_cert_file", "ssl_ca_file", "sslrootcert", "client sends"]
    assert len(results) == len(frame) == 8


def test_protocol_matrix_predicts_what_libpq_negotiates(clean_lab16, pki: LabPKI) -> None:
    frame = scenarios.protocol_matrix(clean_lab16, pki, [("default", None), ("1.3 only", ("TLSv1.3", "TLSv1.3"))])
    libpq = frame[frame["client"].str.startswith("libpq")]
    assert (libpq["outcome"].where(libpq["connected"], "refused") == libpq["expected"]).all()
    assert not frame.loc[frame["client"].str.startswith("raw"), "connected"].any()  # floor TLSv1.2 both times
    row = frame[(frame["server range"] == "1.3 only") & (frame["client"] == "libpq, max TLSv1.2")].iloc[0]
    assert row["outcome"] == "protocol_mismatch" and "unsupported protocol" in row["server log says"]


def test_sslmode_matrix_takes_a_lab_and_a_pki(clean_lab16, pki: LabPKI) -> None:
    roles.ensure_role(clean_lab16, "conssl")
    frame, _ = scenarios.sslmode_matrix(clean_lab16, pki, states=("ssl off", "hostssl only"),
                                        sslrootcert=pki.paths.combined_crt)
    cell = frame.set_index(["server state", "sslmode"])["outcome"]
    assert cell["ssl off", "disable"] == "plaintext" and cell["ssl off", "require"] == "server_no_ssl"
    assert cell["hostssl only", "disable"] == "no_hba_no_encryption"
    assert cell["hostssl only", "verify-full"].startswith("TLS")
    assert clean_lab16.settings == {}  # the matrix leaves the lab as it found it
