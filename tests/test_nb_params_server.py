"""Lessons 13-16 and 34: a bad parameter fails at the validation cell, names itself and the allowed values,
and starts no server; plus the pure helpers of :mod:`labkit.course_server`.

Each notebook is run with papermill in a fresh workspace (``workspace`` parameter in tmp_path); the failing
run must leave no ``state.json`` there, i.e. ``labkit.lesson.begin`` was never reached.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

from labkit import course_server as C
from labkit.errors import InvalidValue

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

BAD_PARAMETERS = [
    ("13_layer4_ciphers.ipynb", {"ciphers": "NOPE-NOTHING"}, "invalid ciphers: 'NOPE-NOTHING'",
     "an OpenSSL cipher list"),
    ("13_layer4_ciphers.ipynb", {"prefer_server_ciphers": "yes"}, "invalid prefer_server_ciphers: 'yes'",
     "True or False"),
    ("14_layer5_crl.ipynb", {"crl_source": "everything"}, "invalid crl_source: 'everything'",
     "'combined', 'dir'"),
    ("15_layer6_ca_file.ipynb", {"ca_bundle": "all"}, "invalid ca_bundle: 'all'", "'root_only', 'intermediate_only'"),
    ("15_layer6_ca_file.ipynb", {"backend": "podman"}, "invalid backend: 'podman'", "'auto', 'local', 'docker'"),
    ("16_validate_reload.ipynb", {"bad_min_protocol": "TLSv1.2"}, "invalid bad_min_protocol: 'TLSv1.2'",
     "NOT one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3"),
    ("16_validate_reload.ipynb", {"pg_version": 9}, "invalid pg_version: 9", "12-17"),
    ("34_tls12_vs_13.ipynb", {"old_client_version": "SSLv3"}, "invalid old_client_version: 'SSLv3'",
     "'TLSv1', 'TLSv1.1'"),
    ("34_tls12_vs_13.ipynb", {"timing_repeats": 0}, "invalid timing_repeats: 0", "an integer from 1 to 100"),
]


@pytest.mark.parametrize(("notebook", "params", "named", "allowed"), BAD_PARAMETERS,
                         ids=[f"{n[:2]}-{next(iter(p))}" for n, p, _, _ in BAD_PARAMETERS])
def test_bad_parameter_fails_early_without_a_server(tmp_path: Path, notebook: str, params: dict[str, object],
                                                    named: str, allowed: str) -> None:
    workspace = tmp_path / "ws"
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(str(NOTEBOOKS / notebook), str(tmp_path / "out.ipynb"),
                                   parameters={**params, "workspace": str(workspace)}, kernel_name="python3",
                                   progress_bar=False, cwd=str(NOTEBOOKS))
    error = info.value
    assert error.ename == "InvalidValue", (error.ename, error.evalue)
    assert named in error.evalue and allowed in error.evalue, error.evalue
    # The failing cell is the validation cell: the one right after the parameters (papermill inserts an
    # "injected-parameters" cell after it, so the validation cell is number 3 counting code cells from 1).
    executed = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    failed = [i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert failed == [2], failed
    assert "labkit.lesson.begin" in code[2].source
    assert not (workspace / "state.json").exists()


def test_cipher_suites_expands_a_string_and_leaves_out_tls13() -> None:
    strict = C.cipher_suites("ECDHE+AESGCM:ECDHE+CHACHA20")
    assert len(strict) > 0 and strict.aead.all() and set(strict.key_exchange) == {"ecdhe"}
    assert not strict.suite.str.startswith("TLS_").any()
    guide = C.compare_cipher_strings({"critical": C.GUIDE_CIPHERS_CRITICAL, "strict": "ECDHE+AESGCM"})
    assert guide.critical.all() and guide.strict.sum() < guide.critical.sum()
    with pytest.raises(InvalidValue, match="cipher_string"):
        C.cipher_suites("NOPE-NOTHING")


def test_reload_report_messages_are_stable() -> None:
    import pandas as pd

    log = ["2026-01-01 10:00:00.000 UTC [42] LOG:  received SIGHUP, reloading configuration files",
           '2026-01-01 10:00:00.001 UTC [42] LOG:  configuration file "/data/x/labkit.conf" contains errors; '
           "no changes were applied"]
    report = C.ReloadReport(pd.DataFrame(), pd.DataFrame(), log, False, 0.01, "/data/x")
    assert not report.ok
    assert report.messages().message.tolist()[1].startswith('configuration file "$PGDATA/labkit.conf"')
