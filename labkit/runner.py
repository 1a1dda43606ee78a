"""``labkit run``: execute a series of lessons unattended and leave a lab report behind.

An instructor checking a room of laptops, or an auditor who needs evidence, runs the lessons the way a
student would (each in a fresh kernel, from the notebook's own folder) and opens one ``index.html``
that says what passed, what failed and why, and what environment the lessons saw.

The work is a recipe of small named steps: find the notebooks, read what parameters they declare,
check the user's parameters against them, run each lesson with papermill (a failing lesson does not
stop the series), render each executed notebook to HTML while the next lesson runs, then gather the
facts the lessons recorded and write the index.
"""
from __future__ import annotations

import os
import platform
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import report
from .environment import temporary_environment
from .errors import LabkitError
from .lesson_files import LESSON_FILE, _parameters_for, read_notebook
from .run_results import (
    FAILED,
    INTERRUPTED,
    PASSED,
    KeyResult,
    LessonError,
    LessonResult,
    SeriesResult,
)

if TYPE_CHECKING:
    from nbconvert import HTMLExporter
    from nbformat import NotebookNode

KEY_RESULT_TAG = "key-result"
LESSON_PAGE_TEMPLATE = "lesson_page.html.j2"
MERMAID_FENCE = "```mermaid"
FORWARDED_ONLY_IF_DECLARED = ("backend", "pg_version")
"""Options of ``labkit run`` itself; unlike ``-p`` they are not an error when no lesson declares them."""
EXIT_INTERRUPTED = 130
"""What a shell reports for a program stopped by Ctrl-C (128 + SIGINT)."""
EXCERPT_CONTEXT_LINES = 3
EXCERPT_MAX_LINES = 12
_CELL_LINE = re.compile(r"Cell In\[\d*\], line (\d+)")
_ANSI = re.compile("\x1b\\[[0-9;]*[A-Za-z]")


# --------------------------------------------------------------------------------------------------
# Run the series (which lessons and their parameters: labkit.lesson_files)
# --------------------------------------------------------------------------------------------------


def run_series(
    nb_paths: Sequence[Path],
    *,
    params: dict[str, object],
    out_dir: Path,
    kernel_name: str = "python3",
    progress: bool = True,
    timeout_per_cell: int = 300,
    jobs: int = 1,
    lang: str = "en",
    render_html: bool = True,
) -> SeriesResult:
    """Run every lesson, continuing past failures, and render each executed notebook to HTML (unless
    ``render_html`` is False: a caller that reads only the outcomes, such as the suite's course runs on
    other majors, saves about 8 s of CPU per course).

    ``lang`` is the edition the notebooks are (``labkit run --lang``): the report's index is written in it.

    ``jobs`` > 1 runs that many lessons at once, each in its own process with its own lab
    (:mod:`labkit.parallel`); results stay in the given order.

    Each lesson gets only the parameters it declares. HTML rendering of a finished lesson happens on a
    worker thread while the next lesson's kernel runs, so the report costs almost no extra wall time.

    SIGINT (Ctrl-C) or SIGTERM stops the series where it is: the running lesson's kernel is shut down, the
    lesson is marked ``interrupted``, the lab server it started is stopped (as ``labkit down`` would), and
    the result -- with the lessons that never started in ``not_run`` -- comes back normally, so the caller
    still writes the report. :attr:`SeriesResult.interrupted` tells the caller to exit 130.
    """
    out_dir = report.prepare_out_dir(out_dir)
    started_at = datetime.now(timezone.utc)
    start = time.perf_counter()
    exporter = _html_exporter()
    mermaid_src = _diagram_renderer(nb_paths, out_dir) if render_html else None
    lessons: list[LessonResult] = []
    pending: list[tuple[LessonResult, Future[float]]] = []
    not_run: list[str] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="labkit-render") as renderer, \
            _progress_bar(len(nb_paths), progress) as bar, _interrupts_as_keyboard_interrupt():
        def record(lesson: LessonResult) -> None:
            lessons.append(lesson)
            _announce_failure(bar, lesson)
            if lesson.output_path is not None and render_html:
                html_path = out_dir / f"{lesson.name}.html"
                pending.append((lesson, renderer.submit(_render_html, exporter, lesson.output_path, html_path,
                                                              mermaid_src)))
            bar.update(1)

        if jobs > 1:
            from .parallel import run_side_by_side

            done, not_run = run_side_by_side(
                nb_paths, params=params, out_dir=out_dir, kernel_name=kernel_name,
                timeout_per_cell=timeout_per_cell, jobs=jobs, run_one=run_lesson, interrupted=_interrupted_lesson,
                shielded=_ignoring_interrupts, on_done=record,
                on_running=lambda names: bar.set_postfix_str(", ".join(names), refresh=True))
            lessons[:] = done  # in the given order, interrupted ones included
        else:
            not_run = _run_in_turn(nb_paths, params, out_dir, kernel_name, timeout_per_cell, bar, lessons, record)
        executed = time.perf_counter()
        with _ignoring_interrupts():
            for lesson, future in pending:
                _collect_render(lesson, future, out_dir / f"{lesson.name}.html")
    finished = time.perf_counter()
    return SeriesResult(lessons=lessons, out_dir=out_dir, params=dict(params), started_at=started_at,
                        wall_s=finished - start, render_s=sum(lesson.render_s for lesson in lessons),
                        report_tail_s=finished - executed, not_run=not_run, lang=lang)


