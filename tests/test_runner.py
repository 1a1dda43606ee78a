"""``labkit run`` end to end: real papermill, real python3 kernels, the fixture lessons in data/runner/.

The fixtures: 00_ok passes and records facts and a DataFrame key result; 10_fails asserts ``n == 2``
with default ``n = 1``; 20_other declares ``n`` and ``backend`` and records the backend it got.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import signal
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import nbformat
import pytest

from labkit import report
from labkit.errors import InvalidValue, LabkitError
from labkit.lesson_files import (
    check_parameters,
    convert_cli_value,
    discover_notebooks,
    read_parameters,
)
from labkit.run_cli import add_run_arguments, cli_run
from labkit.runner import gather_environment, merge_facts, run_series

FIXTURES = Path(__file__).resolve().parent / "data" / "runner"
ALL = ["00_ok.ipynb", "10_fails.ipynb", "20_other.ipynb"]


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str
    out: Path

    @property
    def index_html(self) -> str:
        return (self.out / "index.html").read_text(encoding="utf-8")

    def row(self, name: str) -> str:
        """The index's table row for one lesson, so assertions cannot match a neighbour's text."""
        html = self.index_html
        start = html.index(f'id="lesson-{name}"')
        end = html.find('<tr class="lesson', start)  # rows hold nested tables: cut at the next lesson
        return html[start:end if end != -1 else html.index("</body>")]

    def output_nb(self, name: str) -> nbformat.NotebookNode:
        return nbformat.read(str(self.out / f"{name}.ipynb"), as_version=4)


def run_cli(out: Path, *argv: str) -> CliRun:
    parser = argparse.ArgumentParser(prog="labkit run")
    add_run_arguments(parser)
    args = parser.parse_args(["--notebooks-dir", str(FIXTURES), "--out", str(out), *argv])
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli_run(args)
    return CliRun(code, stdout.getvalue(), stderr.getvalue(), out)


def names(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


# --- discovery ----------------------------------------------------------------------------------


def test_discover_defaults_to_all_lessons_in_name_order() -> None:
    assert names(discover_notebooks(FIXTURES, [])) == ALL


@pytest.mark.parametrize(
    ("selectors", "expected"),
    [
        (["10_fails.ipynb"], ["10_fails.ipynb"]),
        (["10_fails"], ["10_fails.ipynb"]),
        ([str(FIXTURES / "20_other.ipynb")], ["20_other.ipynb"]),
        (["1*"], ["10_fails.ipynb"]),
        (["*_o*"], ["00_ok.ipynb", "20_other.ipynb"]),
        (["10"], ["10_fails.ipynb"]),
        (["0"], ["00_ok.ipynb"]),
        (["20", "00", "20_other.ipynb"], ["00_ok.ipynb", "20_other.ipynb"]),
    ],
)
def test_discover_selectors(selectors: list[str], expected: list[str]) -> None:
    assert names(discover_notebooks(FIXTURES, selectors)) == expected


def test_unknown_selector_lists_available_notebooks() -> None:
    with pytest.raises(InvalidValue) as info:
        discover_notebooks(FIXTURES, ["99"])
    message = str(info.value)
    assert "'99'" in message
    for name in ALL:
        assert name in message


def test_missing_notebooks_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LabkitError, match="notebooks folder not found"):
        discover_notebooks(tmp_path / "nope", [])


# --- parameters ---------------------------------------------------------------------------------


def test_read_parameters_gives_names_and_defaults() -> None:
    assert read_parameters(FIXTURES / "00_ok.ipynb") == {"greeting": "hi"}
    assert read_parameters(FIXTURES / "20_other.ipynb") == {"n": 1, "backend": "auto"}


def test_notebook_without_parameters_cell_is_an_error(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "01_plain.ipynb"
    nbformat.write(nb, str(path))
    with pytest.raises(LabkitError, match="no cell tagged 'parameters'"):
        read_parameters(path)


def test_unknown_parameter_lists_known_names() -> None:
    with pytest.raises(InvalidValue) as info:
        check_parameters(discover_notebooks(FIXTURES, []), {"no_such_param": 1})
    assert "'no_such_param'" in str(info.value)
    assert "'backend', 'greeting', 'n'" in str(info.value)


def test_parameter_known_to_one_lesson_is_accepted() -> None:
    check_parameters(discover_notebooks(FIXTURES, []), {"greeting": "hello", "n": 2})


@pytest.mark.parametrize(
    ("text", "value"),
    [("2", 2), ("-3", -3), ("2.5", 2.5), ("1e3", 1000.0), ("True", True), ("False", False),
     ("None", None), ("docker", "docker"), ("true", "true"), ("16.4.1", "16.4.1"), ("", "")],
)
def test_cli_values_convert_like_papermill(text: str, value: object) -> None:
    converted = convert_cli_value(text)
    assert converted == value and type(converted) is type(value)


def test_cli_unknown_parameter_exits_2_before_running(tmp_path: Path) -> None:
    run = run_cli(tmp_path / "report", "-p", "no_such_param", "1")
    assert run.code == 2
    assert "no_such_param" in run.stderr and "'backend', 'greeting', 'n'" in run.stderr
    assert not run.out.exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["99"], "invalid notebook: '99'"),
        (["--pg-version", "9"], "invalid pg_version"),
        (["-f", "missing.yaml"], "cannot read parameter file"),
    ],
)
def test_cli_bad_input_exits_2(tmp_path: Path, argv: list[str], needle: str) -> None:
    run = run_cli(tmp_path / "report", *argv)
    assert run.code == 2
    assert needle in run.stderr
    assert not run.out.exists()


def test_cli_param_file_that_is_not_a_mapping_exits_2(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("- n\n- 2\n", encoding="utf-8")
    run = run_cli(tmp_path / "report", "-f", str(params))
    assert run.code == 2 and "YAML mapping" in run.stderr


# --- facts --------------------------------------------------------------------------------------


def test_record_fact_does_nothing_outside_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(report.FACTS_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    report.record_fact("backend", "local")
    assert list(tmp_path.iterdir()) == []


def test_record_fact_writes_the_sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sidecar = tmp_path / "facts.json"
    monkeypatch.setenv(report.FACTS_ENV_VAR, str(sidecar))
    report.record_fact("server_version", "16.4")
    report.record_fact("port", 5433)
    report.record_fact("path", tmp_path)  # not JSON: stored as text
    report.record_fact("server_version", "16.5")  # same lesson: the later value replaces
    assert json.loads(sidecar.read_text()) == {"server_version": "16.5", "port": 5433, "path": str(tmp_path)}
    with pytest.raises(InvalidValue):
        report.record_fact("", 1)


def test_merge_facts_keeps_first_and_lists_conflicts() -> None:
    merged, conflicts = merge_facts([("00_a", {"backend": "local", "x": 1}),
                                     ("10_b", {"backend": "docker", "x": 1}),
                                     ("runner", {"labkit_version": "dev"})])
    assert merged == {"backend": "local", "x": 1, "labkit_version": "dev"}
    assert conflicts == ["backend: 'local' from 00_a, 'docker' from 10_b"]


# --- full runs ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    return run_cli(tmp_path_factory.mktemp("failing") / "report")


def test_full_run_exits_1_and_reports_every_lesson(failing_run: CliRun) -> None:
    assert failing_run.code == 1
    assert "2 passed, 1 failed" in failing_run.index_html
    assert failing_run.stdout.strip().splitlines()[-1] == f"report: {failing_run.out / 'index.html'}"
    for title in ("Greeting works", "Needs n = 2", "Another lesson"):
        assert title in failing_run.index_html


def test_failed_lesson_shows_its_error_and_cell(failing_run: CliRun) -> None:
    row = failing_run.row("10_fails")
    assert 'data-status="failed"' in row and '<span class="badge failed">failed</span>' in row
    assert "AssertionError: n must be 2" in row
    assert "-&gt; assert n == 2, &#34;n must be 2&#34;" in row  # the failing line, marked
    assert '<span class="none">—</span>' in row  # no key-result cell
    for name in ("00_ok", "20_other"):
        assert 'data-status="passed"' in failing_run.row(name)


def test_outputs_exist_for_every_lesson(failing_run: CliRun) -> None:
    for name in ("00_ok", "10_fails", "20_other"):
        assert (failing_run.out / f"{name}.ipynb").stat().st_size > 0
        assert (failing_run.out / f"{name}.html").stat().st_size > 0
        assert f'href="{name}.html"' in failing_run.row(name)
        assert f'href="{name}.ipynb"' in failing_run.row(name)


def test_lessons_run_in_their_own_folder(failing_run: CliRun) -> None:
    outputs = failing_run.output_nb("10_fails").cells
    printed = "".join(o.get("text", "") for cell in outputs if cell.cell_type == "code" for o in cell.outputs)
    assert f"working directory: {FIXTURES}" in printed


def test_key_results_are_embedded(failing_run: CliRun) -> None:
    assert '<table border="1" class="dataframe">' in failing_run.row("00_ok")
    assert "<td>hi</td>" in failing_run.row("00_ok")
    assert "<pre>10</pre>" in failing_run.row("20_other")


def test_facts_reach_the_environment_table(failing_run: CliRun) -> None:
    html = failing_run.index_html
    assert "<th scope=\"row\">PostgreSQL server</th><td><div>16.4</div>" in html
    assert "OpenSSL 3.0.15" in html
    assert "<th scope=\"row\">Backend</th><td><div>local</div>" in html  # first lesson wins
    assert "backend: &#39;local&#39; from 00_ok, &#39;auto&#39; from 20_other" in html
    assert "<th scope=\"row\">labkit</th>" in html


def test_params_fix_the_failure_and_reach_only_declaring_lessons(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHONPATH", raising=False)  # lessons import labkit through the runner's own prepend
    run = run_cli(tmp_path / "report", "-p", "n", "2", "--backend", "docker")
    assert run.code == 0, run.stderr
    assert "3 passed, 0 failed" in run.index_html
    injected = [c for c in run.output_nb("10_fails").cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "n = 2" in injected[0].source
    assert not any("injected-parameters" in c.metadata.get("tags", []) for c in run.output_nb("00_ok").cells)
    assert "backend = &#39;docker&#39;" in run.index_html  # parameters row
    assert "&#39;docker&#39; from 20_other" in run.index_html  # 20_other got --backend


def test_param_file(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("n: 2\n", encoding="utf-8")
    run = run_cli(tmp_path / "report", "10", "-f", str(params))
    assert run.code == 0, run.stderr
    assert "1 passed, 0 failed" in run.index_html


def test_report_overhead_is_small_against_execution(tmp_path: Path) -> None:
    """Rendering overlaps the next lesson's run; what remains after the last lesson must be small."""
    start = time.perf_counter()
    result = run_series(discover_notebooks(FIXTURES, []), params={}, out_dir=tmp_path, progress=False)
    index_start = time.perf_counter()
    report.write_index(result, result.out_dir, gather_environment(result))
    index_s = time.perf_counter() - index_start
    total = time.perf_counter() - start
    execution = result.execution_s
    overhead = result.report_tail_s + index_s
    print(f"\n[report overhead] execution {execution:.2f} s (3 lessons incl. kernel start); "
          f"HTML rendering {result.render_s:.2f} s in total, overlapped with execution; "
          f"after the last lesson: rendering {result.report_tail_s * 1000:.0f} ms + index {index_s * 1000:.0f} ms "
          f"= {overhead * 1000:.0f} ms = {overhead / execution:.1%} of execution; wall {total:.2f} s")
    assert (result.passed, result.failed) == (2, 1)
    assert overhead <= 0.10 * execution


