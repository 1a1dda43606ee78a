"""Where the course's notebooks are, and `labkit init DIR`, which copies them somewhere you can edit them.

Why this module exists: the lessons are the product, but a wheel installs into site-packages, and a
`labkit run` started from any directory must still find them. The wheel therefore carries the course as
package data (``labkit/course/``: the executed ``NN_*.ipynb`` lessons, nbval's ``sanitize.cfg`` and the
authoring guide); a source checkout has the same files in ``notebooks/`` beside the package. The copy in
site-packages is read-only for most users, so :func:`init_course` writes the course into a folder of
their own, to open in JupyterLab or to run with ``labkit run --notebooks-dir DIR``.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidValue, LabkitError
from .i18n import check_language

LESSON_FILE = re.compile(r"^(\d+)_.*\.ipynb$")  # the runner's rule for a lesson file name
COURSE_EXTRAS: tuple[str, ...] = ("sanitize.cfg", "AUTHORING.md")
"""Files copied with the lessons: nbval's sanitizers (the README's test command needs them) and the guide."""


def _candidates() -> list[tuple[Path, str]]:
    here = Path(__file__).resolve().parent
    return [(here / "course", "installed package data"), (here.parent / "notebooks", "source checkout")]


def lessons_in(folder: Path) -> list[Path]:
    """The ``NN_*.ipynb`` lessons directly in ``folder``, sorted by name (their number)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and LESSON_FILE.match(p.name))


SPANISH_FOLDER = "es"
"""The course's sub-folder holding the Spanish edition (the same lessons, ``tools/build_notebooks.py --lang es``)."""


def course_dir(lang: str = "en") -> Path:
    """The folder holding the course that came with this labkit, in the edition ``lang``: the wheel's
    package data, or the ``notebooks/`` of the source checkout this labkit runs from (``es/`` inside either
    for the Spanish edition)."""
    check_language(lang)
    for folder, _ in _candidates():
        folder = folder / SPANISH_FOLDER if lang == "es" else folder
        if lessons_in(folder):
            return folder
    looked = ", ".join(f"{folder / SPANISH_FOLDER if lang == 'es' else folder} ({why})"
                       for folder, why in _candidates())
    edition = "the Spanish edition of the course's notebooks is" if lang == "es" else "the course's notebooks are"
    raise LabkitError(f"{edition} not installed with labkit; looked in {looked}",
                      "reinstall pgtls-lab from its wheel or source folder, or pass --notebooks-dir DIR"
                      + ("; in a source checkout, build it: python tools/build_notebooks.py --lang es"
                         if lang == "es" else ""))


@dataclass(frozen=True)
class InitResult:
    """What :func:`init_course` wrote."""

    dest: Path
    source: Path
    files: tuple[str, ...]


EXERCISES_FOLDER = "exercises"
"""The course's sub-folder of blank exercise notebooks (never executed, so they carry no answer)."""


def init_course(dest: Path | str, *, force: bool = False, exercises: bool = False, lang: str = "en") -> InitResult:
    """Copy the course (lessons + ``sanitize.cfg`` + authoring guide) into ``dest``; with ``exercises``,
    the blank exercise notebooks instead (a learner's copy, to fill in and check with ``labkit run``);
    ``lang="es"``: the Spanish edition of either.

    Refuses, before writing anything, when ``dest`` already holds a file of the same name and ``force`` is
    False, so a learner's edited notebooks are never overwritten by accident.
    """
    if not isinstance(force, bool):
        raise InvalidValue("force", force, "True or False")
    if not isinstance(exercises, bool):
        raise InvalidValue("exercises", exercises, "True or False")
    if not str(dest).strip():
        raise InvalidValue("directory", str(dest), "a folder path (it is created when missing)")
    target = Path(dest).expanduser()
    source = course_dir(lang) / EXERCISES_FOLDER if exercises else course_dir(lang)
    extras = course_dir()  # sanitize.cfg and the authoring guide exist once, beside the English lessons
    names = [p.name for p in lessons_in(source)] + ([] if exercises else
                                                    [n for n in COURSE_EXTRAS if (extras / n).is_file()])
    if not names:
        raise LabkitError(f"no notebooks in {str(source)!r}", "reinstall pgtls-lab from its wheel or source folder")
    if target.exists() and not target.is_dir():
        raise InvalidValue("directory", str(target), "a folder (this is a file)")
    clashes = [n for n in names if (target / n).exists()]
    if clashes and not force:
        raise LabkitError(f"{str(target)!r} already holds {len(clashes)} course file(s), e.g. {clashes[0]!r}",
                          "choose an empty folder, or pass --force to overwrite them")
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(source / name if (source / name).is_file() else extras / name, target / name)
    except OSError as exc:
        raise LabkitError(f"cannot write the course into {str(target)!r}: {exc.strerror or exc}",
                          "choose a folder you can write to") from None
    return InitResult(target.resolve(), source, tuple(names))
