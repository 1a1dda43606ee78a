"""How lessons show results: pandas tables coloured by verdict, and the two plots the course draws.

One module so that no lesson paints its own cells: rows (:func:`verdict`) or single cells (:func:`cells`)
are green where the outcome is the good one, red where not, amber for "connected, but in clear text", and
yellow where nothing was measured. Every Styler gets a fixed ``uuid``: pandas otherwise puts a random id
into the HTML on every run, and nbval compares notebook outputs, so a lesson's verdict tables would never
compare equal. Attempts (:class:`labkit.client.AttemptResult`) become tables here too, with only the
columns that read the same on every machine and backend.

Every Styler made here HTML-escapes its cells and labels (a message such as ``no pg_hba.conf entry for
host "<client>"`` or a path ``<data dir>/server.crt`` would otherwise be read by the browser as a tag and
vanish) and writes every missing value -- None, NaN, NaT -- as one marker, :data:`EMPTY`. ``psql`` columns
show paths relative to the lab workspace (run the command from that folder); the whole command is
``AttemptResult.psql``.
"""
from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from pandas.io.formats.style import Styler

from . import i18n, messages

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .client import AttemptResult

__all__ = ["BAD", "EMPTY", "GOOD", "NEUTRAL", "WARN", "attempts", "attempts_frame", "cells", "compatibility", "matrix",
           "matrix_plot", "outcome", "outcomes", "probe_result", "raw_messages", "server_says", "show_frames",
           "table", "timing_plot", "truth", "verdict", "verdicts"]

GOOD = "background-color: #c8e6c9"
BAD = "background-color: #ffcdd2"
WARN = "background-color: #ffe0b2"  # worked, but not the way it should (plaintext)
NEUTRAL = "background-color: #fff9c4"  # not applicable / not measured
_SHADES = {"good": GOOD, "bad": BAD, "warn": WARN, "neutral": NEUTRAL, "": ""}
_LEFT = {"text-align": "left", "white-space": "pre-wrap"}
EMPTY = "—"
"""The one marker for "no value" in every table (never None, nan, NaN or NULL)."""

Rule = Callable[[Any], str]
"""A cell rule: value -> "good", "bad", "warn", "neutral" or "" (no colour)."""


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


def truth(value: Any) -> str:
    """True is good, False bad, missing neutral."""
    if _is_missing(value):
        return "neutral"
    return "good" if value is True or value == True else "bad"  # noqa: E712 - numpy booleans too


def outcome(value: Any) -> str:
    """An attempt outcome: a TLS version is good, ``no TLS``/``plaintext`` a warning, an error key bad."""
    if _is_missing(value) or value == "":
        return "neutral"
    text = str(value)
    if text.startswith("TLS"):
        return "good"
    return "warn" if text in ("no TLS", "plaintext") else "bad"


def probe_result(value: Any) -> str:
    """A probe verdict: accepted good, refused bad, anything else (client cannot offer...) uncoloured."""
    return {"accepted": "good", "refused": "bad"}.get(str(value), "")


# --------------------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------------------


def _shown(value: Any) -> Any:
    """A cell or label as the Spanish edition shows it (:func:`labkit.i18n.word`, headings by
    :func:`labkit.i18n.term`); floats keep pandas' own precision."""
    if isinstance(value, str):
        return i18n.term(value)
    shown = i18n.word(value)
    if shown is not value:
        return shown
    if isinstance(value, float):
        return f"{value:.{pd.get_option('styler.format.precision')}f}"
    return value


def _style(frame: pd.DataFrame) -> Styler:
    """The one way a frame becomes a Styler here: text escaped for HTML, missing values as :data:`EMPTY`;
    in the Spanish edition, headings, index labels and verdict words shown in Spanish (the data, and so
    every colour rule and assert, stay English)."""
    def named(names: Sequence[Any]) -> list[Any]:  # axis names are not escaped by format_index
        return [html.escape(i18n.term(n)) if isinstance(n, str) else n for n in names]

    frame = frame.copy(deep=False)
    frame.index = frame.index.set_names(named(frame.index.names))  # new Index objects: the caller's stays
    frame.columns = frame.columns.set_names(named(frame.columns.names))
    if i18n.current_language() == "en":
        return (frame.style.format(escape="html", na_rep=EMPTY)
                .format_index(escape="html", axis=0).format_index(escape="html", axis=1))
    cell = (lambda v: i18n.word(v) if isinstance(v, str) else _shown(v))  # a cell: verdict words only
    return (frame.style.format(cell, escape="html", na_rep=EMPTY)
            .format_index(_shown, escape="html", axis=0).format_index(_shown, escape="html", axis=1))


