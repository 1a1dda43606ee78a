"""The lab report: facts that lessons record while they run, and the files that sum a run up.

Two sides use this module. Inside a lesson's kernel, :func:`record_fact` notes what the lesson found out
(the backend it used, the server's version, the OpenSSL on either side) so that the auditor's report
states it without anyone copying numbers by hand. In the runner, :func:`write_outputs` turns a
:class:`~labkit.run_results.SeriesResult` into ``index.html`` (one static page that opens on any laptop,
offline, without JavaScript), ``results.json``, ``junit.xml`` for CI, and ``report.pdf`` (the index
printed by headless Chromium). ``labkit audit`` uses the same PDF printer and style sheet.

The kernel side must stay cheap to import and must never break a lesson over report bookkeeping, so
jinja2 is imported only when a report is written. Imports go one way: this module reads
:mod:`labkit.run_results` and never imports the runner.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import tempfile
import warnings
from collections.abc import Mapping
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import i18n, paths
from .errors import InvalidValue, LabkitError

if TYPE_CHECKING:
    from jinja2 import Template

    from .run_results import LessonResult, SeriesResult

FACTS_ENV_VAR = "LABKIT_REPORT_FACTS"
"""Environment variable naming the JSON sidecar a lesson's facts go to; the runner sets it per lesson."""

TEMPLATE_NAME = "report_index.html.j2"

FACT_LABELS: dict[str, str] = {
    "backend": "Backend",
    "server_version": "PostgreSQL server",
    "server_openssl": "Server OpenSSL",
    "client_openssl": "Client OpenSSL",
    "libpq_version": "Client libpq",
    "labkit_version": "labkit",
}
"""Fact names the report knows, in the order the environment table shows them, with their labels.

Lessons should record these names so that the report's header is filled in; any other name is shown
after them as it was given.
"""

NOT_RECORDED = "not recorded"


# --------------------------------------------------------------------------------------------------
# Kernel side: recording facts
# --------------------------------------------------------------------------------------------------


def record_fact(name: str, value: object) -> None:
    """Note a fact about this run (``record_fact("server_version", "16.4")``) for the lab report.

    Outside ``labkit run`` (a student in JupyterLab) there is no report, so this does nothing. Within a
    lesson, a later call with the same name replaces the earlier value; across lessons the runner keeps
    the first and lists disagreements. Values that JSON cannot hold are stored as their ``str()``.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidValue("fact name", name, "a non-empty string", "name the fact, e.g. 'server_version'")
    target = os.environ.get(FACTS_ENV_VAR)
    if not target:
        return
    path = Path(target)
    facts = _facts_or_empty(path)
    facts[name.strip()] = _jsonable(value)
    _write_json_atomically(path, facts)


def read_facts(path: Path) -> dict[str, object]:
    """Return the facts a lesson wrote to ``path``; a lesson that recorded none has no file: ``{}``."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LabkitError(f"cannot read report facts from {str(path)!r}: {exc}",
                          "delete the file and run the lesson again") from exc
    if not isinstance(data, dict):
        raise LabkitError(f"report facts in {str(path)!r} are not a JSON object",
                          "delete the file and run the lesson again")
    return data


def _facts_or_empty(path: Path) -> dict[str, object]:
    """Read the sidecar, starting afresh (with a warning) if it is damaged: a lesson must not fail for it."""
    try:
        return read_facts(path)
    except LabkitError as exc:
        warnings.warn(f"labkit report: {exc.message}; starting a new facts file", stacklevel=3)
        return {}


def _jsonable(value: object) -> object:
    """Keep JSON-representable values as they are (numbers stay numbers); turn anything else into text."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def _write_json_atomically(path: Path, data: Mapping[str, object]) -> None:
    """Replace ``path`` in one step, so the runner never reads a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    paths.replace_file(path, json.dumps(data, indent=2, sort_keys=True).encode("utf-8"), 0o600)


# --------------------------------------------------------------------------------------------------
# Shared by every report: output folder, style sheet, PDF
# --------------------------------------------------------------------------------------------------

DIST_NAME = "pgtls-lab"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
PDF_TIMEOUT_S = 180
RUN_SCHEMA_FILE = "run-results.schema.json"


