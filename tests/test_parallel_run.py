"""`labkit run -j N`: lessons side by side, each with its own kernel, lab and port, and the same compared
outputs as the committed notebooks (the key-result tables, read as tools/key_results.py reads them)."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from labkit.errors import InvalidValue
from labkit.lesson_files import discover_notebooks
from labkit.parallel import check_jobs, lesson_params
from labkit.runner import run_series

from .helpers import labkit, searchable_tmp

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def _key_cells() -> object:
    spec = importlib.util.spec_from_file_location("key_results", ROOT / "tools" / "key_results.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.key_cells


def test_three_lessons_two_at_a_time_match_the_committed_key_results(tmp_path: Path) -> None:
    lessons = discover_notebooks(NOTEBOOKS, ["10", "11", "12"])
    workspace = searchable_tmp(tmp_path) / "ws"
    result = run_series(lessons, params={"backend": "local", "workspace": str(workspace)},
                        out_dir=tmp_path / "report", progress=False, jobs=2)
    assert [lesson.name for lesson in result.lessons] == [p.stem for p in lessons]
    assert all(lesson.passed for lesson in result.lessons), [(x.name, x.error) for x in result.lessons]
    used = {lesson.name: lesson.parameters["workspace"] for lesson in result.lessons}
    assert used == {p.stem: str(workspace / p.stem) for p in lessons}
    ports = {json.loads((Path(ws) / "state.json").read_text())["port"] for ws in used.values()
             if (Path(ws) / "state.json").exists()}
    assert len(ports) in (0, len(lessons))  # labs are removed at finish; any left behind had their own port
    key_cells = _key_cells()
    for lesson in result.lessons:
        assert lesson.output_path is not None
        # The committed notebooks ran in the default course workspace; this one in its own folder.
        ran = key_cells(lesson.output_path.read_text().replace(used[lesson.name], "/var/lib/labkit/labs/course"))
        committed = key_cells((NOTEBOOKS / f"{lesson.name}.ipynb").read_text())
        assert ran and ran == committed, lesson.name


def test_a_given_workspace_becomes_one_folder_per_lesson() -> None:
    assert lesson_params({"workspace": "/w", "pg_version": 16}, Path("10_x.ipynb")) == {
        "workspace": "/w/10_x", "pg_version": 16}
    assert lesson_params({"pg_version": 16}, Path("10_x.ipynb")) == {"pg_version": 16}


@pytest.mark.parametrize("value", ["0", "17", "two", True])
def test_a_bad_number_of_jobs_is_refused(value: object) -> None:
    with pytest.raises(InvalidValue, match="an integer from 1 to 16"):
        check_jobs(value)


def test_the_command_line_refuses_a_bad_jobs_value_before_running_anything(tmp_path: Path) -> None:
    done = labkit("run", "-j", "0", "--out", str(tmp_path / "out"), "10")
    assert done.returncode == 2 and "invalid --jobs: '0'" in done.stderr
    assert not (tmp_path / "out" / "index.html").exists()


def test_sigterm_stops_every_running_lesson_and_its_lab(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from .helpers import postgres_processes_for

    workspace = searchable_tmp(tmp_path) / "ws"
    run = subprocess.Popen([sys.executable, "-m", "labkit", "run", "-j", "2", "--backend", "local", "-p",
                            "workspace", str(workspace), "--out", str(tmp_path / "out"), "10", "11", "12"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    deadline = time.monotonic() + 240
    while not (workspace.is_dir() and len(list(workspace.glob("*/state.json"))) >= 2):
        assert run.poll() is None and time.monotonic() < deadline, "the lessons never both started a lab"
        time.sleep(0.2)
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=180)
    assert run.returncode == 130, err[-600:]
    assert "interrupted" in out + err and "Interrupted: SIGINT/SIGTERM while the lesson ran" in out + err
    assert postgres_processes_for(str(workspace)) == []
