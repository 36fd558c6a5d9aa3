"""The cell model: what a table cell holds, a column of cells, and a rendered table.

Every table kind (pivot, list) renders into `RenderedTable`, so each output format
(Markdown, CSV here; LaTeX in `latex.py`) and the plots read one shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

CHECK, CROSS = "\u2713", "\u2717"  # a check column's marks (see the manual in tables.py)
NA = "-"  # finished, but the number was never logged or does not apply
CSV_TEXT = {CHECK: "true", CROSS: "false", NA: ""}


@dataclass
class Cell:
    """One table cell: the text, the number behind it (for bold and plots) and its trimmings."""

    text: str = ""
    value: float | None = None
    rank: bool = False  # may be bolded
    bold: bool = False
    note: str = ""  # " (2/3)": seeds finished of planned
    ref: str = ""  # " (ref 80.65, +0.45)"

    def render(self, style: str, escape: Callable[[str], str] = str) -> str:
        text, rest = escape(self.text), escape(self.note + self.ref)
        if style == "latex":
            return (f"\\textbf{{{text}}}" if self.bold and text else text) + rest
        if style == "markdown":
            return (f"**{text}**" if self.bold and text else text) + rest
        if style == "csv":  # what data tools read: booleans as true / false, no number as an empty cell
            text = CSV_TEXT.get(text, text)
        return text + rest


@dataclass
class Column:
    header: str
    cells: list[Cell]
    kind: str = "key"  # key | metric | seed | epoch | profile | ref | label
    bold: Any = None  # the column's own bold rule (None: the table's)


@dataclass
class Bar:
    label: str
    mean: float
    std: float
    n: int
    status: str
    baseline: bool = False  # a row trained without a teacher beside rows with one: drawn as a line


@dataclass
class RenderedTable:
    """A table ready for any output format, plus the numbers its plot needs."""

    name: str
    kind: str
    title: str
    caption: str
    metric: str
    columns: list[Column]
    matrix: pd.DataFrame | None = None  # pivot: numbers by row / column header, NaN where none
    bars: list[Bar] = field(default_factory=list)  # list: the primary metric per row
    rows_key: str = ""
    cols_key: str = ""
    rows_label: str = ""  # pivot axes as the table names them (its corner), for plot axes
    cols_label: str = ""
    metric_label: str = ""  # the metric as the table heads it (`top-1 (%)`), else the metric's name
    beside: list[Any] = field(default_factory=list)  # context.Line: teacher / no-teacher numbers

    @property
    def n_rows(self) -> int:
        return len(self.columns[0].cells) if self.columns else 0

    def frame(self, style: str = "plain", escape: Callable[[str], str] = str) -> pd.DataFrame:
        """The table as a DataFrame of text (duplicate headers allowed: 000's three accuracy columns)."""
        data = [[col.cells[i].render(style, escape) for col in self.columns] for i in range(self.n_rows)]
        headers = [escape(c.header) for c in self.columns]
        return pd.DataFrame(data, columns=headers, dtype=object)

    def to_markdown(self) -> str:
        return self.frame("markdown").to_markdown(index=False, tablefmt="pipe", stralign="center",
                                                  disable_numparse=True)

    def to_csv(self) -> str:
        return self.frame("csv").to_csv(index=False, lineterminator="\n")


def bold_best(cells: list[Cell], direction: str) -> None:
    ranked = [c for c in cells if c.rank and c.value is not None]
    if not ranked:
        return
    best = max(c.value for c in ranked) if direction == "max" else min(c.value for c in ranked)
    for c in ranked:
        if abs(c.value - best) <= 1e-12 * max(1.0, abs(best)):
            c.bold = True
