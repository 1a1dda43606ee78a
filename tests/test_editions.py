"""One source, two editions (issue 16): twins, fingerprints, the Spanish build, what tables show, the report.

The first half works on small sources written here, so every rule is seen both holding and failing; the
repository-wide tests at the end hold the course itself to the same rules and fail while a lesson lacks its
translation (nothing is skipped: the lead merges the translations, stamps them and builds notebooks/es/).
"""
from __future__ import annotations

import html
import importlib.util
import json
import re
import sys
from pathlib import Path

import jsonschema
import jupytext
import nbformat
import pandas as pd
import pytest

from labkit import editions, i18n, report, tables
from labkit.editions import EditionError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LESSON_SOURCES = sorted((NOTEBOOKS / "src").glob("[0-9][0-9]_*.py"))
EXERCISE_SOURCES = sorted((NOTEBOOKS / "src" / "exercises").glob("[0-9][0-9]_ex_*.py"))

SOURCE = '''# %% [markdown]
# # 01 · First steps
#
# Read [the instructor notes](../docs/instructor.md) and [lesson 02](02_next.ipynb).

# %% [markdown] lang="es"
# # 01 · Primeros pasos
#
# Lea [las notas del instructor](../docs/instructor.md) y [la lección 02](02_next.ipynb).

# %% tags=["parameters"]
backend = "auto"
lang = "en"  # the edition being read

# %%
import pandas as pd

import labkit as lk

# %% [markdown] tags=["solution"]
# The answer is 42.

# %% [markdown] tags=["solution"] lang="es"
# La respuesta es 42.

# %%
assert lk.i18n.current_language() == lang
'''


def _cells(text: str) -> list:
    return jupytext.reads(text, fmt="py:percent").cells


def _stamped(text: str = SOURCE) -> str:
    return editions.stamp_source(text)[0]


def _notebook(text: str):
    return jupytext.reads(text, fmt="py:percent")


# --- twins and fingerprints ---------------------------------------------------------------------------


def test_an_unstamped_source_is_reported_and_stamping_fixes_it() -> None:
    assert [p.kind for p in editions.problems(_cells(SOURCE))] == ["unstamped", "unstamped"]
    text, changed = editions.stamp_source(SOURCE)
    assert changed == 2 and editions.problems(_cells(text)) == []
    assert editions.stamp_source(text) == (text, 0)  # stamping twice changes nothing
    changed_lines = [(a, b) for a, b in zip(SOURCE.splitlines(), text.splitlines()) if a != b]
    assert len(SOURCE.splitlines()) == len(text.splitlines()) and len(changed_lines) == 2
    assert all(re.fullmatch(r'# %% \[markdown\].* lang="es" en="[0-9a-f]{8}"', b) for _, b in changed_lines)


def test_editing_the_english_cell_makes_its_twin_stale() -> None:
    edited = _stamped().replace("# The answer is 42.", "# The answer is 43.")
    (problem,) = editions.problems(_cells(edited))
    assert problem.kind == "stale" and problem.first_line == "The answer is 43."
    assert editions.problems(_cells(editions.stamp_source(edited)[0])) == []  # re-stamped after review


def test_an_english_cell_without_twin_is_missing() -> None:
    text = _stamped() + "\n# %% [markdown]\n# ## 2 · Untranslated step\n"
    (problem,) = editions.problems(_cells(text))
    assert (problem.kind, problem.first_line) == ("missing", "## 2 · Untranslated step")
    assert "missing" in str(problem) and "Untranslated step" in str(problem)


def test_a_twin_after_a_code_cell_is_an_orphan() -> None:
    text = _stamped() + '\n# %% [markdown] lang="es" en="00000000"\n# Huérfana\n'
    assert [(p.kind, p.first_line) for p in editions.problems(_cells(text))] == [("orphan", "Huérfana")]
    with pytest.raises(EditionError, match="twin header"):
        editions.stamp_source(text)


def test_a_twin_must_carry_its_english_cells_tags() -> None:
    text = _stamped().replace('tags=["solution"] lang="es"', 'lang="es"')
    assert [p.kind for p in editions.problems(_cells(text))] == ["tags"]


# --- the two builds -----------------------------------------------------------------------------------