def labkit_version() -> str:
    """The installed pgtls-lab version, or ``dev`` when running from an uninstalled checkout."""
    from importlib import metadata

    try:
        return metadata.version(DIST_NAME)
    except metadata.PackageNotFoundError:
        return "dev"


def prepare_out_dir(out_dir: Path) -> Path:
    """Make the report folder before doing any work: a bad --out must fail fast, not after an hour."""
    out_dir = out_dir.expanduser().resolve()  # papermill changes the process cwd while a lesson runs
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabkitError(f"cannot create the report folder {str(out_dir)!r}: {exc.strerror or exc}",
                          "choose a writable folder with --out") from exc
    return out_dir


@lru_cache(maxsize=1)
def print_css() -> str:
    """The style sheet every report page inlines (screen and print rules: tables wrap, nothing scrolls)."""
    return resources.files("labkit").joinpath("data").joinpath("report.css").read_text(encoding="utf-8")


def chromium() -> str | None:
    """The Chromium binary (Debian's ``chromium`` package), or None."""
    for candidate in CHROMIUM_CANDIDATES:
        found = candidate if os.path.isabs(candidate) and os.access(candidate, os.X_OK) else shutil.which(candidate)
        if found:
            return found
    return None


def chromium_command(binary: str, profile_dir: Path, *args: str, proxy: str = "http://127.0.0.1:9") -> list[str]:
    """Headless Chromium that cannot reach the network: every request (loopback included) goes to ``proxy``,
    by default one that does not exist; a test passes a proxy of its own that records what was asked."""
    return [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
            "--disable-background-networking", "--disable-component-update", "--hide-scrollbars",
            f"--proxy-server={proxy}", "--proxy-bypass-list=<-loopback>",
            f"--user-data-dir={profile_dir}", *args]


def write_pdf(html: Path, pdf: Path) -> Path:
    """Print ``html`` to ``pdf`` with headless Chromium (``--print-to-pdf``, no header or footer)."""
    binary = chromium()
    if binary is None:
        raise LabkitError("cannot write the PDF: Chromium is not installed",
                          "install it (apt-get install chromium) and run again; the HTML report is complete")
    with tempfile.TemporaryDirectory(prefix="labkit-chromium-") as profile:
        command = chromium_command(binary, Path(profile), "--no-pdf-header-footer", f"--print-to-pdf={pdf}",
                                   html.resolve().as_uri())
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PDF_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as exc:
            raise LabkitError(f"Chromium did not print {html.name} within {PDF_TIMEOUT_S} s",
                              "open the HTML report instead") from exc
    if done.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        tail = " ".join(done.stderr.strip().splitlines()[-3:])
        raise LabkitError(f"Chromium could not print {html.name} to PDF (exit {done.returncode}): {tail}",
                          "open the HTML report instead")
    return pdf


# --------------------------------------------------------------------------------------------------
# Runner side: index.html, results.json, junit.xml, report.pdf
# --------------------------------------------------------------------------------------------------


def write_outputs(result: SeriesResult, out_dir: Path, environment: dict[str, object], *,
                  pdf: bool = True) -> dict[str, Path]:
    """Write every file of a run's report and return them by kind (``html``, ``json``, ``junit``, ``pdf``).

    A PDF that cannot be printed (no Chromium) is noted on stderr and left out; the rest is complete.
    """
    files = {"html": write_index(result, out_dir, environment),
             "json": write_results_json(result, out_dir / "results.json", environment),
             "junit": write_junit(result, out_dir / "junit.xml")}
    if pdf:
        try:
            files["pdf"] = write_pdf(files["html"], out_dir / "report.pdf")
        except LabkitError as exc:
            print(f"labkit run: note: {exc}", file=sys.stderr)
    return files


