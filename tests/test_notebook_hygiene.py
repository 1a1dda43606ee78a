"""What every committed lesson must be: parameterised, executed, asserted, and free of secrets."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import papermill
import pytest

from labkit.kernels import NOTEBOOK_KERNEL_MANAGER

from .helpers import searchable_tmp

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SPANISH = sorted((Path(__file__).resolve().parent.parent / "notebooks" / "es").glob("[0-9][0-9]_*.ipynb"))
EDITIONS = NOTEBOOKS + SPANISH  # the Spanish edition must be a lesson of the same shape (tests/test_editions.py)


def _edition_id(path: Path) -> str:
    return f"es/{path.stem}" if path.parent.name == "es" else path.stem
COMMON = {"backend", "pg_version", "workspace", "keep_server"}
SECRET_PATTERNS = [re.compile(p) for p in (
    r"PRIVATE KEY-----(?:\\n|\s)+[A-Za-z0-9+/]{40}",  # key material, not just the header line
    r"password\s*=\s*'?[A-Za-z0-9_\-]{12,}",
    r"PGPASSWORD=(?!\*\*\*)\S+",
    r"\b123123\b",
)]


def _outputs_text(nb: nbformat.NotebookNode) -> str:
    return json.dumps([cell.get("outputs", []) for cell in nb.cells])


def test_there_is_a_notebook_per_lesson() -> None:
    numbers = [p.name[:2] for p in NOTEBOOKS]
    assert numbers == ["00", "01", "02", "10", "11", "12", "13", "14", "15", "16", "20", "21", "22", "23", "30",
                       "31", "32", "33", "34", "35", "40", "41", "42", "43", "44", "45"]


@pytest.mark.parametrize("path", EDITIONS, ids=_edition_id)
def test_lesson_shape(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# {path.name[:2]} · ")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell must be tagged parameters"
    declared = set(re.findall(r"^(\w+)\s*=", code[0].source, re.M))
    assert COMMON <= declared
    edition = "es" if path.parent.name == "es" else "en"
    assert re.search(rf'^lang = "{edition}"', code[0].source, re.M), f'the parameters cell must set lang = "{edition}"'
    assert all(c.get("execution_count") for c in code), "committed without running every cell"
    assert any("assert " in c.source for c in code), "a lesson asserts what it teaches"
    assert any("key-result" in c.metadata.get("tags", []) for c in code), "the report needs a key result"
    assert "lesson.finish()" in code[-1].source
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))


@pytest.mark.parametrize("path", EDITIONS, ids=_edition_id)
def test_no_secret_in_committed_outputs(path: Path) -> None:
    text = _outputs_text(nbformat.read(path, as_version=4))
    for pattern in SECRET_PATTERNS:
        assert not pattern.search(text), f"{pattern.pattern!r} found in the outputs of {path.name}"


def test_a_fresh_run_prints_none_of_its_own_secrets(tmp_path: Path) -> None:
    """Run the lesson that handles the most credentials and look for this run's real secrets in its output."""
    lesson = next(p for p in NOTEBOOKS if p.name.startswith("31_"))
    workspace = searchable_tmp(tmp_path) / "ws"
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(lesson), str(out), parameters={"workspace": str(workspace), "backend": "local"},
                               kernel_name="python3", cwd=str(lesson.parent), progress_bar=False,
                               kernel_manager_class=NOTEBOOK_KERNEL_MANAGER)  # as labkit run starts it
    text = _outputs_text(nbformat.read(out, as_version=4))
    secrets = [f.read_text().strip() for f in (workspace / "secrets").iterdir() if f.is_file() and f.name != "pgpass"]
    passphrase = (workspace / "pki" / "private" / "passphrase.txt").read_text().strip()
    assert len(secrets) >= 3
    for secret in [*secrets, passphrase]:
        assert secret not in text


def test_every_committed_notebook_is_built_from_its_current_source() -> None:
    """A source edited without rebuilding leaves nbval checking stale code (it happened: lesson 22's
    parameter check changed in its source, the committed notebook kept the old call)."""
    import jupytext

    folder = Path(__file__).resolve().parent.parent / "notebooks"
    stale = []
    sources = sorted((folder / "src").glob("[0-9][0-9]_*.py"))
    assert len(sources) >= 19
    for source in sources:
        built = folder / f"{source.stem}.ipynb"
        wanted = [c.source for c in jupytext.read(source, fmt="py:percent").cells if c.cell_type == "code"]
        committed = [c.source for c in nbformat.read(built, as_version=4).cells if c.cell_type == "code"]
        if wanted != committed:
            stale.append(built.name)
    assert stale == [], f"rebuild with: python tools/build_notebooks.py {' '.join(n[:2] for n in stale)}"
