"""A bad notebook parameter fails at the validation cell, names the parameter and the allowed values,
and starts nothing: no server, no ``state.json`` in the workspace (lessons 20-23 and 35).

Each notebook runs through papermill (the way a course run with parameters would), in a fresh workspace
below ``tmp_path``.
"""
from __future__ import annotations

from pathlib import Path

import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

# (notebook, parameter, bad value, words the error must contain)
CASES = [
    ("20_verify_ca", "sslrootcert_choice", "nowhere", ["sslrootcert_choice", "'nowhere'", "'root'", "'combined'",
                                                       "'rogue'", "'missing'"]),
    ("20_verify_ca", "server_cert", "wrong_host", ["server_cert", "'server'", "'server_chain'"]),
    ("21_verify_full", "host_choice", "db.example", ["host_choice", "'localhost'", "'127.0.0.1'"]),
    ("21_verify_full", "backend", "podman", ["backend", "'podman'", "'auto'", "'local'", "'docker'"]),
    ("22_client_cert_auth", "open_key_mode", 0o600, ["open_key_mode", "384", "420"]),
    ("22_client_cert_auth", "use_crl", "yes", ["use_crl", "True or False"]),
    ("23_sslmode_matrix", "tls_max", "TLSv1.4", ["tls_max", "'TLSv1.2'", "'TLSv1.3'"]),
    ("23_sslmode_matrix", "pg_version", "abc", ["pg_version", "'abc'", "12-17"]),
    ("35_troubleshooting", "include_reload_errors", 1, ["include_reload_errors", "True or False"]),
    ("35_troubleshooting", "key_type", "dsa", ["key_type", "'dsa'", "'ecdsa-p256'"]),
]


@pytest.mark.parametrize(("notebook", "name", "value", "words"), CASES,
                         ids=[f"{c[0][:2]}-{c[1]}" for c in CASES])
def test_bad_parameter_fails_before_anything_starts(tmp_path: Path, notebook: str, name: str, value: object,
                                                    words: list[str]) -> None:
    source = NOTEBOOKS / f"{notebook}.ipynb"
    if not source.exists():
        pytest.skip(f"{source.name} not built yet (tools/build_notebooks.py)")
    workspace = tmp_path / "ws"
    with pytest.raises(PapermillExecutionError) as caught:
        papermill.execute_notebook(str(source), str(tmp_path / "out.ipynb"), kernel_name="python3",
                                   parameters={name: value, "workspace": str(workspace)},
                                   cwd=str(NOTEBOOKS), progress_bar=False)
    error = caught.value
    assert error.ename == "InvalidValue", (error.ename, error.evalue)
    text = error.evalue
    assert f"invalid {name}:" in text, text
    for word in words:
        assert word in text, (word, text)
    # the failing cell is the validation cell: the first code cell after the parameters
    assert error.exec_count is not None and error.exec_count <= 3, error.exec_count
    assert not (workspace / "state.json").exists(), "a server was started for a bad parameter"
    assert not any(workspace.rglob("state.json")) if workspace.exists() else True