def _run_in_turn(nb_paths: Sequence[Path], params: dict[str, object], out_dir: Path, kernel_name: str,
                 timeout_per_cell: int, bar: Any, lessons: list[LessonResult],
                 record: Any) -> list[str]:
    """One lesson after the other; on SIGINT/SIGTERM the running one is stopped and the rest are not run."""
    for position, nb_path in enumerate(nb_paths):
        bar.set_postfix_str(nb_path.stem, refresh=True)
        lesson_started = time.time()
        try:
            lesson = run_lesson(nb_path, params=params, out_dir=out_dir, kernel_name=kernel_name,
                                timeout_per_cell=timeout_per_cell)
        except KeyboardInterrupt:
            with _ignoring_interrupts():  # a second Ctrl-C must not leave the server running
                lessons.append(_interrupted_lesson(nb_path, params, out_dir, lesson_started))
                bar.write(f"INTERRUPTED {nb_path.stem}: stopping its lab server and writing the report",
                          file=sys.stderr)
            return [path.stem for path in nb_paths[position + 1:]]
        record(lesson)
    return []


def _interrupted_lesson(nb_path: Path, params: Mapping[str, object], out_dir: Path,
                        started: float) -> LessonResult:
    """The lesson that was running when the signal came: its partial notebook, and its server stopped."""
    nb_path = nb_path.resolve()
    output = out_dir / f"{nb_path.stem}.ipynb"
    stopped = stop_lesson_servers(_lesson_workspaces(params), since=started)
    where = f"; stopped its lab server in {', '.join(stopped)}" if stopped else "; no lab server of it was running"
    executed_nb = _read_notebook_or_none(output)
    cell_index, source, line = _interrupted_cell(executed_nb)
    return LessonResult(
        name=nb_path.stem, number=_lesson_number(nb_path), title=_title(nb_path), source_path=nb_path,
        status=INTERRUPTED, duration_s=time.time() - started, parameters=_parameters_for(nb_path, params),
        output_path=output if executed_nb is not None else None,
        error=LessonError(ename="Interrupted", evalue=f"SIGINT/SIGTERM while the lesson ran{where}",
                          excerpt=_excerpt(source, line), cell_index=cell_index),
        facts=_lesson_facts(out_dir / f"{nb_path.stem}.facts.json")[0],
    )


