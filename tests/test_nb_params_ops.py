"""Lessons 30-33 reject a bad parameter in their validation cell, naming it and the allowed values, before any
server is started (papermill injects the bad value, as a reader overriding a parameter would)."""
from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

CASES = [
    ("30_monitoring.ipynb", {"plaintext_client": "many"}, "plaintext_client", "True or False"),
    ("31_traffic_capture.ipynb", {"use_tcpdump": "yes"}, "use_tcpdump", "True or False"),
    ("32_cert_rotation.ipynb", {"rotate_to": "server3"}, "rotate_to", "'server2', 'server_by_root'"),
    ("32_cert_rotation.ipynb", {"pg_version": "abc"}, "pg_version", "12-17"),
    ("33_passphrase.ipynb", {"backend": "podman"}, "backend", "'auto', 'local', 'docker'"),
    ("33_passphrase.ipynb", {"restart_timeout": 0}, "restart_timeout", "an integer from 5 to 120"),
]


@pytest.mark.parametrize(("notebook", "params", "name", "allowed"), CASES,
                         ids=[f"{c[0][:2]}-{c[2]}" for c in CASES])
def test_bad_parameter_fails_in_validation_cell(tmp_path: Path, notebook: str, params: dict, name: str,
                                                allowed: str) -> None:
    workspace = tmp_path / "ws"
    out = tmp_path / "out.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        papermill.execute_notebook(str(NOTEBOOKS / notebook), str(out), kernel_name="python3",
                                   parameters={**params, "workspace": str(workspace)}, progress_bar=False,
                                   cwd=str(NOTEBOOKS))
    error = caught.value
    assert error.ename == "InvalidValue"
    assert f"invalid {name}:" in error.evalue and f"allowed: {allowed}" in error.evalue
    # the failing cell is the validation cell: the first code cell after the parameters
    executed = nbformat.read(str(out), as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    failed = [i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    tags = [c.metadata.get("tags", []) for c in code]
    first_after_params = max(i for i, t in enumerate(tags) if "parameters" in t or "injected-parameters" in t) + 1
    assert failed == [first_after_params]
    assert "lesson.begin(" in code[first_after_params].source
    assert not (workspace / "state.json").exists()
    assert not (workspace / "server").exists()
