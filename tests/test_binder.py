"""Binder's postBuild, run as repo2docker runs it (from the repository root, after apt.txt), in a clean virtualenv.

repo2docker itself cannot run here (it pulls a base image from a registry CI cannot reach), so this runs
the script it would run, with the virtualenv standing in for the image's Python environment, and checks
what the image would then have: the labkit command, PostgreSQL 16 with OpenSSL, the kernel the notebooks
name, and trusted notebooks.
"""
from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path

import nbformat
import pytest
from nbformat.sign import NotebookNotary

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_post_build_sets_up_a_clean_environment(tmp_path: Path) -> None:
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    data_dir = tmp_path / "jupyter-data"
    env = {**os.environ, "PATH": f"{env_dir / 'bin'}:{os.environ['PATH']}", "VIRTUAL_ENV": str(env_dir),
           "JUPYTER_DATA_DIR": str(data_dir), "HOME": str(tmp_path),
           "PIP_COMPILE": "0"}  # pip --no-compile: byte-compiling JupyterLab is most of the CPU and proves nothing here
    env.pop("PYTHONPATH", None)
    done = subprocess.run(["bash", str(ROOT / "binder" / "postBuild")], capture_output=True, text=True,
                          timeout=900, env=env, cwd="/")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert (env_dir / "bin" / "labkit").is_file()
    assert "PostgreSQL 16" in done.stdout + done.stderr
    kernel = json.loads((env_dir / "share" / "jupyter" / "kernels" / "python3" / "kernel.json").read_text())
    assert kernel["argv"][0].startswith(str(env_dir))  # the notebooks' "python3" is this environment
    notary = NotebookNotary(data_dir=str(data_dir))
    lesson = nbformat.read(ROOT / "notebooks" / "10_layer1_ssl_on.ipynb", as_version=4)
    assert notary.check_signature(lesson)
    untrusted = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    assert not notary.check_signature(untrusted)  # the control: a notebook nobody trusted