def write_index(result: SeriesResult, out_dir: Path, environment: dict[str, object]) -> Path:
    """Render ``out_dir/index.html`` for a run and return its path.

    ``environment`` is an ordered mapping of row label to value for the header table; a value may be a
    string, a number, a list (shown as lines) or a mapping (shown as ``name = value`` lines).
    """
    template = _load_template()
    context = _index_context(result, environment)
    try:
        html = template.render(**context)
    except Exception as exc:  # jinja2 raises many kinds; the user only needs to know the report failed
        raise LabkitError(f"cannot render the lab report: {exc}", "this is a labkit bug; please report it") from exc
    index = out_dir / "index.html"
    try:
        index.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise LabkitError(f"cannot write the lab report {str(index)!r}: {exc}",
                          "choose a writable folder with --out") from exc
    return index


def results_data(result: SeriesResult, environment: Mapping[str, object]) -> dict[str, Any]:
    """The run as JSON (``labkit/data/run-results.schema.json`` documents it)."""
    return {
        "schema_version": 1, "tool": "labkit run", "labkit_version": labkit_version(), "lang": result.lang,
        "started": result.started_at.isoformat(timespec="seconds"), "wall_s": round(result.wall_s, 3),
        "summary": {"passed": result.passed, "failed": result.failed,
                    "interrupted": sum(lesson.status == "interrupted" for lesson in result.lessons),
                    "not_run": len(result.not_run), "total": len(result.lessons) + len(result.not_run)},
        "parameters": {name: _jsonable(value) for name, value in result.params.items()},
        "environment": {label: _jsonable(value) for label, value in environment.items()},
        "lessons": [{
            "name": lesson.name, "number": lesson.number, "title": plain_title(lesson.title),
            "status": lesson.status, "duration_s": round(lesson.duration_s, 3),
            "parameters": {name: _jsonable(value) for name, value in lesson.parameters.items()},
            "error": None if lesson.error is None else {"ename": lesson.error.ename, "evalue": lesson.error.evalue,
                                                        "excerpt": lesson.error.excerpt,
                                                        "cell_index": lesson.error.cell_index},
            "facts": lesson.facts,
            "html": lesson.html_path.name if lesson.html_path is not None else None,
            "notebook": lesson.output_path.name if lesson.output_path is not None else None,
        } for lesson in result.lessons],
        "not_run": list(result.not_run),
    }


def run_schema() -> dict[str, Any]:
    """The JSON schema of a run's results.json (draft 2020-12)."""
    return json.loads(resources.files("labkit").joinpath("data").joinpath(RUN_SCHEMA_FILE).read_text(encoding="utf-8"))


def write_results_json(result: SeriesResult, path: Path, environment: Mapping[str, object]) -> Path:
    path.write_text(json.dumps(results_data(result, environment), indent=2, default=str) + "\n", encoding="utf-8")
    return path


def write_junit(result: SeriesResult, path: Path) -> Path:
    """One test case per lesson: failed lessons carry a ``<failure>``, interrupted and never-run lessons a
    ``<skipped>`` saying so, so CI shows an interrupted run as incomplete rather than green."""
    suite = ET.Element("testsuite", name="labkit run", tests=str(len(result.lessons) + len(result.not_run)),
                       failures=str(result.failed), errors="0",
                       skipped=str(len(result.lessons) - result.passed - result.failed + len(result.not_run)),
                       time=f"{result.wall_s:.3f}", timestamp=result.started_at.isoformat(timespec="seconds"))
    for lesson in result.lessons:
        case = ET.SubElement(suite, "testcase", classname="lessons", name=f"{lesson.name} {plain_title(lesson.title)}",
                             time=f"{lesson.duration_s:.3f}")
        if lesson.status == "failed":
            error = lesson.error
            failure = ET.SubElement(case, "failure", message=f"{error.ename}: {error.evalue}" if error else "failed",
                                    type=error.ename if error else "failed")
            failure.text = error.excerpt if error else ""
        elif lesson.status == "interrupted":
            ET.SubElement(case, "skipped", message="interrupted (SIGINT/SIGTERM) while it ran")
    for name in result.not_run:
        case = ET.SubElement(suite, "testcase", classname="lessons", name=name, time="0")
        ET.SubElement(case, "skipped", message="not run: the series was interrupted before it")
    ET.indent(suite)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    return path


@lru_cache(maxsize=1)
def _load_template() -> Template:
    """Compile the shipped template once per process; it is package data so it works when installed."""
    import jinja2

    source = resources.files("labkit").joinpath("templates").joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["seconds"] = _format_seconds
    env.filters["href"] = _href
    env.globals["report_css"] = print_css()
    return env.from_string(source)