def test_the_spanish_edition_puts_each_twin_in_place_and_sets_lang() -> None:
    spanish = editions.edition(_notebook(_stamped()), "es", name="01_first.py")
    markdown = [c for c in spanish.cells if c.cell_type == "markdown"]
    assert [c.source.splitlines()[0] for c in markdown] == ["# 01 · Primeros pasos", "La respuesta es 42."]
    assert all("lang" not in c.metadata and "en" not in c.metadata for c in markdown)
    assert markdown[1].metadata["tags"] == ["solution"]  # tags kept: the exercise builds still filter on them
    assert "(../../docs/instructor.md)" in markdown[0].source  # es/ is one folder deeper
    assert "(02_next.ipynb)" in markdown[0].source  # a sibling lesson: the Spanish one beside it
    params = spanish.cells[1]
    assert params.source.splitlines()[1] == 'lang = "es"  # the edition being read'


def test_the_english_edition_drops_every_twin() -> None:
    english = editions.edition(_notebook(_stamped()), "en")
    assert [c.source.splitlines()[0] for c in english.cells if c.cell_type == "markdown"] == [
        "# 01 · First steps", "The answer is 42."]
    assert 'lang = "en"' in english.cells[1].source


def test_the_two_editions_run_the_same_code() -> None:
    notebook = _notebook(_stamped())
    english, spanish = editions.edition(notebook, "en"), editions.edition(notebook, "es")
    assert editions.code_differences(english, spanish) == []
    spanish.cells[-1].source = "assert True"
    assert editions.code_differences(english, spanish) == ["code cell 2 differs: 'assert lk.i18n.current_language() == lang'"]
    spanish.cells.pop()
    assert editions.code_differences(english, spanish) == ["3 code cells in English, 2 in Spanish"]


def test_a_missing_twin_fails_the_spanish_build_naming_lesson_and_cell() -> None:
    draft = _notebook(_stamped() + "\n# %% [markdown]\n# ## 2 · Untranslated step\n")
    with pytest.raises(EditionError) as caught:
        editions.edition(draft, "es", name="01_first.py")
    assert "01_first.py" in str(caught.value) and "## 2 · Untranslated step" in str(caught.value)
    assert "--allow-missing" in str(caught.value)
    kept = editions.edition(draft, "es", name="01_first.py", allow_missing=True)
    assert kept.cells[-1].source == "## 2 · Untranslated step"  # a draft keeps the English text


def test_a_parameters_cell_without_lang_cannot_give_a_spanish_edition() -> None:
    with pytest.raises(EditionError, match="no 'lang = \"en\"' line"):
        editions.edition(_notebook(_stamped().replace('lang = "en"', 'language = "en"')), "es", name="01_first.py")
    with pytest.raises(Exception, match="'fr'"):
        editions.edition(_notebook(_stamped()), "fr")


def test_spanish_paths() -> None:
    assert editions.spanish_path(Path("nb/10_x.ipynb")) == Path("nb/es/10_x.ipynb")
    assert editions.spanish_path(Path("nb/solutions/90_x.ipynb")) == Path("nb/es/solutions/90_x.ipynb")
    assert editions.spanish_path(Path("nb/exercises/90_x.ipynb")) == Path("nb/es/exercises/90_x.ipynb")


def _build_tool():
    spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "tools" / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_notebooks", module)
    spec.loader.exec_module(module)
    return module


def _write_lesson(folder: Path, name: str, title_en: str, title_es: str) -> Path:
    """A tiny twinned lesson that needs no server: it shows a verdict table (key result) and asserts the
    edition it was built as."""
    text = f'''# %% [markdown]
# # {name[:2]} · {title_en}

# %% [markdown] lang="es"
# # {name[:2]} · {title_es}

# %% tags=["parameters"]
lang = "en"

# %%
import pandas as pd

import labkit as lk

# %%
lk.i18n.set_language(lang)
frame = pd.DataFrame({{"attempt": ["verify-full"], "connected": [True], "outcome": ["refused"]}})

# %% tags=["key-result"]
lk.tables.verdict(frame, uuid="k")

# %%
assert lk.i18n.current_language() == "es" and frame.connected.tolist() == [True]
'''
    source = folder / f"{name}.py"
    source.write_text(editions.stamp_source(text)[0], encoding="utf-8")
    return source