def _lesson_workspaces(params: Mapping[str, object]) -> list[Path]:
    """Where the interrupted lesson's lab can be: the ``workspace`` it was given, else the course's
    default workspaces (``lesson.begin`` takes the first free one of ``course``, ``course-2`` ...)."""
    from . import paths

    given = params.get("workspace")
    if isinstance(given, (str, Path)) and str(given):
        return [Path(given).expanduser()]
    return [paths.default_workspace("course" if n == 1 else f"course-{n}") for n in range(1, 9)]


def stop_lesson_servers(workspaces: Sequence[Path], *, since: float) -> list[str]:
    """Stop (``labkit down``) the lab of each workspace a lesson claimed at or after ``since``.

    A lesson claims its workspace by rewriting ``.lesson.lock`` and holding an flock on it; a workspace whose
    lock is newer than the interrupted lesson's start and that no live kernel still holds is that lesson's.
    Workspaces other lessons hold (another ``labkit run`` on the machine) are left alone.
    """
    import fcntl

    from .server import LabServer

    stopped = []
    for folder in workspaces:
        lock = folder / ".lesson.lock"
        try:
            if lock.stat().st_mtime < since - 1:
                continue
            handle = open(lock, "a")  # noqa: SIM115 - closed below; "a" keeps the lesson's timestamp
        except OSError:
            continue
        with handle:
            if not _wait_for_lock(handle, fcntl, seconds=10):
                continue  # still held: a live lesson of someone else
            try:
                lab = LabServer.attach(folder)
            except LabkitError:
                continue
            try:
                lab.down()
            except LabkitError as exc:
                print(f"labkit run: could not stop the lab in {folder}: {exc}", file=sys.stderr)
                continue
            stopped.append(str(folder))
    return stopped


