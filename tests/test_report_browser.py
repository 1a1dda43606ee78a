"""The lab report as a person sees it: ``index.html`` opened in real headless Chromium.

Checks the rendered DOM (not our template's source) lists every lesson with its status, that the failed
lesson is visibly marked, that every link leads to a file that exists, and that a screenshot renders.
"""
from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from labkit import report
from labkit.lesson_files import discover_notebooks
from labkit.runner import gather_environment, run_series

FIXTURES = Path(__file__).resolve().parent / "data" / "runner"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_TIMEOUT_S = 120
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


def chromium_path() -> Path:
    found = CHROMIUM if CHROMIUM.exists() else (Path(p) if (p := shutil.which("chromium")) else None)
    if found is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it")
    return found


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    return subprocess.run([str(chromium_path()), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S, check=False)


class ReportDom(HTMLParser):
    """Collects the lesson rows (with their text) and every link of the rendered page."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self.hrefs: list[str] = []
        self._row: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "tr" and "lesson" in attributes.get("class", "").split():
            self._row = {"class": attributes["class"], "status": attributes.get("data-status", ""), "text": ""}
            self.rows[attributes.get("id", "").removeprefix("lesson-")] = self._row
        if tag == "a" and "href" in attributes:
            self.hrefs.append(attributes["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._row is not None:
            self._row["text"] += data


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chromium_path()  # skip before spending time on the run
    out = tmp_path_factory.mktemp("browser") / "report"
    result = run_series(discover_notebooks(FIXTURES, []), params={}, out_dir=out, progress=False)
    return report.write_index(result, result.out_dir, gather_environment(result))


@pytest.fixture(scope="module")
def dom(index: Path, tmp_path_factory: pytest.TempPathFactory) -> ReportDom:
    done = chromium(tmp_path_factory.mktemp("dump"), "--dump-dom", index.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    parser = ReportDom()
    parser.feed(done.stdout)
    return parser


def test_every_lesson_is_listed_with_its_status(dom: ReportDom) -> None:
    assert {name: row["status"] for name, row in dom.rows.items()} == {
        "00_ok": "passed", "10_fails": "failed", "20_other": "passed"}
    for row in dom.rows.values():
        assert row["status"] in row["text"]


def test_failed_lesson_is_visibly_marked(dom: ReportDom) -> None:
    row = dom.rows["10_fails"]
    assert "status-failed" in row["class"].split()
    assert "AssertionError: n must be 2" in row["text"]
    assert 'assert n == 2, "n must be 2"' in row["text"]


def test_every_link_leads_to_an_existing_file(dom: ReportDom, index: Path) -> None:
    files = [h for h in dom.hrefs if not h.startswith("#")]
    assert len(files) == 6  # an HTML page and a notebook per lesson
    for href in files:
        parts = urlsplit(href)
        assert parts.scheme in ("", "file"), href
        target = (index.parent / unquote(parts.path)).resolve()
        assert target.is_file(), href


def test_screenshot_renders(index: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    done = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,1000", index.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
