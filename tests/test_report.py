"""The run report's own files, without running lessons: a synthetic run with a wide key-result table.

Checks what issue 13 measured as broken: wide tables clipped in scroll boxes (lesson 00's verdict column read
"agre… Postg…"), raw backticks in titles, "nan" in cells, no JSON or JUnit; and that the page lays out
within the window in headless Chromium (nothing scrolls sideways, on screen or in print).
"""
from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

from labkit import report
from labkit.run_results import (
    FAILED,
    INTERRUPTED,
    PASSED,
    KeyResult,
    LessonError,
    LessonResult,
    SeriesResult,
)

LONG = "agrees with PostgreSQL's own view of the connection (pg_stat_ssl) and the server log line " * 2


def wide_table() -> str:
    frame = pd.DataFrame({"attempt": ["verify-full", "require", "disable"], "verdict": [LONG, LONG, None],
                          "version": ["TLSv1.3", None, float("nan")], "cipher": ["TLS_AES_256_GCM_SHA384"] * 3})
    return frame.to_html()


def series(tmp_path: Path) -> SeriesResult:
    def lesson(name: str, title: str, status: str, **extra: object) -> LessonResult:
        return LessonResult(name=name, number=name[:2], title=title, source_path=tmp_path / f"{name}.ipynb",
                            status=status, duration_s=1.5, parameters={}, **extra)  # type: ignore[arg-type]

    return SeriesResult(
        lessons=[lesson("00_req", "Requirements: `ssl_library` and *OpenSSL*", PASSED,
                        key_result=KeyResult("html", wide_table())),
                 lesson("10_fail", "Layer 1: `ssl = on`", FAILED,
                        error=LessonError("AssertionError", "n must be 2", "-> assert n == 2")),
                 lesson("20_int", "Interrupted <b>lesson</b>", INTERRUPTED,
                        error=LessonError("Interrupted", "SIGINT/SIGTERM while the lesson ran"))],
        out_dir=tmp_path, params={"backend": "local"}, started_at=datetime.now(timezone.utc), wall_s=4.5,
        not_run=["30_later"])


def test_titles_render_from_markdown_and_stay_escaped() -> None:
    assert str(report.title_html("Layer 1: `ssl = on`")) == "Layer 1: <code>ssl = on</code>"
    assert str(report.title_html("a <script>x</script>")) == "a &lt;script&gt;x&lt;/script&gt;"
    assert report.plain_title("Requirements: `ssl_library` and *OpenSSL*") == "Requirements: ssl_library and OpenSSL"


def test_missing_values_are_empty_cells() -> None:
    html = report.clean_table_html(wide_table())
    assert ">nan<" not in html and ">None<" not in html and ">NaN<" not in html
    assert html.count("<td></td>") == 3
    assert report.clean_table_html("<td>nanometre</td>") == "<td>nanometre</td>"


def test_json_and_junit_beside_the_index(tmp_path: Path) -> None:
    result = series(tmp_path)
    files = report.write_outputs(result, tmp_path, {"Backend": "local"}, pdf=False)
    assert sorted(files) == ["html", "json", "junit"]
    data = json.loads(files["json"].read_text())
    jsonschema.validate(data, report.run_schema())
    assert [lesson["status"] for lesson in data["lessons"]] == ["passed", "failed", "interrupted"]
    assert data["lessons"][1]["title"] == "Layer 1: ssl = on"
    suite = ET.parse(files["junit"]).getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "2")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["10_fail Layer 1: ssl = on"].find("failure").get("message") == "AssertionError: n must be 2"
    assert "interrupted" in cases["20_int Interrupted <b>lesson</b>"].find("skipped").get("message")
    html = files["html"].read_text()
    assert "Layer 1: <code>ssl = on</code>" in html and "Interrupted &lt;b&gt;lesson&lt;/b&gt;" in html
    assert ">nan<" not in html and "1 lesson(s) never started: 30_later" in html
    assert 'data-status="interrupted"' in html


LAYOUT_PROBE = """<script>
window.addEventListener("load", () => {
  const boxes = [...document.querySelectorAll("body *")].filter(
    (e) => e.scrollWidth > e.clientWidth + 1 && !["visible", "clip"].includes(getComputedStyle(e).overflowX));
  document.body.dataset.scrollBoxes = String(boxes.length);
  document.body.dataset.pageFits = String(document.documentElement.scrollWidth <= window.innerWidth);
  const cell = document.querySelector(".key-result td");
  document.body.dataset.cellText = cell ? cell.closest("tr").innerText.length : "0";
});
</script>"""


def test_index_lays_out_within_the_window_without_scroll_boxes(tmp_path: Path) -> None:
    binary = report.chromium()
    if binary is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it")
    index = report.write_index(series(tmp_path), tmp_path, {"Backend": "local"})
    probe = tmp_path / "probe.html"
    probe.write_text(index.read_text().replace("</body>", LAYOUT_PROBE + "</body>"))
    command = report.chromium_command(binary, tmp_path / "profile", "--window-size=1000,900",
                                      "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'data-scroll-boxes="0"' in done.stdout
    assert 'data-page-fits="true"' in done.stdout
    pdf = report.write_pdf(index, tmp_path / "report.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000