def test_a_series_without_html_has_the_same_outcomes_and_no_pages(tmp_path: Path) -> None:
    """``render_html=False`` (the suite's course runs on other majors): lessons run and are judged as
    before; only the pages are not written."""
    result = run_series(discover_notebooks(FIXTURES, []), params={}, out_dir=tmp_path, progress=False,
                        render_html=False)
    assert (result.passed, result.failed) == (2, 1)
    assert all(lesson.output_path is not None and lesson.output_path.exists() for lesson in result.lessons)
    assert list(tmp_path.glob("*.html")) == [] and result.render_s == 0


def test_a_timed_out_cell_is_named_from_the_notebook_written_when_the_lesson_ended(tmp_path: Path) -> None:
    """The output notebook is written once, when the lesson ends (labkit.notebook_engine); a cell that
    runs past its timeout must still be found in it, with every earlier cell's output."""
    from labkit.runner import run_lesson

    lesson = tmp_path / "lessons" / "50_slow.ipynb"
    lesson.parent.mkdir()
    cells = [nbformat.v4.new_code_cell("n = 1", metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell("print('first cell ran', n)"),
             nbformat.v4.new_code_cell("import time\ntime.sleep(120)")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), str(lesson))
    started = time.monotonic()
    result = run_lesson(lesson, params={}, out_dir=tmp_path, timeout_per_cell=3)
    assert time.monotonic() - started < 60
    assert result.status == "failed" and result.error is not None
    assert "time.sleep(120)" in result.error.excerpt
    written = nbformat.read(str(tmp_path / "50_slow.ipynb"), as_version=4)
    sources = [cell.source for cell in written.cells]
    first = written.cells[sources.index("print('first cell ran', n)")]
    assert [output.get("text") for output in first.outputs] == ["first cell ran 1\n"]
    assert result.error.cell_index == sources.index("import time\ntime.sleep(120)")