def table(frame: pd.DataFrame, uuid: str = "t") -> Styler:
    """A plain table: left-aligned, no index, a fixed id."""
    return _style(frame).set_uuid(uuid).hide(axis="index").set_properties(**_LEFT)


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

    styler = _style(frame).apply(colour, axis=1).set_uuid(uuid).set_properties(**_LEFT)
    return styler.hide(axis="index") if hide_index else styler


def cells(frame: pd.DataFrame, columns: Iterable[str] | None = None, *, rule: Rule = truth, uuid: str = "c",
          hide_index: bool = True) -> Styler:
    """Each cell of ``columns`` (default: every column) coloured by its own value with ``rule``
    (:func:`truth`, :func:`outcome`, :func:`probe_result` or your own)."""
    subset = list(columns) if columns is not None else list(frame.columns)
    styler = _style(frame).map(lambda value: _SHADES[rule(value)], subset=subset)
    styler = styler.set_uuid(uuid).set_properties(**_LEFT)
    return styler.hide(axis="index") if hide_index else styler


def matrix(pivot: pd.DataFrame, uuid: str = "matrix") -> Styler:
    """A pivot of outcomes (rows x columns, index shown): green = TLS, amber = plaintext, red = refused."""
    return cells(pivot, rule=outcome, uuid=uuid, hide_index=False)


def compatibility(frame: pd.DataFrame, uuid: str = "compat") -> Styler:
    """:func:`labkit.guide.compatibility_check`'s table: protocol and verdict green where the guide agrees
    with the measurement, red where not; the server's accepted/refused cells coloured too."""
    def paint(row: pd.Series) -> list[str]:
        agrees = "good" if str(row["verdict"]).startswith("agrees") else "bad"
        return [_SHADES[agrees] if c in ("protocol", "verdict") else _SHADES[probe_result(row[c])]
                for c in row.index]

    return _style(frame).apply(paint, axis=1).set_uuid(uuid).hide(axis="index").set_properties(
        **{"text-align": "left"})


def _spanish_frame_html(frame: pd.DataFrame) -> str | None:
    """A plain frame left as a cell's value, as the Spanish edition shows it: headings, labels and verdict
    words translated (through :func:`_style`, like every table here); ``None`` lets pandas draw it."""
    if i18n.current_language() == "en" or frame.size > 5000:
        return None
    return _style(frame).set_uuid("frame").to_html()


def show_frames(lang: str) -> None:
    """Make a plain data frame left as a notebook cell's value read in the edition ``lang`` too (lessons show
    a few frames as they are, without a helper); English leaves pandas' own display untouched."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - lessons always run in IPython
        return
    shell = get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["text/html"]
    if lang == "en":
        formatter.type_printers.pop(pd.DataFrame, None)
    else:
        formatter.for_type(pd.DataFrame, _spanish_frame_html)


# --------------------------------------------------------------------------------------------------------
# Attempts as tables
# --------------------------------------------------------------------------------------------------------

FRAME_COLUMNS: tuple[str, ...] = (
    "label", "connected", "outcome", "error_key", "error_class", "tls_version", "cipher", "bits",
    "ssl_client_cert_present", "ssl_client_dn", "ssl_issuer_dn", "ssl_client_serial", "current_user",
    "server_version", "duration_ms", "fix", "error_text", "server_log", "psql", "params", "client_defaults",
    "ssl", "ssl_is_used", "compression", "pg_stat_ssl",
)
VERDICT_COLUMNS: tuple[str, ...] = ("label", "connected", "outcome", "tls_version", "psql")


def attempts_frame(results: Iterable[AttemptResult]) -> pd.DataFrame:
    """One row per attempt, every field, the columns a reader scans first on the left."""
    return pd.DataFrame([r.as_row() for r in results], columns=list(FRAME_COLUMNS))


def attempts(frame: pd.DataFrame, uuid: str = "attempts") -> Styler:
    """An attempts frame with connected rows' first cells green and refused ones red."""
    return verdict(frame, "connected", columns=("label", "connected", "outcome"), uuid=uuid, hide_index=False)