def _index_context(result: SeriesResult, environment: Mapping[str, object]) -> dict[str, Any]:
    """Everything the template needs, already shaped for display so the template holds no logic; every
    word in the run's edition (``result.lang``: the index of a Spanish run reads in Spanish)."""
    lang = result.lang

    def say(text: str) -> str:
        return i18n.phrase(text, lang)

    summary = say("{passed} passed, {failed} failed").format(passed=result.passed, failed=result.failed)
    interrupted_note = say('The run was interrupted (SIGINT/SIGTERM): the lesson marked "interrupted" did not finish')
    if result.not_run:
        interrupted_note += say(", and {n} lesson(s) never started: {names}").format(
            n=len(result.not_run), names=", ".join(result.not_run))
    return {
        "lang": lang,
        "say": say,
        "title": say("pgtls-lab report"),
        "generated": f'{say("Generated")} {datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")}',
        "summary": summary + (say(", interrupted") if result.interrupted else ""),
        "interrupted_note": interrupted_note + ".",
        "environment": [(say(label), [say(line) for line in _display_value(value)])
                        for label, value in environment.items()],
        "passed": result.passed,
        "failed": result.failed,
        "interrupted": result.interrupted,
        "not_run": list(result.not_run),
        "total": len(result.lessons),
        "lessons": [_lesson_row(lesson) for lesson in result.lessons],
    }


def _lesson_row(lesson: LessonResult) -> dict[str, Any]:
    """One table row: the template must be able to rely on every key being present."""
    from markupsafe import Markup

    key = lesson.key_result
    return {
        "name": lesson.name,
        "number": lesson.number,
        "title": title_html(lesson.title),
        "status": lesson.status,
        "parameters": [f"{name} = {value!r}" for name, value in lesson.parameters.items()],
        "duration_s": lesson.duration_s,
        "error": lesson.error,
        # pandas' HTML from our own lessons: trusted markup, embedded as is (empty cells instead of "nan").
        "key_html": Markup(clean_table_html(key.content)) if key is not None and key.kind == "html" else None,
        "key_text": key.content if key is not None and key.kind == "text" else None,
        "html_file": lesson.html_path.name if lesson.html_path is not None else None,
        "ipynb_file": lesson.output_path.name if lesson.output_path is not None else None,
        "render_error": lesson.render_error,
    }


_MISSING_CELL = re.compile(r"(<td\b[^>]*>)\s*(?:nan|NaN|None|NaT|<NA>|&lt;NA&gt;)\s*(</td>)")


def clean_table_html(html: str) -> str:
    """pandas writes a missing value as ``nan`` (or ``None``/``NaT``/``<NA>``); a reader sees an empty cell."""
    return _MISSING_CELL.sub(r"\1\2", html)


def title_html(title: str) -> Any:
    """A lesson's ``# Heading`` rendered as inline markdown (backticks become ``<code>``), escaped first."""
    import mistune
    from markupsafe import Markup

    rendered = mistune.create_markdown(escape=True)(title).strip()
    if rendered.startswith("<p>") and rendered.endswith("</p>"):
        rendered = rendered[3:-4]
    return Markup(rendered)


def plain_title(title: str) -> str:
    """The heading without markdown marks, for JSON, JUnit and page titles."""
    return re.sub(r"`([^`]*)`|\*\*([^*]*)\*\*|\*([^*]*)\*", lambda m: next(g for g in m.groups() if g is not None), title)


def _display_value(value: object) -> list[str]:
    """Show any environment value as lines of text, so the template renders one shape."""
    if value is None or value == "":
        return [NOT_RECORDED]
    if isinstance(value, Mapping):
        return [f"{key} = {item!r}" for key, item in value.items()] or ["(none)"]
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value] or ["(none)"]
    return [str(value)]


def _format_seconds(seconds: float) -> str:
    """Durations people read at a glance: 0.8 s, 12.3 s, 2 min 05 s."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def _href(file_name: str) -> str:
    """A relative link to a file next to index.html, safe for names with spaces or '#'."""
    return quote(file_name)
