"""The pytest plugin, used the way a DBA uses it: pytest runs in a subprocess on files of their own.

Each run starts a real lab server through the ``labkit_lab`` fixture; the worked example must pass, a wrong
expectation must fail with the evidence, and the ini file / command line must pick the server.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .helpers import searchable_tmp

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "test_my_server_tls.py"


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in ``folder`` (its own rootdir, so this project's configuration does not apply)."""
    env = {**os.environ, "PYTEST_ADDOPTS": "", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(folder),
                           "-q", *args], cwd=folder, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return searchable_tmp(tmp_path)


def test_the_plugin_is_registered_by_the_installed_package() -> None:
    from importlib.metadata import entry_points

    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("labkit") == "labkit.pytest_plugin"


def test_the_worked_example_passes(folder: Path) -> None:
    (folder / EXAMPLE.name).write_text(EXAMPLE.read_text())
    done = _pytest(folder, "--labkit-backend", "local", EXAMPLE.name)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "4 passed" in done.stdout


def test_a_wrong_expectation_fails_with_the_evidence(folder: Path) -> None:
    (folder / "test_wrong.py").write_text(textwrap.dedent('''
        from labkit.layers import layer_ssl_on

        def test_expects_a_refusal_that_does_not_happen(labkit_tls):
            labkit_tls.apply(layer_ssl_on(labkit_tls.pki, cert="server_chain"))
            labkit_tls.refused(**labkit_tls.verify_full())

        def test_expects_tls12_but_gets_13(labkit_tls):
            labkit_tls.apply(layer_ssl_on(labkit_tls.pki, cert="server_chain"))
            labkit_tls.connects(tls_version="TLSv1.2", **labkit_tls.verify_full())

        def test_a_bad_layer_is_reported(labkit_tls):
            labkit_tls.apply(layer_ssl_on(labkit_tls.pki, cert="server_chain", key="server2"))
    '''))
    done = _pytest(folder, "--labkit-backend", "local", "-rf")
    assert done.returncode == 1, done.stdout[-3000:]
    assert "3 failed" in done.stdout
    assert "expected a refusal, but it connected (TLSv1.3)" in done.stdout
    assert "connected over TLSv1.3, expected TLSv1.2" in done.stdout
    assert "psql \"host=127.0.0.1 " in done.stdout  # the command that reproduces it
    assert "the server rejected L1" in done.stdout


def test_ini_and_command_line_choose_the_server(folder: Path) -> None:
    (folder / "pytest.ini").write_text("[pytest]\nlabkit_backend = local\nlabkit_pg_version = 15\n")
    (folder / "test_version.py").write_text(textwrap.dedent('''
        import os

        def test_major(labkit_lab):
            wanted = int(os.environ["WANTED_MAJOR"])
            assert labkit_lab.state.pg_major == wanted and labkit_lab.state.backend == "local"
            version = labkit_lab.execute("SELECT current_setting('server_version_num')::int AS v")[0]["v"]
            assert version // 10000 == wanted
    '''))
    os.environ["WANTED_MAJOR"] = "15"
    try:
        from_ini = _pytest(folder)
        os.environ["WANTED_MAJOR"] = "16"
        from_option = _pytest(folder, "--labkit-pg-version", "16")
    finally:
        os.environ.pop("WANTED_MAJOR", None)
    assert from_ini.returncode == 0, from_ini.stdout[-2000:]
    assert from_option.returncode == 0, from_option.stdout[-2000:]
    bad = _pytest(folder, "--labkit-pg-version", "16.99")
    assert bad.returncode != 0 and "invalid labkit_pg_version: '16.99'" in bad.stdout
