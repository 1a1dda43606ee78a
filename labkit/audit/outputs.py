"""The audit's four files: ``index.html`` (self-contained, offline), ``results.json`` (schema shipped as
``labkit/data/audit-results.schema.json``), ``junit.xml`` (one test case per check, so CI can gate on it)
and ``report.pdf`` (the index printed by headless Chromium).

No output holds a secret: targets appear only as :attr:`Target.display` (no password keywords), the
passphrase command only as the program it runs.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import report
from ..errors import LabkitError
from .checks import FAIL, NOT_MEASURABLE, VERDICTS, WARN

if TYPE_CHECKING:
    from jinja2 import Template

    from .run import AuditReport

SCHEMA_FILE = "audit-results.schema.json"
TEMPLATE_NAME = "audit_index.html.j2"


def schema() -> dict[str, Any]:
    """The JSON schema results.json follows (draft 2020-12)."""
    text = resources.files("labkit").joinpath("data").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def write_all(result: AuditReport, out_dir: Path, *, pdf: bool = True) -> dict[str, Path]:
    """Write every output into ``out_dir`` and return them by kind; a PDF that cannot be made is noted in
    ``result.files['pdf_error']`` instead of failing the audit."""
    out_dir = report.prepare_out_dir(out_dir)
    data = result.as_json()
    written = {"json": write_json(data, out_dir / "results.json"),
               "junit": write_junit(data, out_dir / "junit.xml"),
               "html": write_html(data, out_dir / "index.html")}
    if pdf:
        try:
            written["pdf"] = report.write_pdf(written["html"], out_dir / "report.pdf")
        except LabkitError as exc:
            result.files["pdf_error"] = exc.message
    result.files.update({kind: str(path) for kind, path in written.items()})
    return written


def write_json(data: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")
    return path


def write_junit(data: dict[str, Any], path: Path) -> Path:
    """One ``<testsuite>`` per target, one ``<testcase>`` per check: fail is a failure, not-measurable a
    skip (with the reason), warn a pass whose ``system-out`` says WARN; a target that could not be reached
    adds an ``<error>``."""
    suites = ET.Element("testsuites", name="labkit audit", tests="0", failures="0", errors="0", skipped="0")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for target in data["targets"]:
        counts = target["summary"]
        suite = ET.SubElement(suites, "testsuite", name=f"{target['name']} ({data['profile']['name']})",
                              tests=str(len(target["checks"])), failures=str(counts[FAIL]),
                              errors="1" if target["error"] else "0", skipped=str(counts[NOT_MEASURABLE]),
                              time=f"{target['seconds']:.3f}")
        ET.SubElement(ET.SubElement(suite, "properties"), "property", name="target", value=target["target"])
        if target["error"]:
            case = ET.SubElement(suite, "testcase", classname=target["name"], name="connection")
            ET.SubElement(case, "error", message=target["error"]).text = target["error"]
            totals["errors"] += 1
            totals["tests"] += 1
        for check in target["checks"]:
            case = ET.SubElement(suite, "testcase", classname=f"{target['name']}.{check['side']}",
                                 name=f"{check['id']} {check['title']}")
            if check["verdict"] == FAIL:
                failure = ET.SubElement(case, "failure", message=check["evidence"], type=check["id"])
                failure.text = f"{check['evidence']}\nfix: {check['fix']}\nlesson: {check['lesson']}"
            elif check["verdict"] == NOT_MEASURABLE:
                ET.SubElement(case, "skipped", message=f"not measurable: {check['evidence']}")
            else:
                prefix = "WARN: " if check["verdict"] == WARN else ""
                ET.SubElement(case, "system-out").text = prefix + check["evidence"]
        totals["tests"] += len(target["checks"])
        totals["failures"] += counts[FAIL]
        totals["skipped"] += counts[NOT_MEASURABLE]
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
    return path


def write_html(data: dict[str, Any], path: Path) -> Path:
    try:
        html = _template().render(data=data, verdicts=VERDICTS)
    except Exception as exc:  # jinja2 raises many kinds; the user only needs to know the page failed
        raise LabkitError(f"cannot render the audit report: {exc}", "this is a labkit bug; please report it") from exc
    path.write_text(html, encoding="utf-8")
    return path


@lru_cache(maxsize=1)
def _template() -> Template:
    import jinja2

    source = resources.files("labkit").joinpath("templates").joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.globals["report_css"] = report.print_css()
    return env.from_string(source)
