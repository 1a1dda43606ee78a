"""Build the course notebooks from their sources and execute them, so they are committed with outputs.

Sources are Jupytext "percent" scripts in ``notebooks/src/`` (readable diffs, easy review); the
``.ipynb`` files next to them are what learners open and what nbval checks. Usage::

    python tools/build_notebooks.py            # every source
    python tools/build_notebooks.py 10 23      # only the lessons whose names start with these prefixes
    python tools/build_notebooks.py --no-run   # convert without executing

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

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "notebooks" / "src"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def build_one(source: Path, *, run: bool, timeout: int) -> float:
    """Convert one source to a notebook beside the sources' folder, execute it in place; return seconds."""
    notebook = jupytext.read(source, fmt="py:percent")
    notebook.metadata["kernelspec"] = KERNELSPEC
    notebook.metadata.pop("jupytext", None)
    target = ROOT / "notebooks" / (source.stem + ".ipynb")
    started = time.perf_counter()
    if run:
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
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
    args = parser.parse_args(argv)
    sources = sorted(p for p in SOURCES.glob("*.py") if not args.prefixes or p.name.startswith(tuple(args.prefixes)))
    if not sources:
        print("no matching sources in notebooks/src", file=sys.stderr)
        return 2
    failed = 0
    for source in sources:
        try:
            seconds = build_one(source, run=not args.no_run, timeout=args.timeout)
            print(f"{source.stem}: {seconds:5.1f} s")
        except Exception as exc:  # noqa: BLE001 - report every notebook, then fail
            failed += 1
            print(f"{source.stem}: FAILED: {str(exc)[-2000:]}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
