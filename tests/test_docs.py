"""The learner's and the instructor's documents: the glossary covers every outcome key the code can print,
the instructor kit has what a workshop needs, and every relative link in them and in the course resolves."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from labkit.catalogue import CATALOGUE

ROOT = Path(__file__).resolve().parent.parent
GLOSSARY = ROOT / "docs" / "glossary.md"
INSTRUCTOR = ROOT / "docs" / "instructor.md"


def test_the_glossary_explains_every_catalogue_key() -> None:
    text = GLOSSARY.read_text()
    missing = [e.key for e in CATALOGUE if f"**`{e.key}`**" not in text]
    assert missing == [], f"add these keys to docs/glossary.md: {missing}"


def test_the_instructor_kit_has_both_agendas_a_reset_and_every_lesson() -> None:
    text = INSTRUCTOR.read_text()
    for heading in ("## A 3-hour workshop", "## A 1-day workshop", "## Resetting between exercises",
                    "## What can go wrong on laptops", "## The lessons without slides", "labkit check"):
        assert heading in text, heading
    for lesson in sorted((ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py")):
        assert f"**{lesson.name[:2]} " in text, f"docs/instructor.md has no summary of lesson {lesson.name[:2]}"


def _links(text: str) -> list[str]:
    return [m for m in re.findall(r"\]\(([^)#\s]+)", text) if "://" not in m and not m.startswith("mailto:")]


@pytest.mark.parametrize("path", [GLOSSARY, INSTRUCTOR, *sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")),
                                  *sorted((ROOT / "notebooks").glob("*/[0-9][0-9]_ex_*.ipynb"))],
                         ids=lambda p: p.name)
def test_relative_links_resolve(path: Path) -> None:
    if path.suffix == ".ipynb":
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    else:
        text = path.read_text()
    broken = [link for link in _links(text) if not (path.parent / link).exists()]
    assert broken == []