def _wait_for_lock(handle: Any, fcntl: Any, *, seconds: float) -> bool:
    """Take the workspace's flock, waiting a moment for the interrupted kernel to die and release it."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)


@contextmanager
def _interrupts_as_keyboard_interrupt() -> Iterator[None]:
    """Let SIGINT and SIGTERM stop a series as KeyboardInterrupt, on the main thread only.

    SIGINT is set explicitly too: a process started from a shell's background job (``cmd &``, nohup, CI
    scripts) inherits SIGINT *ignored*, and Python then installs no handler, so ``kill -INT`` did nothing
    until the cell's timeout (measured: 300 s instead of seconds)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def _ignoring_interrupts() -> Iterator[None]:
    """Clean-up after an interrupt runs to its end: further SIGINT/SIGTERM are ignored meanwhile."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def run_lesson(
    nb_path: Path,
    *,
    params: Mapping[str, object],
    out_dir: Path,
    kernel_name: str = "python3",
    timeout_per_cell: int = 300,
) -> LessonResult:
    """Execute one lesson into ``out_dir/<name>.ipynb`` and describe the outcome; never raises for it.

    The kernel starts in the notebook's own folder so relative paths behave as in JupyterLab.
    """
    import papermill

    from .kernels import NOTEBOOK_KERNEL_MANAGER
    from .notebook_engine import ENGINE_NAME

    nb_path = nb_path.resolve()
    name = nb_path.stem
    output = out_dir / f"{name}.ipynb"
    facts_file = out_dir / f"{name}.facts.json"
    for stale in (output, facts_file, out_dir / f"{name}.html"):  # a rerun into the same folder
        stale.unlink(missing_ok=True)
    passed_params = _parameters_for(nb_path, params)
    error: LessonError | None = None
    start = time.perf_counter()
    with _kernel_environment(facts_file):
        try:
            papermill.execute_notebook(str(nb_path), str(output), parameters=passed_params,
                                       kernel_name=kernel_name, progress_bar=False, cwd=str(nb_path.parent),
                                       engine_name=ENGINE_NAME,  # one write of the output, at the end
                                       execution_timeout=timeout_per_cell,
                                       # Unix-socket channels: no TCP port race with other runs (kernels.py)
                                       kernel_manager_class=NOTEBOOK_KERNEL_MANAGER,
                                       # ipykernel warns on every start that its local TCP channel is not
                                       # encrypted; that line would break the progress bar for nothing.
                                       extra_arguments=["--IPKernelApp.log_level=ERROR"])
        except papermill.PapermillExecutionError as exc:
            error = _error_from_papermill(exc)
        except Exception as exc:  # a lesson that cannot even start must not stop the series
            error = _error_from_exception(exc, output)
    duration = time.perf_counter() - start
    executed_nb = _read_notebook_or_none(output)
    facts, facts_problem = _lesson_facts(facts_file)
    return LessonResult(
        name=name,
        number=_lesson_number(nb_path),
        title=_title(nb_path),
        source_path=nb_path,
        status=PASSED if error is None and facts_problem is None else FAILED,
        duration_s=duration,
        parameters=passed_params,
        output_path=output if executed_nb is not None else None,
        error=error or facts_problem,
        key_result=_key_result(executed_nb) if executed_nb is not None else None,
        facts=facts,
    )


@contextmanager
def _progress_bar(total: int, enabled: bool) -> Iterator[Any]:
    """One bar over lessons on stderr, so stdout stays clean for the index path."""
    from tqdm import tqdm

    bar = tqdm(total=total, unit="lesson", desc="lessons", file=sys.stderr, disable=not enabled)
    try:
        yield bar
    finally:
        bar.close()


def _announce_failure(bar: Any, lesson: LessonResult) -> None:
    """Say which lesson failed as it happens; the instructor should not wait for the end to know."""
    if lesson.error is not None and not bar.disable:
        bar.write(f"FAILED {lesson.name}: {lesson.error.ename}: {lesson.error.evalue}", file=sys.stderr)


@contextmanager
def _kernel_environment(facts_file: Path) -> Iterator[None]:
    """Set the variables a lesson's kernel needs while it starts, then put ours back.

    Papermill has no way to pass an environment to the kernel; kernels inherit the runner's, so we
    set it around the call. ``LABKIT_REPORT_FACTS`` tells :func:`labkit.report.record_fact` where to
    write. When the runner comes from a source checkout, that checkout goes first on ``PYTHONPATH`` so
    ``import labkit`` in a lesson works uninstalled and uses the very code that is running the lessons.
    """
    changes = {report.FACTS_ENV_VAR: str(facts_file)}
    root = _source_checkout_root()
    if root is not None:
        changes["PYTHONPATH"] = _prepend_path(str(root), os.environ.get("PYTHONPATH"))
    with temporary_environment(changes):
        yield


def _source_checkout_root() -> Path | None:
    """The repository holding this labkit, if it runs from one (a ``pyproject.toml`` beside it)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def _prepend_path(entry: str, current: str | None) -> str:
    parts = [p for p in (current or "").split(os.pathsep) if p]
    return os.pathsep.join([entry, *[p for p in parts if p != entry]])


def _error_from_papermill(exc: Exception) -> LessonError:
    """Papermill names the failing cell, its source and the kernel's error; keep what a reader needs."""
    source = getattr(exc, "source", "") or ""
    traceback = getattr(exc, "traceback", None) or []
    return LessonError(ename=str(getattr(exc, "ename", type(exc).__name__)),
                       evalue=_strip_ansi(str(getattr(exc, "evalue", ""))),
                       excerpt=_excerpt(source, _failing_line(traceback)),
                       cell_index=getattr(exc, "cell_index", None))


def _error_from_exception(exc: Exception, output: Path) -> LessonError:
    """A failure outside papermill's cell handling (no kernel, kernel died, cell timed out).

    The message's first line is the summary (nbclient's timeout message goes on with a preview of the
    cell); the cell itself comes from the notebook papermill saved, if it got that far.
    """
    lines = [line for line in _strip_ansi(str(exc)).splitlines() if line.strip()]
    cell_index, source, line = _interrupted_cell(_read_notebook_or_none(output))
    return LessonError(ename=type(exc).__name__, evalue=lines[0].strip() if lines else "",
                       excerpt=_excerpt(source, line), cell_index=cell_index)


