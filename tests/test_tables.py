"""Lesson tables: coloured by outcome, and byte-for-byte stable so nbval can compare them."""
from __future__ import annotations

import pandas as pd

from labkit import tables
from labkit.attempts import styled


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
