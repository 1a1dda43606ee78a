"""Report pages open offline: real headless Chromium, every request sent to a proxy that records it.

The course's own lessons with Mermaid diagrams are rendered to HTML as ``labkit run`` renders them; each page
is opened with all traffic (loopback too) routed to a recording proxy: no request may reach it, and every
diagram must be drawn as SVG from the report folder's own renderer. The run index and the audit index are
checked the same way, and printed to PDF.
"""
from __future__ import annotations

import http.server
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from labkit import lesson_files, report, runner

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
FIXTURES = Path(__file__).resolve().parent / "data" / "runner"
INTERRUPT_FIXTURES = Path(__file__).resolve().parent / "data" / "runner_interrupt"
DIAGRAM_LESSONS = sorted(p for p in NOTEBOOKS.glob("[0-9]*.ipynb") if runner.MERMAID_FENCE in p.read_text())


BROWSER_SERVICES = frozenset({"update.googleapis.com", "accounts.google.com", "clients2.google.com"})
"""Hosts headless Chromium itself calls at start (component updater, sign-in, clock check) whatever the page
and the --disable-* flags say; measured on Debian's chromium. Named one by one, so a page's own request to
any other host of these companies (fonts.googleapis.com ...) is still counted."""


class RecordingProxy(http.server.ThreadingHTTPServer):
    """An HTTP proxy on loopback that answers 502 to everything and remembers what it was asked.

    ``requests`` lists what a page asked for; Chromium's own service calls go to ``browser_requests``.
    """

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.browser_requests: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _refuse(self) -> None:
                host = self.path.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0]
                target = proxy.browser_requests if host in BROWSER_SERVICES else proxy.requests
                target.append(f"{self.command} {self.path}")
                self.send_error(502)

            do_GET = do_POST = do_HEAD = do_CONNECT = do_OPTIONS = _refuse  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    server = RecordingProxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def chromium_or_skip() -> str:
    binary = report.chromium()
    if binary is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it")
    return binary


def rendered_dom(page: Path, proxy: RecordingProxy, tmp_path: Path) -> str:
    """The page's DOM after its scripts ran (virtual time lets Mermaid finish), all traffic via ``proxy``."""
    command = report.chromium_command(chromium_or_skip(), tmp_path / "profile", "--virtual-time-budget=30000",
                                      "--dump-dom", page.resolve().as_uri(), proxy=proxy.url)
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return re.sub(r"<script\b.*?</script>", "", done.stdout, flags=re.S)  # what is shown, not the scripts


def test_the_course_has_diagrams() -> None:
    assert len(DIAGRAM_LESSONS) >= 10, [p.name for p in DIAGRAM_LESSONS]


@pytest.fixture(scope="module")
def lesson_pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every diagram lesson rendered as ``labkit run`` renders it (the committed notebooks, not executed)."""
    chromium_or_skip()
    out = tmp_path_factory.mktemp("pages")
    src = runner._diagram_renderer(DIAGRAM_LESSONS, out)
    assert src == "assets/mermaid.min.js" and (out / src).stat().st_size > 1_000_000
    exporter = runner._html_exporter()
    pages = {}
    for nb in DIAGRAM_LESSONS:
        page = out / f"{nb.stem}.html"
        runner._render_html(exporter, nb, page, src)
        pages[nb.stem] = page
    return pages


def test_control_a_stock_nbconvert_page_is_caught_by_the_proxy(proxy: RecordingProxy, tmp_path: Path) -> None:
    """The failing control: nbconvert's own lab template loads Mermaid and friends from a CDN."""
    from nbconvert import HTMLExporter

    chromium_or_skip()
    page = tmp_path / "stock.html"
    body, _ = HTMLExporter(template_name="lab").from_filename(str(DIAGRAM_LESSONS[0]))
    page.write_text(body, encoding="utf-8")
    dom = rendered_dom(page, proxy, tmp_path)
    assert any("cdnjs.cloudflare.com" in request for request in proxy.requests), proxy.requests
    assert '<div class="labkit-mermaid-svg">' not in dom


def test_lesson_pages_reference_no_url(lesson_pages: dict[str, Path]) -> None:
    for name, page in lesson_pages.items():
        html = page.read_text(encoding="utf-8")
        sources = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"', html)
        assert all(not s.startswith(("http:", "https:", "//")) for s in sources), (name, sources)


@pytest.mark.parametrize("index", range(3))
def test_lesson_page_offline_draws_every_diagram(lesson_pages: dict[str, Path], proxy: RecordingProxy,
                                                 tmp_path: Path, index: int) -> None:
    """Three pages per run (Chromium costs ~3 s a page): the first, a middle and the last diagram lesson."""
    names = sorted(lesson_pages)
    name = names[[0, len(names) // 2, -1][index]]
    source = (NOTEBOOKS / f"{name}.ipynb").read_text()
    dom = rendered_dom(lesson_pages[name], proxy, tmp_path)
    assert proxy.requests == []
    drawn = re.findall(r'<div class="labkit-mermaid-svg"><svg', dom)
    assert len(drawn) == source.count(runner.MERMAID_FENCE), name
    assert "diagram could not be drawn" not in dom
    assert 'data-labkit-mermaid="done"' in dom


def test_run_index_offline_and_printable(proxy: RecordingProxy, tmp_path: Path) -> None:
    chromium_or_skip()
    result = runner.run_series(lesson_files.discover_notebooks(FIXTURES, []) + [INTERRUPT_FIXTURES / "00_quick.ipynb"],
                               params={}, out_dir=tmp_path / "run", progress=False)
    files = report.write_outputs(result, result.out_dir, runner.gather_environment(result))
    dom = rendered_dom(files["html"], proxy, tmp_path)
    assert proxy.requests == []
    assert "Quick <code>lesson</code>" in dom  # the title "# Quick `lesson`" rendered from markdown
    assert "`" not in re.sub(r"<pre.*?</pre>", "", dom, flags=re.S)
    assert ">nan<" not in dom
    assert files["pdf"].read_bytes()[:5] == b"%PDF-"
    import json

    import jsonschema

    data = json.loads(files["json"].read_text())
    jsonschema.validate(data, report.run_schema())
    assert data["summary"] == {"passed": 3, "failed": 1, "interrupted": 0, "not_run": 0, "total": 4}
    assert next(lesson for lesson in data["lessons"] if lesson["name"] == "00_quick")["title"] == "Quick lesson"
    assert sorted(files) == ["html", "json", "junit", "pdf"]