def _interrupted_cell(nb: NotebookNode | None) -> tuple[int | None, str, int | None]:
    """The cell that holds an error output (a timed-out cell shows the interrupt) or was left running."""
    if nb is None:
        return None, "", None
    for index, cell in enumerate(nb.cells):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            return index, cell.get("source", ""), _failing_line(errors[0].get("traceback", []))
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("papermill", {})
        if meta.get("exception") or meta.get("status") == "running":
            return index, cell.get("source", ""), None
    return None, "", None


def _failing_line(traceback: Sequence[str]) -> int | None:
    """IPython tracebacks say ``Cell In[3], line 7``; the first such frame is the line in the cell."""
    for entry in traceback:
        match = _CELL_LINE.search(_strip_ansi(entry))
        if match:
            return int(match.group(1))
    return None


def _excerpt(source: str, line: int | None) -> str:
    """A few lines of the failing cell, centred on the failing line and marked with ``->``."""
    lines = source.splitlines()
    if not lines:
        return ""
    if line is None or not 1 <= line <= len(lines):
        shown = lines[:EXCERPT_MAX_LINES]
        more = ["   ..."] if len(lines) > EXCERPT_MAX_LINES else []
        return "\n".join([*(f"   {text}" for text in shown), *more])
    first = max(1, line - EXCERPT_CONTEXT_LINES)
    last = min(len(lines), line + EXCERPT_CONTEXT_LINES)
    return "\n".join(f"{'->' if number == line else '  '} {lines[number - 1]}" for number in range(first, last + 1))


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _lesson_facts(facts_file: Path) -> tuple[dict[str, object], LessonError | None]:
    """The lesson's recorded facts; an unreadable sidecar fails the lesson rather than hide evidence."""
    try:
        return report.read_facts(facts_file), None
    except LabkitError as exc:
        return {}, LessonError(ename=type(exc).__name__, evalue=exc.message)


def _read_notebook_or_none(nb_path: Path) -> NotebookNode | None:
    """The executed notebook, or None when papermill never got to write one."""
    if not nb_path.is_file():
        return None
    try:
        return read_notebook(nb_path)
    except LabkitError:
        return None


def _lesson_number(nb_path: Path) -> str:
    match = LESSON_FILE.match(nb_path.name)
    return match.group(1) if match else ""


def _title(nb_path: Path) -> str:
    """The first ``# Heading`` of the lesson, as a student sees it; the file stem if there is none."""
    try:
        nb = read_notebook(nb_path)
    except LabkitError:
        return nb_path.stem
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        match = re.search(r"^#(?!#)\s*(.+?)\s*#*\s*$", cell.source, flags=re.MULTILINE)
        if match:
            return match.group(1)
    return nb_path.stem


