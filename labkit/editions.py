"""One lesson source, two editions: the English notebook and its Spanish twin, built from the same cells.

Why a module of its own: the course is written once, as Jupytext sources in ``notebooks/src/``, and every
English Markdown cell is followed by its Spanish twin (a Markdown cell with ``lang="es"`` in its metadata).
Code cells exist once, so both editions run exactly the same code; only the parameters cell's
``lang = "en"`` line differs. The build tool, the tests and ``labkit run`` all need the same answers to
"which cell is whose twin?", "is this twin out of date?" and "where does the Spanish notebook live?", so
those answers live here and nowhere else.

Drift guard: each twin records ``en="<fingerprint>"``, a short hash of the English cell it translates, at
the time it was written (:func:`stamp_source`). When the English cell changes, the fingerprint no longer
matches and :func:`problems` reports the twin as stale, so a translation cannot silently fall behind.
"""
from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import LabkitError
from .i18n import check_language

__all__ = ["EditionError", "Problem", "SPANISH_FOLDER", "code_differences", "edition", "fingerprint",
           "is_twin", "problems", "spanish_path", "stamp_source"]

TWIN_LANG = "es"
"""The language of the twin cells (the metadata value ``lang="es"``)."""
FINGERPRINT_KEY = "en"
"""Twin metadata key holding the fingerprint of the English cell it was written from."""
SPANISH_FOLDER = "es"
"""The sub-folder (of ``notebooks/``, of the bundled course) holding the Spanish edition."""
PARAMETERS_TAG = "parameters"
_LANG_LINE = re.compile(r'^lang = "en"', re.MULTILINE)
_TWIN_HEADER = re.compile(r'^# %% \[markdown\].*\blang="es"')
_OLD_FINGERPRINT = re.compile(r'\s+en="[^"]*"')
# A relative link in Markdown, except to a sibling lesson notebook (the Spanish edition has its own).
_RELATIVE_LINK = re.compile(r'\]\((?![a-z][a-z0-9+.-]*:|#|/|\d+_[^)/]*\.ipynb)([^)\s]+)')


class EditionError(LabkitError):
    """A source cannot give the asked edition (an English cell without its twin, no ``lang`` line)."""


@dataclass(frozen=True)
class Problem:
    """One reason a source's Spanish edition is incomplete or out of date."""

    kind: str
    """``missing`` (English cell without twin), ``stale`` (English cell changed since its twin was written),
    ``unstamped`` (twin with no fingerprint), ``orphan`` (twin not right after an English Markdown cell),
    ``tags`` (twin's tags differ from its English cell's)."""
    index: int
    """The cell's position in the source (0-based, every cell counted)."""
    first_line: str

    def __str__(self) -> str:
        return f"cell {self.index} ({self.kind}): {self.first_line!r}"


def fingerprint(text: str) -> str:
    """Eight hex digits that change whenever the English cell's text changes (surrounding blanks ignored)."""
    return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()[:8]


def is_twin(cell: Any) -> bool:
    """True for a Spanish twin: a Markdown cell whose metadata says ``lang="es"``."""
    return cell.cell_type == "markdown" and cell.metadata.get("lang") == TWIN_LANG


def _first_line(cell: Any) -> str:
    return next((line.strip() for line in cell.source.splitlines() if line.strip()), "")[:80]


def _tags(cell: Any) -> list[str]:
    return list(cell.metadata.get("tags", []))


def problems(cells: Sequence[Any]) -> list[Problem]:
    """Every English Markdown cell without a twin, every stale, unstamped or misplaced twin, in cell order."""
    found: list[Problem] = []
    for index, cell in enumerate(cells):
        before = cells[index - 1] if index else None
        after = cells[index + 1] if index + 1 < len(cells) else None
        if is_twin(cell):
            if before is None or before.cell_type != "markdown" or is_twin(before):
                found.append(Problem("orphan", index, _first_line(cell)))
            elif FINGERPRINT_KEY not in cell.metadata:
                found.append(Problem("unstamped", index, _first_line(cell)))
            elif cell.metadata[FINGERPRINT_KEY] != fingerprint(before.source):
                found.append(Problem("stale", index, _first_line(before)))
            elif _tags(cell) != _tags(before):
                found.append(Problem("tags", index, _first_line(cell)))
        elif cell.cell_type == "markdown" and not (after is not None and is_twin(after)):
            found.append(Problem("missing", index, _first_line(cell)))
    return found


