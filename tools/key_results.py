"""Compare the lessons' key-result tables with those of another commit: did a change alter a verdict?

Every lesson tags its main verdict table ``key-result`` (the report embeds it). A refactoring must leave those
verdicts as they were; nbval cannot tell, because the rebuilt notebooks are its new reference. This reads
the text of every cell of each key-result table in the working tree and in ``REV`` (via ``git show``),
masks what differs between runs anyway (ports, workspace folders) and prints the cells that differ::

    python tools/key_results.py 33d74fa          # every lesson
    python tools/key_results.py HEAD~3 10 23     # only lessons whose names start with these prefixes

Exit status 0 when no cell differs, 1 otherwise.
"""
from __future__ import annotations

import argparse
import difflib
import html
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
_CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)
_MASKS = ((re.compile(r"port=\d+"), "port=N"), (re.compile(r"/labs/course-\d+/"), "/labs/course/"))


def key_cells(notebook_json: str) -> list[str]:
    """The text of every cell of the notebook's key-result outputs (HTML tables cell by cell, else the
    plain-text output), masked."""
    out: list[str] = []
    for cell in json.loads(notebook_json)["cells"]:
        if cell["cell_type"] != "code" or "key-result" not in cell.get("metadata", {}).get("tags", []):
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/html" in data:
                cells = _CELL.findall("".join(data["text/html"]))
                out += [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]
            elif "text/plain" in data:
                out.append("".join(data["text/plain"]))
    for pattern, replacement in _MASKS:
        out = [pattern.sub(replacement, text) for text in out]
    return out


def _at(rev: str, path: Path) -> str | None:
    done = subprocess.run(["git", "show", f"{rev}:{path.relative_to(ROOT).as_posix()}"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    return done.stdout if done.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rev", help="the commit to compare with, e.g. HEAD~1")
    parser.add_argument("prefixes", nargs="*", help="only lessons whose names start with these")
    args = parser.parse_args(argv)
    changed = 0
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        if args.prefixes and not path.name.startswith(tuple(args.prefixes)):
            continue
        before = _at(args.rev, path)
        if before is None:
            print(f"{path.stem}: not in {args.rev}")
            continue
        diff = list(difflib.unified_diff(key_cells(before), key_cells(path.read_text()), lineterm="", n=0))
        if diff:
            changed += 1
            print(f"{path.stem}:")
            print("\n".join("  " + line for line in diff[2:] if not line.startswith("@@")))
        else:
            print(f"{path.stem}: same key result")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
