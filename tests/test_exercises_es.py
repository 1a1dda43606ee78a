"""The exercises in the Spanish edition: every task, hint and explanation a check says has its Spanish
wording, and a typical wrong answer checked on a real lab is explained in Spanish, with the catalogue's
Spanish cause for a refusal (the wrong answers are test_exercises.CASES, on the same lab fixture)."""
from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

import labkit as lk
from labkit import exercises_es, i18n
from labkit.exercises import EXERCISES, ExerciseFailed, Exercises
from labkit.lesson import Lesson

from .helpers import searchable_tmp
from .test_catalogue_es import in_spanish  # noqa: F401 - sets "es" for one test, then puts the language back
from .test_exercises import CASES, lesson  # noqa: F401 - the module's lab fixture, reused

ROOT = Path(__file__).resolve().parent.parent
ENGLISH_FRAMES = ("must get in but was", "but must be refused", " Fix: ", "Right: ", "no answer yet")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _said_phrases() -> list[str]:
    """Every literal phrase labkit/exercises.py passes to _say (what a check can say)."""
    tree = ast.parse((ROOT / "labkit" / "exercises.py").read_text(encoding="utf-8"))
    return [node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_say"
            and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)]


@pytest.mark.parametrize("key", sorted(EXERCISES))
def test_every_exercise_has_its_task_hint_and_explanations_in_spanish(key: str) -> None:
    exercise, spanish = EXERCISES[key], exercises_es.EXERCISES[key]
    for name in ("task", "hint", "why_right"):
        text = spanish.get(name)
        assert isinstance(text, str) and text.strip() and text != getattr(exercise, name), (key, name)
    wrong_success = {p.label: p.if_wrong for p in exercise.probes if not p.connects}
    assert set(spanish.get("if_wrong", {})) == set(wrong_success), key
    for label, english in wrong_success.items():
        assert spanish["if_wrong"][label].strip() and spanish["if_wrong"][label] != english
    for probe in exercise.probes:
        assert probe.label in exercises_es.PHRASES, probe.label
        assert all(note in exercises_es.PHRASES for note in probe.refused_note.values()), probe.label
    assert set(exercises_es.EXERCISES) == set(EXERCISES)


def test_every_phrase_a_check_says_has_spanish_with_the_same_fields() -> None:
    phrases = _said_phrases()
    assert len(phrases) >= 20 and "refused: {key} -- {cause} Fix: {fix}" in phrases
    missing = [p for p in phrases if p not in exercises_es.PHRASES]
    assert not missing, missing
    assert [p for p in phrases if _fields(p) != _fields(exercises_es.PHRASES[p])] == []


def test_the_english_edition_keeps_its_words(lesson: Lesson) -> None:  # noqa: F811
    assert i18n.current_language() == "en"
    assert Exercises(lesson, 0).task("E0.1") == f"E0.1 (conninfo): {EXERCISES['E0.1'].task}\n  hint: " \
                                                f"{EXERCISES['E0.1'].hint}"


@pytest.mark.parametrize("key", sorted(CASES))
def test_a_wrong_answer_is_explained_in_spanish(lesson: Lesson, in_spanish: None,  # noqa: F811
                                                key: str) -> None:
    _, wrong, _ = CASES[key]
    spanish = exercises_es.EXERCISES[key]
    verdict = Exercises(lesson, EXERCISES[key].part).check(key, wrong(lesson) if callable(wrong) else wrong)
    assert not verdict.ok and str(verdict).startswith(f"{key}: AÚN NO -- "), verdict.said
    assert not [f for f in ENGLISH_FRAMES if f in verdict.said], verdict.said
    explained = False
    for probe, result in verdict.observed:
        if result.connected and not probe.connects:
            assert f"pero la conexión debía rechazarse: {spanish['if_wrong'][probe.label]}" in verdict.said
            explained = True
        elif not result.connected and probe.connects:
            assert f"{exercises_es.PHRASES[probe.label]}: debe entrar, pero la conexión fue rechazada: " in verdict.said
            assert result.entry is not None and result.entry.cause_es, result.error_key
            assert f"{result.entry.cause_es} Solución: {result.entry.fix_es}" in verdict.said
            explained = True
    if not verdict.observed:  # the server refused the change itself (E3.1's certificate without its key)
        assert verdict.said.startswith("el servidor rechazó el cambio y mantuvo su configuración anterior "
                                       "(revertido: sí)")
        assert "El catálogo de errores: key_mismatch -- " in verdict.said
        explained = True
    assert explained, verdict.said


def test_a_right_answer_and_a_blank_speak_spanish(lesson: Lesson,  # noqa: F811
                                                  in_spanish: None) -> None:  # noqa: F811
    ex = Exercises(lesson, 1)
    right = ex.check("E1.2", "ssl_min_protocol_version = 'TLSv1.3'")
    assert right.ok and str(right).startswith("E1.2: CORRECTO -- cliente hasta TLS 1.3: conecta (TLSv1.3)")
    assert f"Correcto: {exercises_es.EXERCISES['E1.2']['why_right']}." in right.said
    assert "cliente limitado a TLS 1.2: rechazada (" in right.said
    assert "<b>E1.2: correcto</b>" in right._repr_html_() and "cliente limitado a TLS 1.2" in right._repr_html_()
    blank = ex.check("E1.1", "")
    assert blank.said == (f"aún no hay respuesta. {exercises_es.EXERCISES['E1.1']['task']} "
                          f"(pista: {exercises_es.EXERCISES['E1.1']['hint']})")
    assert ex.task("E1.1").endswith(f"\n  pista: {exercises_es.EXERCISES['E1.1']['hint']}")
    bad = ex.check("E1.2", "include = 'other.conf'")
    assert bad.said.startswith("labkit no escribió esta respuesta: invalid setting name: 'include'")


def test_finish_says_what_is_left_in_spanish(tmp_path: Path) -> None:
    started = lk.begin(backend="local", workspace=searchable_tmp(tmp_path / "ws"), lang="es")
    try:
        ex = Exercises(started, 0)
        ex.check("E0.1", "")
        with pytest.raises(ExerciseFailed) as caught:
            ex.finish()
    finally:
        i18n.set_language("en")
    text = str(caught.value)
    assert "2 de 2 ejercicios de la parte 0 sin resolver: E0.1: AÚN NO -- aún no hay respuesta." in text
    assert "E0.2: sin comprobar" in text and "vuelva a ejecutar el cuaderno" in text