def edition(notebook: Any, lang: str, *, name: str = "", allow_missing: bool = False) -> Any:
    """A copy of ``notebook`` (a source read by Jupytext) as the ``lang`` edition.

    English drops every twin. Spanish puts each twin in place of its English cell (without the ``lang``
    and fingerprint metadata, tags kept), points relative links one folder up (the edition lives in
    ``es/``) and sets the parameters cell's ``lang = "en"`` to ``"es"``. An English cell without a twin
    fails naming the lesson and the cell, unless ``allow_missing`` (a draft keeps the English text).
    """
    check_language(lang)
    result = copy.deepcopy(notebook)
    cells = result.cells
    if lang == "en":
        result.cells = [c for c in cells if not is_twin(c)]
        return result
    out = []
    for index, cell in enumerate(cells):
        if is_twin(cell):
            continue
        after = cells[index + 1] if index + 1 < len(cells) else None
        if cell.cell_type == "markdown":
            if after is not None and is_twin(after):
                cell = copy.deepcopy(after)  # the twin itself must stay a twin for the next step's test
                for key in ("lang", FINGERPRINT_KEY):
                    cell.metadata.pop(key, None)
                cell.source = _RELATIVE_LINK.sub(r"](../\1", cell.source)
            elif not allow_missing:
                raise EditionError(f"{name or 'the source'}: cell {index} has no Spanish twin: "
                                   f"{_first_line(cell)!r}",
                                   'write the cell\'s twin (# %% [markdown] lang="es") right after it, '
                                   "or build a draft with --allow-missing")
        elif PARAMETERS_TAG in _tags(cell):
            if not _LANG_LINE.search(cell.source):
                raise EditionError(f"{name or 'the source'}: the parameters cell has no 'lang = \"en\"' line",
                                   'add lang = "en" to the parameters cell (notebooks/AUTHORING.md)')
            cell.source = _LANG_LINE.sub('lang = "es"', cell.source, count=1)
        out.append(cell)
    result.cells = out
    return result


def code_differences(english: Any, spanish: Any) -> list[str]:
    """How the two editions' code cells differ, ignoring the parameters cell's ``lang`` value; empty when
    the Spanish notebook runs exactly the English one's code."""
    def code(nb: Any) -> list[str]:
        return [re.sub(r'^lang = "(en|es)"', 'lang = "…"', c.source, flags=re.MULTILINE)
                for c in nb.cells if c.cell_type == "code"]

    en, es = code(english), code(spanish)
    if len(en) != len(es):
        return [f"{len(en)} code cells in English, {len(es)} in Spanish"]
    return [f"code cell {i} differs: {a.splitlines()[0] if a else ''!r}" for i, (a, b) in enumerate(zip(en, es))
            if a != b]


def spanish_path(english: Path) -> Path:
    """Where the Spanish edition of the notebook ``english`` goes: ``es/`` beside the course's top folder
    (``notebooks/10_x.ipynb`` -> ``notebooks/es/10_x.ipynb``, ``notebooks/solutions/90_x.ipynb`` ->
    ``notebooks/es/solutions/90_x.ipynb``)."""
    if english.parent.name in ("exercises", "solutions"):
        return english.parent.parent / SPANISH_FOLDER / english.parent.name / english.name
    return english.parent / SPANISH_FOLDER / english.name


def stamp_source(text: str) -> tuple[str, int]:
    """``text`` (a percent-format source) with every twin's ``en="…"`` set to its English cell's
    fingerprint, and how many twins changed. Only the twins' header lines are rewritten, so the rest of
    the source stays byte for byte as its author wrote it."""
    import jupytext

    cells = jupytext.reads(text, fmt="py:percent").cells
    stamps = [fingerprint(cells[i - 1].source) for i, c in enumerate(cells) if is_twin(c) and i
              and cells[i - 1].cell_type == "markdown" and not is_twin(cells[i - 1])]
    headers = [i for i, line in enumerate(text.splitlines()) if _TWIN_HEADER.match(line)]
    if len(stamps) != len(headers):
        raise EditionError(f"{len(headers)} twin header(s) but {len(stamps)} twin(s) right after an English "
                           "Markdown cell", "move each twin right after its English cell, then stamp again")
    lines = text.splitlines(keepends=True)
    changed = 0
    for line_no, stamp in zip(headers, stamps):
        line = lines[line_no]
        ending = line[len(line.rstrip("\r\n")):]
        new = _OLD_FINGERPRINT.sub("", line.rstrip("\r\n")) + f' {FINGERPRINT_KEY}="{stamp}"' + ending
        if new != line:
            lines[line_no] = new
            changed += 1
    return "".join(lines), changed
