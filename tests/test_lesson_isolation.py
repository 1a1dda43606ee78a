"""No lesson changes what another shows: lessons 01 and 14 in both orders on one shared workspace.

Lesson 14 issues and revokes a client certificate of its own; lesson 01 lists the PKI. Before issue 9 the
certificate landed in the shared ``certs/`` folder and lesson 01 listed it whenever 14 had run first. Each
order runs on its own workspace, through labkit's runner (papermill, a real kernel, a real server); the
test compares every output nbval compares (sanitised with the course's own ``sanitize.cfg``) and, in the
cell nbval skips, the list of certificate files lesson 01 shows.
"""
from __future__ import annotations

import configparser
import re
from pathlib import Path

import nbformat
import pytest

from labkit.runner import run_lesson
from tests.helpers import searchable_tmp

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LESSONS = {"01": NOTEBOOKS / "01_pki.ipynb", "14": NOTEBOOKS / "14_layer5_crl.ipynb"}


def _sanitizers() -> list[tuple[re.Pattern[str], str]]:
    config = configparser.ConfigParser(interpolation=None)
    config.read(NOTEBOOKS / "sanitize.cfg")
    return [(re.compile(config[s]["regex"]), config[s]["replace"]) for s in config.sections()]


def _texts(cell: nbformat.NotebookNode) -> list[str]:
    out = []
    for output in cell.get("outputs", []):
        if "text" in output:
            out.append(output["text"])
        for mime in ("text/html", "text/plain"):
            if mime in output.get("data", {}):
                out.append(output["data"][mime])
    return ["".join(t) if isinstance(t, list) else t for t in out]


def compared_outputs(path: Path) -> list[list[str]]:
    """What nbval compares: every code cell's outputs but those tagged nbval-ignore-output, sanitised."""
    rules = _sanitizers()
    cells = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code" or "nbval-ignore-output" in cell.metadata.get("tags", []):
            continue
        texts = []
        for text in _texts(cell):
            for pattern, replace in rules:
                text = pattern.sub(replace, text)
            texts.append(text)
        cells.append(texts)
    return cells


def listed_certificates(path: Path) -> set[str]:
    """Certificate files lesson 01's inventory cell shows (that cell is not compared by nbval)."""
    cells = nbformat.read(path, as_version=4).cells
    inventory = next(c for c in cells if c.cell_type == "code" and "pki.describe()" in c.source)
    return set(re.findall(r"[\w./-]+\.crt", " ".join(_texts(inventory))))


def _run(order: tuple[str, ...], workspace: Path, out: Path) -> dict[str, Path]:
    done = {}
    for number in order:
        folder = out / f"{len(done)}-{number}"
        folder.mkdir(parents=True)
        result = run_lesson(LESSONS[number], params={"backend": "local", "workspace": str(workspace)},
                            out_dir=folder, timeout_per_cell=600)
        assert result.status == "passed", f"lesson {number} failed in order {order}: {result.error}"
        done[number] = result.output_path
    return done


@pytest.mark.slow
def test_lessons_01_and_14_show_the_same_in_either_order(tmp_path: Path) -> None:
    tmp_path = searchable_tmp(tmp_path)
    runs = {}
    for order in (("01", "14"), ("14", "01")):
        workspace = tmp_path / f"ws-{'-'.join(order)}"
        workspace.mkdir()
        workspace.chmod(0o755)
        runs[order] = _run(order, workspace, tmp_path / f"out-{'-'.join(order)}")
    first, second = runs[("01", "14")], runs[("14", "01")]
    for number in LESSONS:
        a, b = compared_outputs(first[number]), compared_outputs(second[number])
        assert len(a) == len(b)
        differing = {i: (x, y) for i, (x, y) in enumerate(zip(a, b)) if x != y}
        assert not differing, f"lesson {number}: compared cells differ between the two orders " \
                              f"(cell: (01 first, 14 first)): {differing}"
    listed = listed_certificates(first["01"]), listed_certificates(second["01"])
    assert listed[0] == listed[1], f"lesson 01 lists other files after lesson 14: {listed[1] ^ listed[0]}"
    assert not any("l14" in name for name in listed[1])
    assert "certs/client.crt" in listed[0]  # the listing was read at all
