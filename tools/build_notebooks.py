"""Build the course notebooks from their sources and execute them, so they are committed with outputs.

Sources are Jupytext "percent" scripts in ``notebooks/src/`` (readable diffs, easy review); the
``.ipynb`` files next to them are what learners open and what nbval checks. Usage::

    python tools/build_notebooks.py            # every source
    python tools/build_notebooks.py 10 23      # only the lessons whose names start with these prefixes
    python tools/build_notebooks.py --no-run   # convert without executing
    python tools/build_notebooks.py --exercises          # the exercise notebooks (blank) and their solutions
    python tools/build_notebooks.py --student DIR        # learners' copies: blank exercises, no outputs, in DIR

Exercises are written once, in ``notebooks/src/exercises/NN_ex_*.py``: a cell tagged ``solution`` holds an
answer (or an answer's explanation) and a cell tagged ``exercise`` the blank that replaces it. The blank
build keeps ``exercise`` cells and drops ``solution`` ones, is never executed (no output gives an answer
away) and goes to ``notebooks/exercises/``; the solution build does the opposite, is executed like a lesson
(nbval checks it) and goes to ``notebooks/solutions/``. ``--student DIR`` writes the blank build into a
folder outside ``notebooks/``, for a learner to fill in and check with ``labkit run --notebooks-dir DIR``.

Needs ``jupytext`` (pip install jupytext) besides the project's own dependencies.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

from labkit.kernels import NOTEBOOK_KERNEL_MANAGER

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "notebooks" / "src"
EXERCISE_SOURCES = SOURCES / "exercises"
EXERCISES_DIR = ROOT / "notebooks" / "exercises"
SOLUTIONS_DIR = ROOT / "notebooks" / "solutions"
#: Which cells each build of an exercise source drops.
DROPPED_TAG = {"exercise": "solution", "solution": "exercise"}
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def build_one(source: Path, *, run: bool, timeout: int, target: Path | None = None,
              variant: str | None = None) -> float:
    """Convert one source to a notebook (by default beside the sources' folder), execute it in place; return
    seconds. ``variant`` ("exercise" or "solution") keeps only that build's cells of an exercise source."""
    notebook = jupytext.read(source, fmt="py:percent")
    notebook.metadata["kernelspec"] = KERNELSPEC
    notebook.metadata.pop("jupytext", None)
    if variant is not None:
        notebook.cells = [c for c in notebook.cells if DROPPED_TAG[variant] not in c.metadata.get("tags", [])]
    target = target or ROOT / "notebooks" / (source.stem + ".ipynb")
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if run:
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                kernel_manager_class=NOTEBOOK_KERNEL_MANAGER,
                                resources={"metadata": {"path": str(target.parent)}})
        client.execute()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        cell.pop("id", None)
    nbformat.validator.normalize(notebook)
    nbformat.write(notebook, target)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="only sources whose names start with these")
    parser.add_argument("--no-run", action="store_true", help="convert only, do not execute")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell")
    parser.add_argument("--exercises", action="store_true",
                        help="build notebooks/exercises/ (blank) and notebooks/solutions/ (executed)")
    parser.add_argument("--student", metavar="DIR", default=None,
                        help="write the blank exercise notebooks, without outputs, into DIR (outside notebooks/)")
    args = parser.parse_args(argv)
    folder = EXERCISE_SOURCES if args.exercises or args.student else SOURCES
    sources = sorted(p for p in folder.glob("*.py") if not args.prefixes or p.name.startswith(tuple(args.prefixes)))
    if not sources:
        print(f"no matching sources in {folder.relative_to(ROOT)}", file=sys.stderr)
        return 2
    if args.student:
        try:
            return build_student_copies(sources, Path(args.student))
        except ValueError as exc:
            print(f"build_notebooks: {exc}", file=sys.stderr)
            return 2
    builds = [(s, None, None) for s in sources] if not args.exercises else [
        build for s in sources for build in ((s, EXERCISES_DIR / f"{s.stem}.ipynb", "exercise"),
                                             (s, SOLUTIONS_DIR / f"{s.stem}.ipynb", "solution"))]
    failed = 0
    for source, target, variant in builds:
        try:
            run = not args.no_run and variant != "exercise"  # a blank is never executed: no output, no answer
            seconds = build_one(source, run=run, timeout=args.timeout, target=target, variant=variant)
            print(f"{source.stem}{' (' + variant + ')' if variant else ''}: {seconds:5.1f} s")
        except Exception as exc:  # noqa: BLE001 - report every notebook, then fail
            failed += 1
            print(f"{source.stem}: FAILED: {str(exc)[-2000:]}", file=sys.stderr)
    return 1 if failed else 0


def build_student_copies(sources: list[Path], dest: Path) -> int:
    """The blank exercise notebooks, output-free, into ``dest`` -- which may not be inside the committed
    notebooks/ folder (a learner's copy must never overwrite the course)."""
    dest = dest.expanduser().resolve()
    course = (ROOT / "notebooks").resolve()
    if dest == course or course in dest.parents:
        raise ValueError(f"--student {str(dest)!r} is inside the course's notebooks/ folder; "
                         "give a folder of the learner's own, e.g. ~/pgtls-exercises")
    for source in sources:
        target = dest / f"{source.stem}.ipynb"
        build_one(source, run=False, timeout=0, target=target, variant="exercise")
        print(f"{target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
