"""What ``labkit run`` found out, lesson by lesson: the data both the runner and the report work from.

It lives in its own module so that imports go one way only: :mod:`labkit.runner` fills these in,
:mod:`labkit.report` renders them, and neither imports the other's internals.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

PASSED = "passed"
FAILED = "failed"
INTERRUPTED = "interrupted"
"""A lesson stopped by SIGINT/SIGTERM while it ran: neither passed nor a lesson failure."""


@dataclass(frozen=True)
class LessonError:
    """Why a lesson failed, in the words a student would see in JupyterLab."""

    ename: str
    evalue: str
    excerpt: str = ""
    """The failing cell's source around the failing line (``->`` marks it), or empty if unknown."""
    cell_index: int | None = None


@dataclass(frozen=True)
class KeyResult:
    """The output of the lesson's ``key-result`` cell: ``kind`` is ``"html"`` (trusted) or ``"text"``."""

    kind: str
    content: str


@dataclass
class LessonResult:
    """What one lesson did; the report is built from these alone."""

    name: str
    number: str
    title: str
    source_path: Path
    status: str
    duration_s: float
    parameters: dict[str, object]
    output_path: Path | None = None
    html_path: Path | None = None
    error: LessonError | None = None
    key_result: KeyResult | None = None
    facts: dict[str, object] = field(default_factory=dict)
    render_s: float = 0.0
    render_error: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == PASSED


@dataclass
class SeriesResult:
    """A whole run. Timings separate lesson execution from the report work done around it."""

    lessons: list[LessonResult]
    out_dir: Path
    params: dict[str, object]
    started_at: datetime
    wall_s: float = 0.0
    render_s: float = 0.0
    """Total time spent rendering HTML; most of it overlaps the next lesson's execution."""
    report_tail_s: float = 0.0
    """Time from the end of the last lesson until every HTML page was written: what rendering adds."""
    not_run: list[str] = field(default_factory=list)
    """Lessons selected but never started because the run was interrupted."""
    lang: str = "en"
    """The edition run (``labkit run --lang``): the language the report's index is written in."""

    @property
    def passed(self) -> int:
        return sum(lesson.passed for lesson in self.lessons)

    @property
    def failed(self) -> int:
        return sum(lesson.status == FAILED for lesson in self.lessons)

    @property
    def interrupted(self) -> bool:
        return any(lesson.status == INTERRUPTED for lesson in self.lessons) or bool(self.not_run)

    @property
    def all_passed(self) -> bool:
        return self.failed == 0 and not self.interrupted

    @property
    def execution_s(self) -> float:
        return sum(lesson.duration_s for lesson in self.lessons)
