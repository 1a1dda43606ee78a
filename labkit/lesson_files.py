"""Which lessons a ``labkit run`` runs, and which parameters they take.

Lessons are the ``NN_*.ipynb`` files of the course folder; a user selects them by file name, path, glob or
number. A lesson's parameters are the plain assignments of its cell tagged ``parameters`` (papermill's
convention); the user's ``-p``/``-f`` values are checked against them before anything runs, so a typo fails
at once naming every parameter the selected lessons know.
"""
from __future__ import annotations

import ast
import fnmatch
import glob
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InvalidValue, LabkitError

if TYPE_CHECKING:
    from nbformat import NotebookNode

LESSON_FILE = re.compile(r"^(\d+)_.*\.ipynb$")
PARAMETERS_TAG = "parameters"
_GLOB_CHARS = frozenset("*?[")


def discover_notebooks(notebooks_dir: Path, selectors: list[str]) -> list[Path]:
    """Return the lessons to run, in lesson order, from ``NN_*.ipynb`` files or the user's selectors.

    A selector is a file name (``10_tls.ipynb`` or ``10_tls``), a path to any notebook, a glob on the
    names (``1*``) or a lesson number (``10``, also matching ``010_``). Lessons build on each other,
    so the selection always runs in lesson order, whatever order the selectors came in.
    """
    available = _available_lessons(notebooks_dir)
    if not selectors:
        return available
    chosen: dict[Path, None] = {}
    for selector in selectors:
        for path in _resolve_selector(selector, available):
            chosen[path] = None
    return sorted(chosen, key=_lesson_order)


def _available_lessons(notebooks_dir: Path) -> list[Path]:
    """All ``NN_*.ipynb`` in the folder; an empty or missing folder is an error, not an empty run."""
    if not notebooks_dir.is_dir():
        raise LabkitError(f"notebooks folder not found: {str(notebooks_dir)!r}",
                          "give the folder holding the lessons with --notebooks-dir")
    lessons = [p.resolve() for p in notebooks_dir.iterdir() if p.is_file() and LESSON_FILE.match(p.name)]
    if not lessons:
        raise LabkitError(f"no lessons (NN_*.ipynb) in {str(notebooks_dir)!r}",
                          "give the folder holding the lessons with --notebooks-dir")
    return sorted(lessons, key=_lesson_order)


def _lesson_order(path: Path) -> tuple[int, str]:
    """Number first so ``9_x`` runs before ``10_y``; the name breaks ties and orders the rest."""
    match = LESSON_FILE.match(path.name)
    return (int(match.group(1)) if match else sys.maxsize, path.name)


def _resolve_selector(selector: str, available: list[Path]) -> list[Path]:
    """Try each reading of a selector in turn; report the lessons there are when none fits."""
    for resolve in (_by_name, _by_number, _by_glob, _by_path):
        found = resolve(selector, available)
        if found:
            return found
    raise InvalidValue("notebook", selector, [p.name for p in available],
                       "give a file name, a path, a glob such as '1*' or a lesson number such as '10'")


def _by_name(selector: str, available: list[Path]) -> list[Path]:
    return [p for p in available if selector in (p.name, p.stem)]


def _by_number(selector: str, available: list[Path]) -> list[Path]:
    if not selector.isdigit():
        return []
    wanted = int(selector)
    return [p for p in available if (m := LESSON_FILE.match(p.name)) and int(m.group(1)) == wanted]


def _by_glob(selector: str, available: list[Path]) -> list[Path]:
    if not _GLOB_CHARS.intersection(selector):
        return []
    if os.sep in selector or "/" in selector:
        return [Path(p).resolve() for p in sorted(glob.glob(selector)) if p.endswith(".ipynb")]
    return [p for p in available if fnmatch.fnmatch(p.name, selector) or fnmatch.fnmatch(p.stem, selector)]


def _by_path(selector: str, available: list[Path]) -> list[Path]:
    path = Path(selector).expanduser()
    return [path.resolve()] if path.suffix == ".ipynb" and path.is_file() else []


# --------------------------------------------------------------------------------------------------
# Which parameters a lesson declares, and checking the user's against them
# --------------------------------------------------------------------------------------------------


def read_parameters(nb_path: Path) -> dict[str, object]:
    """Return the names and default values a lesson declares in its ``parameters`` cell.

    Papermill's own inspection reads the cell, so what we check against is exactly what papermill will
    override. Defaults that are not plain literals (``Path("x")``) come back as their source text.
    """
    import papermill

    nb = read_notebook(nb_path)
    if not any(PARAMETERS_TAG in cell.get("metadata", {}).get("tags", []) for cell in nb.cells):
        raise LabkitError(f"{nb_path.name} has no cell tagged {PARAMETERS_TAG!r}",
                          "tag the cell that sets the lesson's defaults with 'parameters' "
                          "(JupyterLab: property inspector, Cell Tags)")
    try:
        inspected = papermill.inspect_notebook(str(nb_path))
    except Exception as exc:  # papermill raises plain ValueError/KeyError for odd notebooks
        raise LabkitError(f"cannot read the parameters of {nb_path.name}: {exc}",
                          "check that the notebook has a kernelspec and a valid 'parameters' cell") from exc
    return {name: _literal(info["default"]) for name, info in inspected.items()}


def _literal(source: str) -> object:
    """Evaluate a default's source text when it is a literal; otherwise keep the text."""
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return source


def check_parameters(nb_paths: Sequence[Path], params: Mapping[str, object]) -> None:
    """Refuse a parameter that no selected lesson declares, before anything runs: it is a typo."""
    known = sorted(set().union(*(read_parameters(p) for p in nb_paths)))
    unknown = [name for name in params if name not in known]
    if not unknown:
        return
    allowed: str | list[str] = known or "none (the selected lessons declare no parameters)"
    raise InvalidValue("parameter", unknown[0] if len(unknown) == 1 else unknown, allowed,
                       "check the spelling, or select the lesson that declares it")


def convert_cli_value(text: str) -> object:
    """Turn a ``-p NAME VALUE`` text into a value the way ``papermill -p`` does.

    ``True``/``False``/``None`` and numbers become Python values, anything else stays a string, so
    ``-p n 2`` gives ``2`` and ``-p host localhost`` gives ``"localhost"``.
    """
    if text in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[text]
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            continue
    return text


def load_param_file(path: Path) -> dict[str, object]:
    """Read ``-f params.yaml``: a YAML mapping of parameter names to values."""
    from .yaml_files import read_yaml_file

    data = read_yaml_file(path, "parameter file", "write one 'name: value' per line")
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(key, str) for key in data):
        raise InvalidValue("parameter file", str(path), "a YAML mapping of names to values",
                           "write one 'name: value' per line")
    return data


def _parameters_for(nb_path: Path, params: Mapping[str, object]) -> dict[str, object]:
    """The subset of ``params`` this lesson declares: papermill would inject the rest as new variables."""
    try:
        declared = read_parameters(nb_path)
    except LabkitError:
        return {}  # no parameters cell: the lesson runs with its own values; execution reports other damage
    return {name: value for name, value in params.items() if name in declared}


def read_notebook(nb_path: Path) -> NotebookNode:
    import nbformat

    try:
        return nbformat.read(str(nb_path), as_version=4)
    except (OSError, ValueError) as exc:  # nbformat's read errors are ValueError subclasses
        raise LabkitError(f"cannot read notebook {str(nb_path)!r}: {exc}",
                          "open it in JupyterLab to check it is a valid notebook") from exc
