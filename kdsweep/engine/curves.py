"""The learning-curve PNG logged with every run: accuracy and loss by epoch, train vs val.

Uses matplotlib's object API on an Agg canvas, never pyplot: no global backend switch, no
figure registry to leak in a long-lived Ray worker, and no display needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

PANELS = (
    ("accuracy (%)", (("train_acc1", "train top-1"), ("val_acc1", "val top-1"), ("val_acc5", "val top-5"))),
    ("loss", (("train_loss", "train (total)"), ("val_loss", "val (CE)"))),
)


def plot_curves(history: Sequence[dict[str, float]], path: str | Path, *, title: str | None = None) -> Path:
    """Write the curves of `history` (one dict of metrics per epoch, with "epoch") to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(9, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    epochs = [row["epoch"] for row in history]
    for i, (ylabel, series) in enumerate(PANELS):
        ax = fig.add_subplot(1, len(PANELS), i + 1)
        for key, label in series:
            values = [row.get(key) for row in history]
            if any(v is not None for v in values):
                ax.plot(epochs, [float("nan") if v is None else v for v in values], marker="o", ms=3, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    best = max(history, key=lambda row: row.get("val_acc1", float("-inf")), default=None)
    if best is not None and "val_acc1" in best:
        fig.axes[0].axvline(best["epoch"], color="grey", ls=":", lw=1)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    return path
