"""The lab report: facts that lessons record while they run, and the ``index.html`` that sums a run up.

Two sides use this module. Inside a lesson's kernel, :func:`record_fact` notes what the lesson found out
(the backend it used, the server's version, the OpenSSL on either side) so that the auditor's report
states it without anyone copying numbers by hand. In the runner, :func:`write_index` turns a
:class:`~labkit.runner.SeriesResult` into one static page that an instructor can open on any laptop,
offline, without JavaScript.

The kernel side must stay cheap to import and must never break a lesson over report bookkeeping, so
jinja2 is imported only when a report is written.
"""
from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Mapping
from datetime import datetime, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .errors import InvalidValue, LabkitError

if TYPE_CHECKING:
    from jinja2 import Template

    from .runner import LessonResult, SeriesResult

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
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------------------------------
# Runner side: the index page
# --------------------------------------------------------------------------------------------------


def write_index(result: SeriesResult, out_dir: Path, environment: dict[str, object]) -> Path:
    """Render ``out_dir/index.html`` for a finished run and return its path.

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


@lru_cache(maxsize=1)
def _load_template() -> Template:
    """Compile the shipped template once per process; it is package data so it works when installed."""
    import jinja2

    source = resources.files("labkit").joinpath("templates").joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["seconds"] = _format_seconds
    env.filters["href"] = _href
    return env.from_string(source)


def _index_context(result: SeriesResult, environment: Mapping[str, object]) -> dict[str, Any]:
    """Everything the template needs, already shaped for display so the template holds no logic."""
    return {
        "title": "pgtls-lab report",
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "environment": [(label, _display_value(value)) for label, value in environment.items()],
        "passed": result.passed,
        "failed": result.failed,
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
        "title": lesson.title,
        "status": lesson.status,
        "parameters": [f"{name} = {value!r}" for name, value in lesson.parameters.items()],
        "duration_s": lesson.duration_s,
        "error": lesson.error,
        # pandas' HTML from our own lessons: trusted markup, embedded as is.
        "key_html": Markup(key.content) if key is not None and key.kind == "html" else None,
        "key_text": key.content if key is not None and key.kind == "text" else None,
        "html_file": lesson.html_path.name if lesson.html_path is not None else None,
        "ipynb_file": lesson.output_path.name if lesson.output_path is not None else None,
        "render_error": lesson.render_error,
    }


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