# --- interrupting a series (SIGINT / SIGTERM) ----------------------------------------------------

INTERRUPT_FIXTURES = Path(__file__).resolve().parent / "data" / "runner_interrupt"


@pytest.mark.parametrize("signum", [2, 15], ids=["SIGINT", "SIGTERM"])
def test_interrupt_mid_series_writes_partial_report_and_stops_the_server(tmp_path: Path, signum: int) -> None:
    """A real series: 00 passes, 10 starts a lab server and sleeps, the signal comes, 20 must never run."""
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    from tests.helpers import postgres_processes_for

    # Not below /tmp/pytest-of-root, which any pytest session starting meanwhile makes 0700 again: the
    # lesson's server account must be able to reach its workspace for the whole run.
    base = Path(tempfile.mkdtemp(prefix="labkit-interrupt-"))
    base.chmod(0o755)
    workspace = base / "ws"
    out = tmp_path / "report"
    # Started the way a shell starts a background job (`labkit run … &`, nohup, a CI script): SIGINT ignored.
    # Python then installs no Ctrl-C handler of its own, so the runner must set one (it once waited for the
    # cell's 300 s timeout instead).
    runner = subprocess.Popen([sys.executable, "-m", "labkit", "run", "--notebooks-dir", str(INTERRUPT_FIXTURES),
                               "--out", str(out), "-p", "workspace", str(workspace)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        deadline = time.monotonic() + 180
        while not (workspace / "lesson-is-sleeping").exists():
            assert runner.poll() is None, runner.communicate()
            assert time.monotonic() < deadline, "lesson 10 never reached its sleeping cell"
            time.sleep(0.2)
        assert postgres_processes_for(str(workspace)), "the lesson's server should be running now"
        os.kill(runner.pid, signum)
        # Stopping the lesson, its server and writing the partial report (a PDF by Chromium included): seconds
        # on a quiet machine; the margin is for 2 cores shared with a second suite and a `./lab report` loop.
        stdout, stderr = runner.communicate(timeout=240)
    finally:
        if runner.poll() is None:
            runner.kill()
        leftover = postgres_processes_for(str(workspace))
        if leftover:  # the failure is asserted below; the next test must not meet this server
            from labkit.server import LabServer

            with contextlib.suppress(LabkitError):
                LabServer.attach(workspace).down()
        shutil.rmtree(base, ignore_errors=True)
    assert runner.returncode == 130, stdout + stderr
    assert leftover == [], "the interrupted lesson's server was left running"
    html = (out / "index.html").read_text(encoding="utf-8")
    assert 'data-status="passed"' in html and 'id="lesson-00_quick"' in html
    assert 'id="lesson-10_server" data-status="interrupted"' in html
    assert "1 lesson(s) never started: 20_after" in html
    assert "stopped its lab server in" in html
    data = json.loads((out / "results.json").read_text())
    jsonschema.validate(data, report.run_schema())
    assert [(lesson["name"], lesson["status"]) for lesson in data["lessons"]] == [
        ("00_quick", "passed"), ("10_server", "interrupted")]
    assert data["not_run"] == ["20_after"]
    suite = ET.parse(out / "junit.xml").getroot()
    assert suite.get("tests") == "3" and suite.get("skipped") == "2" and suite.get("failures") == "0"
    assert "interrupted" in stdout and f"report: {out / 'index.html'}" in stdout
    assert not (out / "20_after.ipynb").exists()
