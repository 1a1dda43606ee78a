"""The exercises: every solution passes its check on a real lab, and a blank or a typical wrong answer fails
with the explanation the exercise is written to give (never a bare "wrong")."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jupytext
import nbformat
import pytest

import labkit as lk
from labkit.exercises import EXERCISES, ExerciseFailed, Exercises, parse_conf_answer, parse_conninfo_answer
from labkit.lesson import Lesson

from .helpers import postgres_processes_for, searchable_tmp

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "notebooks" / "src" / "exercises").glob("[0-9][0-9]_ex_*.py"))


@pytest.fixture(scope="module")
def lesson(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lesson]:
    started = lk.begin(backend="local", workspace=searchable_tmp(tmp_path_factory.mktemp("exercises")))
    yield started
    started.finish()


def _revoke_and_reload(lesson: Lesson):
    def respond(stolen_crt: Path) -> None:
        lesson.pki.revoke(stolen_crt)
        assert lk.apply(lesson.lab, lk.layers.layer_crl(lesson.pki)).ok
    return respond


def _revoke_only(lesson: Lesson):
    return lambda stolen_crt: lesson.pki.revoke(stolen_crt)


# exercise: (solution, typical wrong answer, words the wrong answer's explanation must contain)
CASES: dict[str, tuple[object, object, tuple[str, ...]]] = {
    "E0.1": ("sslmode=require user=conssl", "sslmode=prefer user=conssl",
             ("server with TLS off connected (without TLS)", "fell back to a plaintext connection")),
    "E0.2": ("ssl_cert_file = 'server-chain.crt'", "ssl_cert_file = 'server.crt'",
             ("must get in but was refused: server_cert_untrusted", "Fix: ")),
    "E1.1": ("hostssl all conssl 0.0.0.0/0 scram-sha-256", "host all conssl 0.0.0.0/0 scram-sha-256",
             ("conssl, no TLS connected (without TLS)", "only 'hostssl' lines match TLS connections")),
    "E1.2": ("ssl_min_protocol_version = 'TLSv1.3'", "ssl_min_protocol_version = 'TLSv1.2'",
             ("client limited to TLS 1.2 connected (TLSv1.2)", "below TLSv1.3")),
    "E1.3": ("ssl_crl_file = 'combined.crl'", "ssl_crl_file = 'intermediate.crl'",
             ("client.crt must get in but was refused: crl_missing", "combined CRL")),
    "E1.4": ("ssl_ca_file = 'combined.crt'", "ssl_ca_file = 'root.crt'",
             ("must get in but was refused: unknown_ca", "Put root + intermediate in ssl_ca_file")),
    "E2.1": ("sslmode=verify-full sslrootcert=combined.crt user=conssl",
             "sslmode=verify-ca sslrootcert=combined.crt user=conssl",
             ("impostor: same CA, other host name connected", "'verify-full' also checks the name")),
    "E2.2": ("sslmode=verify-full sslrootcert=combined.crt sslcert=client.crt sslkey=client.key user=conssl",
             "sslmode=verify-full sslrootcert=combined.crt sslcert=client.crt user=conssl",
             ("refused: client_key_missing", "Pass sslkey=")),
    "E2.3": ("hostssl all conssl 0.0.0.0/0 cert", "hostssl all conssl 0.0.0.0/0 scram-sha-256",
             ("refused: no_password", "conssl got in with only its password")),
    "E3.1": ("ssl_cert_file = 'server2.crt'\nssl_key_file = 'server2.key'", "ssl_cert_file = 'server2.crt'",
             ("the server refused the change and kept its previous configuration", "key_mismatch",
              "Pair each certificate with its own key")),
    "E3.2": (_revoke_and_reload, _revoke_only,
             ("the stolen certificate connected", "the server still reads its old copy of the CRL")),
}


def test_every_part_has_at_least_two_exercises_and_every_one_a_case() -> None:
    parts = [e.part for e in EXERCISES.values()]
    assert len(EXERCISES) >= 10 and all(parts.count(p) >= 2 for p in (0, 1, 2, 3))
    assert set(CASES) == set(EXERCISES)
    kinds = {e.kind for e in EXERCISES.values()}
    assert kinds == {"hba", "conf", "conninfo", "revocation"}


@pytest.mark.parametrize("key", sorted(CASES))
def test_the_solution_passes_and_a_wrong_answer_is_explained(lesson: Lesson, key: str) -> None:
    right, wrong, words = CASES[key]
    ex = Exercises(lesson, EXERCISES[key].part)
    solved = ex.check(key, right(lesson) if callable(right) else right)
    assert solved.ok, solved.said
    assert "Right: " in solved.said and solved.observed
    assert all(r.connected == p.connects for p, r in solved.observed)
    failed = ex.check(key, wrong(lesson) if callable(wrong) else wrong)
    assert not failed.ok
    for word in words:
        assert word in failed.said, failed.said


@pytest.mark.parametrize("key", sorted(CASES))
def test_a_blank_answer_says_what_to_write(lesson: Lesson, key: str) -> None:
    verdict = Exercises(lesson, EXERCISES[key].part).check(key, "")
    assert not verdict.ok and verdict.said.startswith("no answer yet. ") and EXERCISES[key].hint in verdict.said


def test_an_empty_respond_function_is_told_nothing_was_revoked(lesson: Lesson) -> None:
    def respond(stolen_crt: Path) -> None:
        ...

    verdict = Exercises(lesson, 3).check("E3.2", respond)
    assert not verdict.ok and "nothing called pki.revoke on it" in verdict.said


@pytest.mark.parametrize(("key", "answer", "words"), [
    ("E1.1", "hostssl all conssl 0.0.0.0/0 trust\x00host all all 0.0.0.0/0 trust",
     "labkit did not write this answer: invalid pg_hba line"),
    ("E1.1", "hostssl all conssl 0.0.0.0/0 trust\nhost all all 0.0.0.0/0 trust", "exactly one pg_hba.conf line"),
    ("E1.1", "hostssl all @admins 0.0.0.0/0 scram-sha-256", "@file inclusions"),
    ("E1.2", "include = 'other.conf'", "invalid setting name: 'include'"),
    ("E1.2", "ssl_min_protocol_version = 'TLSv1.3", "a complete quoted string"),
    ("E1.3", "ssl_crl_file = '/etc/passwd'", "name a file of the lab PKI"),
    ("E0.1", "sslmode=require port=5432", "the lab's port and generated passwords are passed by labkit"),
    ("E0.1", "sslmode=require host=192.0.2.10", "the lab listens on loopback only"),
    ("E0.1", "sslmode=require user=postgres", "invalid user: 'postgres'; allowed: 'conssl'"),
    ("E2.1", "sslmode=verify-full sslrootcert=../../etc/ssl/certs/ca.crt", "name a file of the lab PKI"),
])
def test_bad_input_is_refused_before_anything_changes(lesson: Lesson, key: str, answer: str, words: str) -> None:
    before = (lesson.lab.hba_text(), lesson.lab.lesson_conf_text())
    verdict = Exercises(lesson, EXERCISES[key].part).check(key, answer)
    assert not verdict.ok and words in verdict.said, verdict.said
    assert (lesson.lab.hba_text(), lesson.lab.lesson_conf_text()) == before


def test_finish_names_every_exercise_not_yet_right(tmp_path: Path) -> None:
    started = lk.begin(backend="local", workspace=searchable_tmp(tmp_path / "ws"))
    ex = Exercises(started, 2)
    ex.check("E2.1", "sslmode=require user=conssl")
    ex.check("E2.3", "hostssl all conssl 0.0.0.0/0 cert")
    with pytest.raises(ExerciseFailed) as caught:
        ex.finish()
    text = str(caught.value)
    assert "2 of 3 exercises of part 2 not solved" in text
    assert "E2.1: NOT YET -- impostor" in text and "E2.2: not checked" in text and "E2.3:" not in text
    assert postgres_processes_for(str(tmp_path / "ws")) == [], "finish() stops the lab before it fails"


def test_unknown_part_or_exercise_names_what_exists(lesson: Lesson) -> None:
    with pytest.raises(lk.InvalidValue, match=r"invalid part: 7; allowed: 0, 1, 2, 3"):
        Exercises(lesson, 7)
    with pytest.raises(lk.InvalidValue, match=r"invalid exercise: 'E1.1'; allowed: 'E0.1', 'E0.2'"):
        Exercises(lesson, 0).check("E1.1", "x")


def test_answers_are_read_as_postgresql_and_libpq_read_them() -> None:
    assert parse_conf_answer("# rotate\nssl_cert_file = 'a''b.crt'  # the new one\nssl = on # tls\nport 5\n"
                             "ssl_ciphers = 'HIGH:#x'") == {
        "ssl_cert_file": "a'b.crt", "ssl": True, "port": 5, "ssl_ciphers": "HIGH:#x"}
    assert parse_conninfo_answer("postgresql://conssl@localhost/postgres?sslmode=verify-full") == {
        "user": "conssl", "host": "localhost", "dbname": "postgres", "sslmode": "verify-full"}


# ---- the notebooks built from the sources --------------------------------------------------------------


def _variant_code(source: Path, dropped: str) -> list[str]:
    cells = jupytext.read(source, fmt="py:percent").cells
    return [c.source for c in cells if c.cell_type == "code" and dropped not in c.metadata.get("tags", [])]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_committed_exercise_and_solution_notebooks_are_built_from_their_source(source: Path) -> None:
    blank = nbformat.read(ROOT / "notebooks" / "exercises" / f"{source.stem}.ipynb", as_version=4)
    solved = nbformat.read(ROOT / "notebooks" / "solutions" / f"{source.stem}.ipynb", as_version=4)
    assert [c.source for c in blank.cells if c.cell_type == "code"] == _variant_code(source, "solution")
    assert [c.source for c in solved.cells if c.cell_type == "code"] == _variant_code(source, "exercise")
    assert not any(c.get("outputs") for c in blank.cells if c.cell_type == "code"), "a blank must carry no output"
    assert not any("solution" in c.metadata.get("tags", []) for c in blank.cells), "an answer leaked"
    assert all(c.get("outputs") for c in solved.cells if c.cell_type == "code" and "check(" in c.source)


def test_there_are_exercise_notebooks_for_every_part() -> None:
    assert [p.stem for p in SOURCES] == ["90_ex_part0", "91_ex_part1", "92_ex_part2", "93_ex_part3"]


def _build(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "tools" / "build_notebooks.py"), *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_student_copies_are_blank_output_free_and_never_in_the_course(tmp_path: Path) -> None:
    done = _build("--student", str(tmp_path / "mine"))
    assert done.returncode == 0, done.stderr
    built = sorted((tmp_path / "mine").glob("*.ipynb"))
    assert [p.stem for p in built] == [p.stem for p in SOURCES]
    for path in built:
        nb = nbformat.read(path, as_version=4)
        assert not any(c.get("outputs") or c.get("execution_count") for c in nb.cells if c.cell_type == "code")
        assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells)
    refused = _build("--student", str(ROOT / "notebooks" / "mine"))
    assert refused.returncode == 2 and "inside the course's notebooks/ folder" in refused.stderr
    assert not (ROOT / "notebooks" / "mine").exists()


def test_labkit_run_checks_a_learners_copy(tmp_path: Path) -> None:
    """A learner's untouched copy fails under `labkit run`, and the report says which exercises are left."""
    assert _build("--student", str(tmp_path / "mine"), "90").returncode == 0
    out = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "labkit", "run", "--notebooks-dir", str(tmp_path / "mine"),
                           "--backend", "local", "-p", "workspace", str(searchable_tmp(tmp_path / "ws")),
                           "--out", str(out)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    results = (out / "results.json").read_text()
    assert "ExerciseFailed" in results and "2 of 2 exercises of part 0 not solved" in results
    assert "E0.1: NOT YET -- no answer yet." in results


