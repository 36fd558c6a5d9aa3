"""The learning-curve PNG."""

from __future__ import annotations

import matplotlib

from kdsweep.engine.curves import plot_curves


def test_curves_png(tmp_path):
    backend = matplotlib.get_backend()
    history = [{"epoch": e, "train_acc1": 10.0 * e, "val_acc1": 9.0 * e, "val_acc5": 30.0 + e,
                "train_loss": 2.0 / e, "val_loss": 2.2 / e} for e in (1, 2, 3)]
    path = plot_curves(history, tmp_path / "sub" / "curves.png", title="run")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (900, 360)
    assert matplotlib.get_backend() == backend  # no global backend switch


def test_curves_with_one_epoch_and_missing_series(tmp_path):
    path = plot_curves([{"epoch": 1, "val_acc1": 50.0}], tmp_path / "c.png")
    assert path.stat().st_size > 1000