def test_the_build_tool_writes_the_spanish_edition_into_es(tmp_path: Path) -> None:
    tool = _build_tool()
    source = _write_lesson(tmp_path, "01_first", "First", "Primera")
    tool.build_one(source, run=False, timeout=0, target=tmp_path / "01_first.ipynb", lang="es")
    built = nbformat.read(tmp_path / "es" / "01_first.ipynb", as_version=4)
    assert built.cells[0].source == "# 01 · Primera" and 'lang = "es"' in built.cells[1].source
    assert not (tmp_path / "01_first.ipynb").exists()


def test_a_learners_spanish_copy_is_blank_and_in_their_folder(tmp_path: Path) -> None:
    source = tmp_path / "90_ex_part0.py"
    source.write_text(_stamped(), encoding="utf-8")
    _build_tool().build_student_copies([source], tmp_path / "mine", lang="es")
    (copy,) = (tmp_path / "mine").glob("*.ipynb")  # no es/ folder inside the learner's own
    built = nbformat.read(copy, as_version=4)
    assert built.cells[0].source.startswith("# 01 · Primeros pasos")
    assert not any("solution" in c.metadata.get("tags", []) for c in built.cells)


# --- what a learner reads in tables and plots -----------------------------------------------------------


@pytest.fixture
def spanish():
    i18n.set_language("es")
    yield
    i18n.set_language("en")


def _texts(styler) -> list[str]:
    return [html.unescape(t) for t in re.findall(r">([^<>]+)</t[hd]>", styler.to_html())]


def _shades(styler) -> list[str]:
    return re.findall(r"background-color: #[0-9a-f]{6}", styler.to_html())


FRAME = pd.DataFrame({"attempt": ["verify-full", "disable"], "connected": [True, False],
                      "outcome": ["TLSv1.3", "no TLS"], "client says": ["", "refused"]})


def test_tables_show_spanish_words_and_keep_english_data(spanish: None) -> None:
    shown_es = _texts(tables.verdict(FRAME, uuid="t"))  # words are chosen at display time
    shades_es = _shades(tables.cells(FRAME, ["outcome"], rule=tables.outcome, uuid="c"))
    i18n.set_language("en")
    assert _texts(tables.verdict(FRAME, uuid="t")) == ["attempt", "connected", "outcome", "client says",
                                                       "verify-full", "True", "TLSv1.3", "disable", "False",
                                                       "no TLS", "refused"]
    assert shown_es == ["intento", "conectado", "resultado", "el cliente dice", "verify-full", "sí", "TLSv1.3",
                        "disable", "no", "sin TLS", "rechazada"]
    assert FRAME.connected.tolist() == [True, False] and FRAME.columns[0] == "attempt"  # data stays English
    assert shades_es == _shades(tables.cells(FRAME, ["outcome"], rule=tables.outcome, uuid="c"))  # same colours


def test_a_plain_frame_reads_in_the_edition(spanish: None) -> None:
    shown = tables._spanish_frame_html(pd.DataFrame({"verdict": ["accepted"]}, index=pd.Index(["x"], name="side")))
    assert "veredicto" in shown and "aceptada" in shown and "lado" in shown
    i18n.set_language("en")
    assert tables._spanish_frame_html(pd.DataFrame({"verdict": ["accepted"]})) is None  # pandas draws it


def test_a_frame_left_as_a_cells_value_follows_the_edition_begin_sets() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    frame = pd.DataFrame({"verdict": ["refused"]})
    try:
        tables.show_frames("es")
        i18n.set_language("es")
        assert "rechazada" in shell.display_formatter.format(frame)[0]["text/html"]
        tables.show_frames("en")
        assert "refused" in shell.display_formatter.format(frame)[0]["text/html"]
    finally:
        tables.show_frames("en")
        i18n.set_language("en")
        InteractiveShell.clear_instance()


def test_plots_label_their_axes_in_the_edition(spanish: None) -> None:
    pivot = pd.DataFrame({"server, defaults": ["TLSv1.3", "plaintext"]}, index=["require", "prefer"])
    figure = tables.matrix_plot(pivot, "sslmode (rows, weakest first) x server state (columns)")
    axes = figure.axes[0]
    assert axes.get_xlabel() == "rojo = rechazada, ámbar = texto plano, verde = TLS"
    assert axes.get_title().startswith("sslmode (filas")
    assert [t.get_text() for t in axes.get_xticklabels()] == ["servidor, valores por defecto"]
    assert "texto plano" in [t.get_text() for t in axes.texts]
    times = pd.DataFrame({"version": ["TLSv1.3"], "median_ms": [2.0], "min_ms": [1.0], "max_ms": [3.0]})
    assert tables.timing_plot(times).axes[0].get_ylabel().startswith("negociación TLS, ms")