def test_labkit_run_passes_the_solutions(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "labkit", "run", "--notebooks-dir", str(ROOT / "notebooks" / "solutions"),
                           "90", "--backend", "local", "-p", "workspace", str(searchable_tmp(tmp_path / "ws")),
                           "--out", str(tmp_path / "report")], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 0 failed" in done.stdout + done.stderr


def test_labkit_init_exercises_writes_the_blanks_from_the_installed_course(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "labkit", "init", "--exercises", str(tmp_path / "mine")],
                          capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    built = sorted((tmp_path / "mine").glob("*.ipynb"))
    assert [p.stem for p in built] == [p.stem for p in SOURCES]
    for path in built:
        nb = nbformat.read(path, as_version=4)
        assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
        assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_exercise_sources_open_the_front_door_and_keep_cells_short(source: Path) -> None:
    code = [c.source for c in jupytext.read(source, fmt="py:percent").cells if c.cell_type == "code"]
    assert code[1] == "import pandas as pd\n\nimport labkit as lk"
    assert max(len(c.splitlines()) for c in code) <= 12
    assert code[-1] == "ex.finish()"


@pytest.mark.pg15
def test_on_postgresql_15_the_depth_1_crl_mistake_is_explained_too(tmp_path: Path) -> None:
    """PostgreSQL 15 logs no depth or reason, so the catalogue sees an unknown CA; the check says what else
    that means here. The solution passes on 15 as on 16."""
    started = lk.begin(backend="local", pg_version=15, workspace=searchable_tmp(tmp_path / "ws"))
    try:
        ex = Exercises(started, 1)
        assert ex.check("E1.3", "ssl_crl_file = 'combined.crl'").ok
        wrong = ex.check("E1.3", "ssl_crl_file = 'intermediate.crl'")
        assert not wrong.ok and "refused: unknown_ca" in wrong.said
        assert "before PostgreSQL 16 the server logs only 'certificate verify failed'" in wrong.said
    finally:
        started.finish()


def test_a_misspelt_setting_is_named_by_the_server_version_that_lacks_it(lesson: Lesson) -> None:
    verdict = Exercises(lesson, 1).check("E1.2", "ssl_min_protocl_version = 'TLSv1.3'")
    assert not verdict.ok and "labkit did not write this answer: invalid setting: 'ssl_min_protocl_version'" \
        in verdict.said and "PostgreSQL 16 has no parameter" in verdict.said


def test_a_line_for_another_address_is_refused_with_the_docker_hint(lesson: Lesson) -> None:
    verdict = Exercises(lesson, 1).check("E1.1", "hostssl all conssl 10.0.0.0/8 scram-sha-256")
    assert not verdict.ok and "refused: no_hba_ssl" in verdict.said and "bridge's gateway" in verdict.said


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb")), ids=lambda p: p.stem)
def test_solution_outputs_hold_no_secret(path: Path) -> None:
    from .test_notebook_hygiene import SECRET_PATTERNS, _outputs_text

    text = _outputs_text(nbformat.read(path, as_version=4))
    assert not [p.pattern for p in SECRET_PATTERNS if p.search(text)]
    assert "PRIVATE KEY" not in text and "/secrets/" not in text
