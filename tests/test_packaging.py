"""The project as a package: what the wheel carries, which setuptools build it, and the course from a wheel.

These build real wheels with pip (PyPI must be reachable for the build requirements) and install one into a
fresh virtualenv, then run a lesson from an empty directory as a new user would.
"""
from __future__ import annotations

import configparser
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from .helpers import searchable_tmp

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _outside_env(**overrides: str) -> dict[str, str]:
    """This process's environment without PYTHONPATH: pointing at a checkout (which holds an ``.egg-info``),
    it makes pip find pgtls-lab "already satisfied" and install nothing, and ``import labkit`` find the
    checkout instead of the installed copy."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    return {**env, **overrides}


def _pip(python: Path, *args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env=_outside_env())
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _venv(folder: Path) -> Path:
    venv.EnvBuilder(with_pip=True).create(folder)
    return folder / "bin" / "python"


def _build(python: Path, out: Path, *, isolated: bool) -> Path:
    """Build from a copy of the sources: setuptools writes build/ and *.egg-info into the tree it builds,
    and a stale build/ left by an earlier in-tree install would leak old modules into the wheel."""
    import shutil

    source = out.parent / f"{out.name}-src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns("build", "*.egg-info", ".venv", "reports", ".git",
                                                                "__pycache__", ".pytest_cache"))
    args = ["wheel", "--no-deps", "-q", "-w", str(out), str(source)]
    _pip(python, *args if isolated else [*args, "--no-build-isolation"])
    (wheel,) = out.glob("pgtls_lab-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built as pip builds it by default (the newest setuptools, in an isolated environment)."""
    return _build(Path(sys.executable), tmp_path_factory.mktemp("wheel"), isolated=True)


def _source_modules() -> set[str]:
    return {str(p.relative_to(ROOT)) for p in (ROOT / "labkit").rglob("*.py") if "__pycache__" not in p.parts}


def test_the_wheel_carries_every_module_the_course_and_the_markers(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = _source_modules() - names
    assert missing == set(), f"modules left out of the wheel (add their package to pyproject): {missing}"
    lessons = {f"labkit/course/{p.name}" for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert len(lessons) >= 19 and lessons <= names
    spanish = {f"labkit/course/es/{p.name}" for p in (ROOT / "notebooks" / "es").glob("[0-9][0-9]_*.ipynb")}
    assert spanish <= names  # the Spanish edition travels too (tests/test_editions.py: one per lesson)
    assert {"labkit/course/sanitize.cfg", "labkit/py.typed", "labkit/templates/report_index.html.j2",
            "labkit/data/run-results.schema.json", "labkit/data/audit-results.schema.json",
            "labkit/data/report.css"} <= names
    dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    entry_points = configparser.ConfigParser()
    entry_points.read_string(zipfile.ZipFile(wheel).read(f"{dist_info}/entry_points.txt").decode())
    assert entry_points["pytest11"]["labkit"] == "labkit.pytest_plugin"
    assert entry_points["console_scripts"]["labkit"] == "labkit.cli:main"
    metadata = zipfile.ZipFile(wheel).read(f"{dist_info}/METADATA").decode()
    assert "License-File: LICENSE" in metadata
    (requirement,) = [line for line in metadata.splitlines()
                      if line.startswith("Requires-Dist:") and "pytest-postgresql" in line]
    assert 'extra == "bench"' in requirement  # only the benchmarks need it


def test_builds_with_the_oldest_setuptools_declared(tmp_path: Path, wheel: Path) -> None:
    python = _venv(tmp_path / "venv")
    _pip(python, "install", "-q", "setuptools==68.0.0", "wheel")
    old = _build(python, tmp_path / "out", isolated=False)
    def files(whl: Path) -> set[str]:
        return {n for n in zipfile.ZipFile(whl).namelist() if not n.startswith("pgtls_lab-")}

    assert files(old) == files(wheel) and "labkit/course/00_requirements.ipynb" in files(old)


def test_a_fresh_install_runs_a_lesson_from_an_empty_directory(tmp_path: Path, wheel: Path) -> None:
    base = searchable_tmp(tmp_path)
    python = _venv(base / "venv")
    # --no-compile: byte-compiling all of pandas and Jupyter is most of the install's CPU and not what this
    # proves; Python compiles what the lesson imports as it imports it.
    _pip(python, "install", "-q", "--no-compile", "-c", str(ROOT / "constraints.txt"), str(wheel))
    empty = base / "empty"
    empty.mkdir()
    env = _outside_env(PATH=f"{python.parent}:{os.environ['PATH']}")

    def labkit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(python.parent / "labkit"), *args], capture_output=True, text=True,
                              timeout=600, cwd=empty, env=env)

    where = subprocess.run([str(python), "-c", "import labkit; print(labkit.__file__)"], capture_output=True,
                           text=True, timeout=60, cwd=empty, env=env)
    assert str(base / "venv") in where.stdout  # the installed copy, not this checkout
    init = labkit("init", "course")
    assert init.returncode == 0, init.stderr
    run = labkit("run", "--notebooks-dir", "course", "00", "--out", "report")
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    assert "1 passed, 0 failed" in run.stdout and (empty / "report" / "index.html").is_file()
    # without --notebooks-dir: the course installed with the wheel, found from any directory
    shipped = labkit("run", "00", "--out", "report2")
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr[-3000:]
    assert "1 passed, 0 failed" in shipped.stdout
