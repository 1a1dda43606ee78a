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

Both editions come from the same source (notebooks/AUTHORING.md, "Two editions"): each English Markdown cell
is followed by its Spanish twin (``lang="es"``). ``--lang en`` builds the English notebooks, ``--lang es``
the Spanish ones into ``notebooks/es/`` (and ``notebooks/es/exercises|solutions/``), the default ``all``
both. A source missing a twin fails the Spanish build naming the cell, unless ``--allow-missing`` (drafts)::

    python tools/build_notebooks.py --lang es 10       # the Spanish edition of lesson 10 only
    python tools/build_notebooks.py --stamp 10         # record each twin's English fingerprint (en="...")
    python tools/build_notebooks.py --check            # list missing, stale and misplaced twins; exit 1 if any

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

from labkit import editions
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
              variant: str | None = None, lang: str = "en", allow_missing: bool = False,
              edition_folder: bool = True) -> float:
    """Convert one source to a notebook (by default beside the sources' folder), execute it in place; return
    seconds. ``variant`` ("exercise" or "solution") keeps only that build's cells of an exercise source;
    ``lang`` picks the edition (the Spanish one goes to the ``es/`` twin of the target's folder unless
    ``edition_folder`` is False: a learner's folder holds one edition)."""
    notebook = editions.edition(jupytext.read(source, fmt="py:percent"), lang, name=source.name,
                                allow_missing=allow_missing)
    notebook.metadata["kernelspec"] = KERNELSPEC
    notebook.metadata.pop("jupytext", None)
    if variant is not None:
        notebook.cells = [c for c in notebook.cells if DROPPED_TAG[variant] not in c.metadata.get("tags", [])]
    target = target or ROOT / "notebooks" / (source.stem + ".ipynb")
    target = editions.spanish_path(target) if lang == "es" and edition_folder else target
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
    parser.add_argument("--lang", choices=("en", "es", "all"), default="all",
                        help="which edition to build: English, Spanish (notebooks/es/) or both (default)")
    parser.add_argument("--allow-missing", action="store_true",
                        help="a draft: English text where a Spanish twin is missing, instead of failing")
    parser.add_argument("--stamp", action="store_true",
                        help="write each twin's fingerprint of its English cell (en=\"...\") into the sources")
    parser.add_argument("--check", action="store_true",
                        help="list English cells without twin and stale or misplaced twins; exit 1 if any")
    args = parser.parse_args(argv)
    folder = EXERCISE_SOURCES if args.exercises or args.student else SOURCES
    sources = sorted(p for p in folder.glob("*.py") if not args.prefixes or p.name.startswith(tuple(args.prefixes)))
    if not sources:
        print(f"no matching sources in {folder.relative_to(ROOT)}", file=sys.stderr)
        return 2
    if args.stamp or args.check:
        return stamp_sources(sources) if args.stamp else check_sources(sources)
    if args.student:
        try:
            return build_student_copies(sources, Path(args.student), lang="es" if args.lang == "es" else "en")
        except ValueError as exc:
            print(f"build_notebooks: {exc}", file=sys.stderr)
            return 2
    builds = [(s, None, None) for s in sources] if not args.exercises else [
        build for s in sources for build in ((s, EXERCISES_DIR / f"{s.stem}.ipynb", "exercise"),
                                             (s, SOLUTIONS_DIR / f"{s.stem}.ipynb", "solution"))]
    langs = ("en", "es") if args.lang == "all" else (args.lang,)
    failed = 0
    for lang in langs:
        for source, target, variant in builds:
            label = f"{source.stem}{' (' + variant + ')' if variant else ''}{' [es]' if lang == 'es' else ''}"
            try:
                run = not args.no_run and variant != "exercise"  # a blank is never executed: no output, no answer
                seconds = build_one(source, run=run, timeout=args.timeout, target=target, variant=variant,
                                    lang=lang, allow_missing=args.allow_missing)
                print(f"{label}: {seconds:5.1f} s")
            except Exception as exc:  # noqa: BLE001 - report every notebook, then fail
                failed += 1
                print(f"{label}: FAILED: {str(exc)[-2000:]}", file=sys.stderr)
    return 1 if failed else 0


def stamp_sources(sources: list[Path]) -> int:
    """Record in each twin the fingerprint of the English cell above it (after translating or reviewing)."""
    for source in sources:
        text, changed = editions.stamp_source(source.read_text(encoding="utf-8"))
        if changed:
            source.write_text(text, encoding="utf-8")
        print(f"{source.name}: {changed} twin(s) stamped")
    return 0


def check_sources(sources: list[Path]) -> int:
    """Every source's translation problems, one line each; exit status 1 when there is any."""
    total = 0
    for source in sources:
        found = editions.problems(jupytext.read(source, fmt="py:percent").cells)
        total += len(found)
        for problem in found:
            print(f"{source.relative_to(ROOT)}: {problem}")
    print(f"{total} problem(s) in {len(sources)} source(s)")
    return 1 if total else 0


def build_student_copies(sources: list[Path], dest: Path, *, lang: str = "en") -> int:
    """The blank exercise notebooks (the ``lang`` edition: ``--lang es`` for Spanish), output-free, into
    ``dest`` -- which may not be inside the committed notebooks/ folder (a learner's copy must never
    overwrite the course)."""
    dest = dest.expanduser().resolve()
    course = (ROOT / "notebooks").resolve()
    if dest == course or course in dest.parents:
        raise ValueError(f"--student {str(dest)!r} is inside the course's notebooks/ folder; "
                         "give a folder of the learner's own, e.g. ~/pgtls-exercises")
    for source in sources:
        target = dest / f"{source.stem}.ipynb"
        build_one(source, run=False, timeout=0, target=target, variant="exercise", lang=lang, edition_folder=False)
        print(f"{target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
