"""Lesson tables: coloured by outcome, and byte-for-byte stable so nbval can compare them."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from labkit import tables
from labkit.tables import attempts as styled

if TYPE_CHECKING:
    from labkit.client import AttemptResult


def test_verdict_colours_good_bad_and_missing() -> None:
    frame = pd.DataFrame({"attempt": ["a", "b", "c"], "connected": [True, False, None]})
    html = tables.verdict(frame, uuid="x").to_html()
    assert html == tables.verdict(frame, uuid="x").to_html()  # no random id
    assert "#c8e6c9" in html and "#ffcdd2" in html and "#fff9c4" in html
    assert 'id="T_x' in html


def test_verdict_accepts_several_good_values_and_chosen_columns() -> None:
    frame = pd.DataFrame({"step": ["one", "two"], "result": ["accepted", "refused"], "note": ["", ""]})
    styler = tables.verdict(frame, "result", good=("accepted", "n/a"), columns=["step"], uuid="y")
    styles = styler._compute().ctx
    assert ("background-color", "#c8e6c9") in styles[(0, 0)]
    assert ("background-color", "#ffcdd2") in styles[(1, 0)]
    assert not any(name == "background-color" for name, _ in styles.get((0, 1), []))


def test_plain_table_and_attempt_frames_are_stable() -> None:
    frame = pd.DataFrame({"label": ["ok", "no"], "connected": [True, False], "outcome": ["TLSv1.3", "unknown_ca"]})
    assert tables.table(frame, "t").to_html() == tables.table(frame, "t").to_html()
    assert styled(frame).to_html() == styled(frame).to_html()


def test_cells_colour_each_cell_by_its_own_value() -> None:
    frame = pd.DataFrame({"claim": ["a", "b", "c"], "connected": [True, False, None]})
    ctx = tables.cells(frame, ["connected"], uuid="c1")._compute().ctx
    assert ("background-color", "#c8e6c9") in ctx[(0, 1)] and ("background-color", "#ffcdd2") in ctx[(1, 1)]
    assert ("background-color", "#fff9c4") in ctx[(2, 1)]
    assert not any(name == "background-color" for name, _ in ctx.get((0, 0), []))


def test_matrix_knows_tls_plaintext_and_refusals() -> None:
    pivot = pd.DataFrame({"ssl off": ["no TLS", "server_no_ssl"], "ssl on": ["TLSv1.3", "plaintext"]},
                         index=["prefer", "require"])
    ctx = tables.matrix(pivot)._compute().ctx
    assert ("background-color", "#ffe0b2") in ctx[(0, 0)] and ("background-color", "#ffcdd2") in ctx[(1, 0)]
    assert ("background-color", "#c8e6c9") in ctx[(0, 1)] and ("background-color", "#ffe0b2") in ctx[(1, 1)]
    assert tables.matrix(pivot).to_html() == tables.matrix(pivot).to_html()
    figure = tables.matrix_plot(pivot, "t")
    assert [t.get_text() for t in figure.axes[0].texts] == ["no TLS", "TLSv1.3", "server no ssl", "plaintext"]


def test_compatibility_paints_verdicts_and_probe_cells() -> None:
    frame = pd.DataFrame({"protocol": ["TLSv1", "TLSv1.3"], "server, defaults": ["refused", "accepted"],
                          "verdict": ["guide too generous", "agrees"]})
    ctx = tables.compatibility(frame)._compute().ctx
    assert ("background-color", "#ffcdd2") in ctx[(0, 0)] and ("background-color", "#c8e6c9") in ctx[(1, 2)]
    assert ("background-color", "#ffcdd2") in ctx[(0, 1)] and ("background-color", "#c8e6c9") in ctx[(1, 1)]


def test_text_is_escaped_so_placeholders_stay_visible() -> None:
    frame = pd.DataFrame({"<col>": ['no pg_hba.conf entry for host "<client>"', "ssl_cert_file = '<data dir>/x'"],
                          "connected": [False, True]})
    for styler in (tables.table(frame), tables.verdict(frame), tables.cells(frame, ["connected"]),
                   tables.matrix(frame.set_index("<col>"))):
        html = styler.to_html()
        assert "&lt;client&gt;" in html and "&lt;data dir&gt;" in html and "<client>" not in html, html
        assert "&lt;col&gt;" in html or "<col>" not in html


def test_one_marker_for_every_missing_value() -> None:
    frame = pd.DataFrame({"a": [None, float("nan"), "x"], "b": [pd.NaT, 1.5, None], "connected": [True, None, False]})
    for styler in (tables.table(frame), tables.verdict(frame), tables.cells(frame)):
        html = styler.to_html()
        assert html.count(tables.EMPTY) == 5, html
        for word in (">None<", ">nan<", ">NaN<", ">NaT<", ">NULL<"):
            assert word not in html


def _result(**fields: object) -> AttemptResult:
    from labkit.client import AttemptResult

    base = {"label": "a", "params": {}, "psql": "", "connected": False}
    return AttemptResult(**{**base, **fields})  # type: ignore[arg-type]


def test_raw_messages_are_whole_and_psql_is_relative_to_the_workspace() -> None:
    long = "connection to server failed: " + "certificate verify failed " * 20 + 'file "<file>" END'
    shown = tables.raw_messages([_result(error_text=long, server_log="")]).to_html()
    assert "END" in shown and "&lt;file&gt;" in shown and "(nothing logged)" in shown
    ws = "/var/lib/labkit/labs/course-2"
    r = _result(workspace=ws, psql=f'PGPASSFILE={ws}/secrets/pgpass psql '
                                   f'"host=127.0.0.1 sslrootcert={ws}/pki/CA/root.crt '
                                   'sslcert=/elsewhere/c.crt"', connected=True, tls_version="TLSv1.3")
    assert r.short_psql == 'PGPASSFILE=secrets/pgpass psql "host=127.0.0.1 sslrootcert=pki/CA/root.crt ' \
                           'sslcert=/elsewhere/c.crt"'
    assert list(tables.outcomes([r])["psql"]) == [r.short_psql]
    assert "pki/CA/root.crt" in tables.verdicts([r]).to_html() and ws not in tables.verdicts([r]).to_html()
    assert tables.EMPTY in tables.verdicts([_result()]).to_html()  # no TLS version: the marker, not None


def test_escaping_leaves_the_callers_frame_alone() -> None:
    frame = pd.DataFrame({"x": [1]}).rename_axis("<name>")
    tables.table(frame).to_html()
    assert frame.index.name == "<name>"


def test_a_browser_shows_the_placeholders(tmp_path: Path) -> None:
    """Headless Chromium renders a lesson table: the text between < and > must be there for a reader (before
    escaping, the browser took ``<client>`` for a tag and showed ``host ""``)."""
    from tests.test_report_browser import chromium

    frame = pd.DataFrame({"server log says": ['no pg_hba.conf entry for host "<client>", user "u"'],
                          "setting": ["ssl_cert_file = '<data dir>/tls/server.crt'"], "missing": [None]})
    page = tmp_path / "table.html"
    page.write_text("<!doctype html><html><body>" + tables.table(frame, "b").to_html() + "</body></html>")
    done = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'host "&lt;client&gt;"' in done.stdout and "'&lt;data dir&gt;/tls/server.crt'" in done.stdout
    assert f">{tables.EMPTY}<" in done.stdout