def _shown_headings() -> set[str]:
    """Every column heading and index label the executed English notebooks show in an HTML table."""
    found: set[str] = set()
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) + sorted((NOTEBOOKS / "solutions").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                page = output.get("data", {}).get("text/html", "")
                for th in re.findall(r"<th\b[^>]*>(.*?)</th>", "".join(page), re.S):
                    found.add(html.unescape(re.sub(r"<[^>]+>", "", th)).strip())
    return found


def test_every_heading_the_lessons_show_has_a_spanish_term() -> None:
    headings = _shown_headings()
    assert len(headings) > 100  # the inventory really read the notebooks' tables
    known = i18n.terms()["headings"].keys() | i18n.terms()["values"].keys()
    untranslated = sorted(h for h in headings if h not in known and not i18n.is_identifier(h))
    assert untranslated == [], "add these to labkit/data/terms_es.json (or, if identifiers, to i18n.VERBATIM)"


def test_the_identifier_rule_keeps_names_and_translates_words() -> None:
    for name in ("ssl_min_protocol_version", "server.crt", "TLSv1.2", "16.4 Debian", "verify-full", "psql"):
        assert i18n.is_identifier(name), name
    for words in ("client says", "connected", "TLS 1.2 probe", "libpq, max TLSv1.1"):
        assert not i18n.is_identifier(words), words
    assert i18n.term("connected", "es") == "conectado" and i18n.term("connected", "en") == "connected"
    assert i18n.term("ssl_ciphers", "es") == "ssl_ciphers"


# --- labkit run --lang es -------------------------------------------------------------------------------


def test_labkit_run_in_spanish_writes_a_spanish_index(tmp_path: Path) -> None:
    from .test_runner import run_cli  # the runner tests' own way to call the CLI

    tool = _build_tool()
    for name, en, es in (("01_first", "First", "Primera lección"), ("02_second", "Second", "Segunda lección")):
        tool.build_one(_write_lesson(tmp_path, name, en, es), run=False, timeout=0,
                       target=tmp_path / "course" / f"{name}.ipynb", lang="es")
    done = run_cli(tmp_path / "report", "--notebooks-dir", str(tmp_path / "course" / "es"), "--lang", "es")
    assert done.code == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == "2 superadas, 0 fallidas"
    page = done.index_html
    assert '<html lang="es">' in page and "<h2>Lecciones</h2>" in page and "<h2>Entorno</h2>" in page
    assert 'id="summary">2 superadas, 0 fallidas</p>' in page
    assert '<th scope="row">Máquina</th>' in page and '<th scope="row">Inicio de la ejecución</th>' in page
    assert '<th scope="row">Servidor PostgreSQL</th><td><div>no registrado</div>' in page  # no lesson recorded it
    assert "<th>Lección</th><th>Estado</th>" in page
    visible = re.sub(r"<style.*?</style>|<[^>]+>", " ", page, flags=re.S)
    assert not re.search(r"\b(passed|failed|Lessons|Environment|Generated)\b", visible), visible
    for name, title in (("01_first", "Primera lección"), ("02_second", "Segunda lección")):
        row = done.row(name)
        assert 'data-status="passed"' in row and '<span class="badge passed">superada</span>' in row
        assert title in row and "conectado" in row and "rechazada" in row  # the key result, in Spanish
    results = json.loads((done.out / "results.json").read_text(encoding="utf-8"))
    assert results["lang"] == "es" and results["summary"]["passed"] == 2
    jsonschema.validate(results, report.run_schema())


def test_labkit_run_without_a_spanish_edition_says_how_to_build_it(tmp_path: Path, monkeypatch) -> None:
    from labkit import bundled_course

    monkeypatch.setattr(bundled_course, "_candidates", lambda: [(tmp_path, "test")])
    with pytest.raises(Exception, match="--lang es"):
        bundled_course.course_dir("es")


# --- the course itself (fails while a lesson lacks its translation) --------------------------------------


def _twinned(sources: list[Path]) -> list[Path]:
    return [s for s in sources if any(editions.is_twin(c) for c in jupytext.read(s, fmt="py:percent").cells)]


@pytest.mark.parametrize("source", LESSON_SOURCES + _twinned(EXERCISE_SOURCES), ids=lambda p: p.stem)
def test_every_source_has_a_current_twin_for_every_english_cell(source: Path) -> None:
    found = editions.problems(jupytext.read(source, fmt="py:percent").cells)
    assert found == [], (f"{source.name}: " + "; ".join(map(str, found[:5]))
                         + " -- translate, then python tools/build_notebooks.py --stamp " + source.name[:2])


def _builds() -> list[tuple[Path, Path, str | None]]:
    """(source, English notebook, variant) for every notebook nbval checks in English."""
    builds: list[tuple[Path, Path, str | None]] = [(s, NOTEBOOKS / f"{s.stem}.ipynb", None) for s in LESSON_SOURCES]
    builds += [(s, NOTEBOOKS / "solutions" / f"{s.stem}.ipynb", "solution") for s in _twinned(EXERCISE_SOURCES)]
    return builds


@pytest.mark.parametrize("source,english,variant", _builds(), ids=lambda v: getattr(v, "stem", v))
def test_every_english_notebook_has_its_spanish_edition(source: Path, english: Path, variant: str | None) -> None:
    spanish_path = editions.spanish_path(english)
    assert spanish_path.is_file(), f"build it: python tools/build_notebooks.py --lang es {source.name[:2]}"
    if variant == "solution":  # the learner's blank comes with it
        blank = editions.spanish_path(NOTEBOOKS / "exercises" / english.name)
        assert blank.is_file(), f"build it: python tools/build_notebooks.py --exercises --lang es {source.name[:2]}"
    built_en = nbformat.read(english, as_version=4)
    built_es = nbformat.read(spanish_path, as_version=4)
    assert editions.code_differences(built_en, built_es) == []
    params = next(c for c in built_es.cells if c.cell_type == "code")
    assert re.search(r'^lang = "es"', params.source, re.M)
    wanted = editions.edition(jupytext.read(source, fmt="py:percent"), "es", name=source.name)
    drop = {"solution": "exercise"}.get(variant or "")
    twins = [c.source for c in wanted.cells if c.cell_type == "markdown" and drop not in c.metadata.get("tags", [])]
    assert [c.source for c in built_es.cells if c.cell_type == "markdown"] == twins, "rebuild the Spanish edition"


def test_no_spanish_notebook_without_its_english_one() -> None:
    strays = [p.name for p in sorted((NOTEBOOKS / "es").glob("*.ipynb")) if not (NOTEBOOKS / p.name).is_file()]
    assert strays == []


# --- the other commands' one-line summaries, labkit init ------------------------------------------------


def test_labkit_check_says_its_line_in_spanish() -> None:
    from labkit.room_check import CheckReport, Step

    steps = [Step("doctor", "OK", 0.1), Step("lab", "FAIL", 2.0, "port 5416 busy")]
    failed = CheckReport(ok=False, seconds=2.1, host="h", platform="p", labkit_version="dev", steps=steps,
                         missing=["psql"])
    assert failed.line() == "labkit check: FAIL in 2.1 s -- lab: port 5416 busy; missing: psql"
    assert failed.line("es") == "labkit check: FALLO en 2.1 s -- lab: port 5416 busy; falta: psql"
    passed = CheckReport(ok=True, seconds=9.5, host="h", platform="p", labkit_version="dev", steps=steps[:1],
                         facts={"backend": "local", "server_version": "16.14"})
    assert passed.line("es") == "labkit check: OK en 9.5 s (doctor; backend local, PostgreSQL 16.14)"


def test_labkit_init_copies_the_spanish_edition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from labkit import bundled_course

    course = tmp_path / "course"
    (course / "es").mkdir(parents=True)
    for folder, text in ((course, "English"), (course / "es", "Español")):
        (folder / "01_first.ipynb").write_text(text, encoding="utf-8")
    (course / "sanitize.cfg").write_text("[x]\n", encoding="utf-8")
    monkeypatch.setattr(bundled_course, "_candidates", lambda: [(course, "test")])
    done = bundled_course.init_course(tmp_path / "mine", lang="es")
    assert set(done.files) == {"01_first.ipynb", "sanitize.cfg"}
    assert (tmp_path / "mine" / "01_first.ipynb").read_text(encoding="utf-8") == "Español"
    assert bundled_course.course_dir("es") == course / "es" and bundled_course.course_dir() == course
