"""Lessons 00, 01, 10, 11, 12: a bad parameter stops the notebook at its validation cell, before any server.

Each notebook is executed with papermill and one wrong value. The run must fail in the cell that calls
``labkit.lesson.begin`` (the cell right after the parameters), with :class:`~labkit.errors.InvalidValue`
naming the parameter and what is allowed, and the fresh workspace must hold no ``state.json`` (no lab was
started). A few unit tests of :mod:`labkit.course_basics` follow (no server needed).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from labkit import course_basics as cb

papermill = pytest.importorskip("papermill")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

CASES = [
    ("00_requirements", {"backend": "podman"}, "backend", "'auto', 'local', 'docker'"),
    ("00_requirements", {"pg_version": "9.6"}, "pg_version", "12-17"),
    ("01_pki", {"key_type": "dsa"}, "key_type", "'ecdsa-p256', 'rsa-2048'"),
    ("10_layer1_ssl_on", {"keep_server": "yes"}, "keep_server", "True or False"),
    ("11_layer2_protocols", {"tls_min": "TLSv9"}, "tls_min", "'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'"),
    ("11_layer2_protocols", {"tls_max": "TLSv1.0"}, "tls_max", "'', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'"),
    ("11_layer2_protocols", {"tls_min": "TLSv1.3", "tls_max": "TLSv1.2"}, "tls_min", "'TLSv1', 'TLSv1.1', 'TLSv1.2'"),
    ("12_layer3_hostssl", {"pg_version": 11}, "pg_version", "12-17"),
]


@pytest.mark.parametrize(("notebook", "params", "name", "allowed"), CASES,
                         ids=[f"{c[0]}-{'-'.join(c[1])}" for c in CASES])
def test_bad_parameter_fails_at_validation(tmp_path: Path, notebook: str, params: dict, name: str,
                                           allowed: str) -> None:
    workspace = tmp_path / "ws"
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        papermill.execute_notebook(str(NOTEBOOKS / f"{notebook}.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters={**params, "workspace": str(workspace)}, kernel_name="python3",
                                   cwd=str(NOTEBOOKS), progress_bar=False)
    err = caught.value
    assert err.ename == "InvalidValue", (err.ename, err.evalue)
    assert f"invalid {name}:" in err.evalue, err.evalue
    assert f"allowed: {allowed}" in err.evalue, err.evalue
    assert "labkit.lesson.begin(" in err.source, "failed in another cell than the validation cell"
    assert not (workspace / "state.json").exists(), "a lab was started for a bad parameter"


# -- course_basics, no server needed -------------------------------------------------------------------


def test_gist_removes_what_differs_between_backends() -> None:
    client = ('connection to server at "127.0.0.1", port 5416 failed: FATAL:  no pg_hba.conf entry for host '
              '"172.17.0.1", user "conssl", database "postgres", no encryption')
    assert cb.gist(client) == ('FATAL: no pg_hba.conf entry for host "<client>", user "conssl", '
                               'database "postgres", no encryption')
    log = ("2026-11-27 10:28:02.863 UTC [705] CONTEXT:  line 6 of configuration file "
           '"/var/lib/postgresql/data/pg_hba.conf"\n2026-11-27 10:28:02.863 UTC [705] LOG:  x')
    assert cb.gist(log) == 'CONTEXT: line 6 of configuration file "pg_hba.conf"'
    assert cb.gist("2026-11-27 10:26:08.264 UTC [1] [unknown]@[unknown] LOG:  could not accept SSL connection: "
                   "tlsv1 alert unknown ca") == "could not accept SSL connection: tlsv1 alert unknown ca"
    assert cb.gist("2026-11-27 10:28:02.863 UTC [705] LOG:  /tmp/a/b/pg_hba.conf was not reloaded") == \
        "pg_hba.conf was not reloaded"
    assert cb.gist(None) == ""


@pytest.mark.parametrize(("smin", "smax", "cap", "expected"), [
    ("TLSv1.2", "TLSv1.3", "TLSv1.1", None), ("TLSv1.2", "TLSv1.3", "TLSv1.2", "TLSv1.2"),
    ("TLSv1.3", "TLSv1.3", "TLSv1.2", None), ("TLSv1.2", "TLSv1.2", "TLSv1.3", "TLSv1.2"),
    ("TLSv1", "", "TLSv1.3", "TLSv1.3"), ("TLSv1.2", "", "TLSv1.3", "TLSv1.3"),
])
def test_expected_libpq(smin: str, smax: str, cap: str, expected: str | None) -> None:
    assert cb.expected_libpq(smin, smax, cap) == expected


def test_compatibility_check_flags_the_guides_tls10_claim() -> None:
    versions = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    default = pd.DataFrame({"version_asked": versions, "result": ["refused", "refused", "accepted", "accepted"]})
    legacy = pd.DataFrame({"version_asked": versions, "result": ["accepted"] * 4})
    frame = cb.compatibility_check(default_probe=default, legacy_probe=legacy, server_openssl="1.1.1",
                                   major=16, enumvals=versions, python_can=dict.fromkeys(versions, True),
                                   libpq_can={"TLSv1": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": True})
    verdicts = dict(zip(frame["protocol"], frame["verdict"]))
    assert list(frame["protocol"]) == ["SSLv2", "SSLv3", *versions]
    assert verdicts["TLSv1"].startswith("guide too generous: refused by default")
    assert "libpq cannot offer" in verdicts["TLSv1.1"]
    assert verdicts["TLSv1.2"] == verdicts["TLSv1.3"] == "agrees"
    assert "guide: OpenSSL 1.1.1" in frame.columns
    with pytest.raises(cb.InvalidValue):
        cb.compatibility_check(default_probe=default, legacy_probe=legacy, server_openssl="1.1.1", major=9,
                               enumvals=versions, python_can={}, libpq_can={})
