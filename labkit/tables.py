"""How lessons show results: pandas tables, green where the outcome is the good one, red where not.

Every Styler gets a fixed ``uuid``: pandas otherwise puts a random id into the HTML on every run, and nbval
compares notebook outputs, so a lesson's verdict tables would never compare equal.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

GOOD = "background-color: #c8e6c9"
BAD = "background-color: #ffcdd2"
NEUTRAL = "background-color: #fff9c4"  # not applicable / not measured
_LEFT = {"text-align": "left", "white-space": "pre-wrap"}


def table(frame: pd.DataFrame, uuid: str = "t") -> Styler:
    """A plain table: left-aligned, no index, a fixed id."""
    return frame.style.set_uuid(uuid).hide(axis="index").set_properties(**_LEFT)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


def verdict(frame: pd.DataFrame, column: str = "connected", *, good: Any = True,
            columns: Sequence[str] | None = None, uuid: str = "v", hide_index: bool = True) -> Styler:
    """Rows green where ``frame[column]`` is ``good`` (a value, or a collection of good values), red
    where it is not, yellow where it is missing. Only ``columns`` are shaded (default: the first
    three); pass ``frame.columns`` to shade whole rows."""
    good_values = set(good) if isinstance(good, (set, frozenset, list, tuple)) else {good}
    paint = set(columns) if columns is not None else set(frame.columns[:3])

    def colour(row: pd.Series) -> list[str]:
        value = row[column]
        shade = NEUTRAL if _is_missing(value) else (GOOD if value in good_values else BAD)
        return [shade if name in paint else "" for name in row.index]

    styler = frame.style.apply(colour, axis=1).set_uuid(uuid).set_properties(**_LEFT)
    return styler.hide(axis="index") if hide_index else styler


def shade_columns(frame: pd.DataFrame, columns: Iterable[str]) -> list[str]:
    """The subset of ``columns`` that exists in ``frame`` (for callers that build tables conditionally)."""
    return [c for c in columns if c in frame.columns]