def server_says(result: AttemptResult) -> str:
    return "connection authorized" if result.connected else messages.server_phrase(result.server_log)


def outcomes(results: Iterable[AttemptResult], *, extra: Mapping[str, Sequence[Any]] | None = None,
             server_side: bool = True, psql: bool = True) -> pd.DataFrame:
    """The compared table of a set of attempts: label, connected, outcome, the client's words, the
    server's words and the ``psql`` command a reader would type. Nothing in it depends on the backend or
    the port. ``extra`` columns are inserted after the label."""
    rows = []
    for r in results:
        row: dict[str, Any] = {"attempt": r.label, "connected": r.connected, "outcome": r.outcome,
                               "client says": "" if r.connected else messages.client_phrase(r.error_text)}
        if server_side:
            row["server log says"] = server_says(r)
        if psql:
            row["psql"] = r.short_psql
        rows.append(row)
    frame = pd.DataFrame(rows)
    for name, values in (extra or {}).items():
        frame.insert(1, name, list(values))
    return frame


def verdicts(results: Sequence[AttemptResult], columns: Sequence[str] = VERDICT_COLUMNS, *,
             uuid: str = "verdicts") -> Styler:
    """Attempts as a green/red table with only stable columns (what nbval compares); ``client says`` and
    ``server says`` (both reduced with :mod:`labkit.messages`) are available as columns too."""
    frame = attempts_frame(results)
    frame["client says"] = [messages.client_phrase(r.error_text) if not r.connected else "" for r in results]
    frame["server says"] = [server_says(r) if not r.connected else "" for r in results]
    frame["psql"] = [r.short_psql for r in results]
    frame = frame[list(columns)].copy()
    if "connected" not in frame:
        return table(frame, uuid)
    return attempts(frame, uuid).hide(axis="index")


def raw_messages(results: Sequence[AttemptResult], uuid: str = "raw") -> Styler:
    """What each end really said, every line whole (volatile: addresses, pids, paths) -- for cells tagged
    nbval-ignore-output. A Styler, so no column is cut to pandas' display width and ``<client>`` or
    ``"<file>"`` in a message stays visible."""
    frame = pd.DataFrame([{"label": r.label, "client said": r.error_text or "(connected)",
                           "server log": r.server_log or "(nothing logged)"} for r in results],
                         columns=["label", "client said", "server log"])
    return table(frame, uuid)


# --------------------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------------------


def matrix_plot(pivot: pd.DataFrame, title: str = "") -> Figure:
    """A pivot of outcomes as a coloured grid (red = refused, amber = plaintext, green = TLS), each cell
    labelled with its outcome."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    level = {"bad": 0, "neutral": 0, "warn": 1, "good": 2}
    grid = [[level[outcome(v)] for v in row] for row in pivot.values]
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    ax.imshow(grid, cmap=ListedColormap(["#ef9a9a", "#ffcc80", "#a5d6a7"]), vmin=0, vmax=2, aspect="auto")
    ax.set_xticks(range(len(pivot.columns)), [str(_shown(c)) for c in pivot.columns])
    ax.set_yticks(range(len(pivot.index)), [str(_shown(r)) for r in pivot.index])
    for i, row in enumerate(pivot.values):
        for j, value in enumerate(row):
            ax.text(j, i, str(i18n.word(value)).replace("_", " "), ha="center", va="center", fontsize=8)
    ax.set_title(i18n.term(title))
    ax.set_xlabel(i18n.term("red = refused, amber = plaintext, green = TLS"))
    fig.tight_layout()
    plt.close(fig)  # shown once, as the cell's value, not a second time by the inline backend
    return fig


def timing_plot(times: pd.DataFrame, title: str = "") -> Figure:
    """:func:`labkit.handshake.handshake_times` as bars: the median per version, min-max as error bars."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 2.6))
    ax.bar(times.version, times.median_ms, color=["#90a4ae", "#4caf50"][: len(times)],
           yerr=[times.median_ms - times.min_ms, times.max_ms - times.median_ms], capsize=4)
    ax.set_ylabel(i18n.term("handshake, ms (median, min-max)"))
    ax.set_title(i18n.term(title))
    fig.tight_layout()
    plt.close(fig)
    return fig