def _key_result(nb: NotebookNode) -> KeyResult | None:
    """The last rich (HTML) output of the ``key-result`` cell, else its last plain-text output."""
    cell = next((c for c in nb.cells if c.cell_type == "code"
                 and KEY_RESULT_TAG in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return None
    rich = [o for o in cell.get("outputs", []) if "data" in o]
    for kind, mime in (("html", "text/html"), ("text", "text/plain")):
        for output in reversed(rich):
            if mime in output["data"]:
                return KeyResult(kind=kind, content=_joined(output["data"][mime]))
    return None


def _joined(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


# --------------------------------------------------------------------------------------------------
# Step 4: HTML pages of the executed lessons
# --------------------------------------------------------------------------------------------------


def _html_exporter() -> HTMLExporter:
    """One exporter for the run, so its templates compile once.

    ``extra_template_basedirs`` is fixed because its default is the current directory, which papermill
    changes while lessons run on the main thread.
    """
    from importlib import resources

    from nbconvert import HTMLExporter

    page = resources.files("labkit").joinpath("templates").joinpath(LESSON_PAGE_TEMPLATE)
    return HTMLExporter(template_name="lab", template_file=str(page), extra_template_basedirs=[])


def _diagram_renderer(nb_paths: Sequence[Path], out_dir: Path) -> str | None:
    """Ship the Mermaid renderer into the report folder when a selected lesson has a diagram.

    Without it (no npm, no registry) the pages still open: diagrams show as their source text.
    """
    if not any(MERMAID_FENCE in path.read_text(encoding="utf-8", errors="replace") for path in nb_paths):
        return None
    from .offline_assets import ship_mermaid

    try:
        return ship_mermaid(out_dir)
    except LabkitError as exc:
        print(f"labkit run: note: {exc}", file=sys.stderr)
        return None


def _render_html(exporter: HTMLExporter, ipynb: Path, html_path: Path, mermaid_src: str | None = None) -> float:
    """Render one executed notebook next to it (offline page: no CDN script) and return the seconds it took."""
    start = time.perf_counter()
    nb = read_notebook(ipynb)
    has_diagram = any(MERMAID_FENCE in cell.source for cell in nb.cells if cell.cell_type == "markdown")
    try:
        body, _ = exporter.from_notebook_node(nb, resources={
            "metadata": {"name": ipynb.stem}, "labkit_mermaid_src": mermaid_src if has_diagram else None})
    except Exception as exc:  # nbconvert surfaces template, markdown and pygments errors alike
        raise LabkitError(f"cannot render {ipynb.name} to HTML: {exc}",
                          "open the .ipynb instead; please report this") from exc
    html_path.write_text(body, encoding="utf-8")
    return time.perf_counter() - start


def _collect_render(lesson: LessonResult, future: Future[float], html_path: Path) -> None:
    """Attach the rendered page to its lesson; a page that failed to render is noted, not fatal."""
    try:
        lesson.render_s = future.result()
    except (LabkitError, OSError) as exc:
        lesson.render_error = exc.message if isinstance(exc, LabkitError) else str(exc)
        return
    lesson.html_path = html_path


# --------------------------------------------------------------------------------------------------
# Step 5: the environment the lessons saw
# --------------------------------------------------------------------------------------------------


def merge_facts(sources: Sequence[tuple[str, Mapping[str, object]]]) -> tuple[dict[str, object], list[str]]:
    """Merge facts in order: the first value wins, and each disagreement is listed with its sources."""
    merged: dict[str, object] = {}
    origin: dict[str, str] = {}
    conflicts: list[str] = []
    for source, facts in sources:
        for name, value in facts.items():
            if name not in merged:
                merged[name], origin[name] = value, source
            elif merged[name] != value:
                conflicts.append(f"{name}: {merged[name]!r} from {origin[name]}, {value!r} from {source}")
    return merged, conflicts


def runner_facts() -> dict[str, object]:
    """Facts the runner knows itself: the labkit version and the client libpq psycopg loads."""
    facts: dict[str, object] = {"labkit_version": report.labkit_version()}
    libpq = _libpq_version()
    if libpq is not None:
        facts["libpq_version"] = libpq
    return facts


def _libpq_version() -> str | None:
    """The client's libpq version, worded as the lessons record it (so the two never "conflict")."""
    from .doctor import client_facts

    return client_facts()["libpq_version"]


def gather_environment(result: SeriesResult) -> dict[str, object]:
    """The report's header: the known facts first (lessons win over the runner), then the rest."""
    sources = [(lesson.name, lesson.facts) for lesson in result.lessons] + [("runner", runner_facts())]
    facts, conflicts = merge_facts(sources)
    environment: dict[str, object] = {}
    for name, label in report.FACT_LABELS.items():
        environment[label] = facts.pop(name, None)
    for name in sorted(facts):
        environment[name] = facts[name]
    environment["Parameters"] = result.params or "lesson defaults"
    if conflicts:
        environment["Conflicting facts"] = conflicts
    environment["Run started"] = result.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    environment["Machine"] = f"{platform.node()} ({platform.platform()}, Python {platform.python_version()})"
    return environment


# --------------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------------
