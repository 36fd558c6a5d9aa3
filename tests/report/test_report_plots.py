"""plot_sweep: PNG files in results/, and the same files on the sweep's parent MLflow run."""

from __future__ import annotations

import report_sweeps as rs

from kdsweep.report.plots import plot_sweep

PNG = b"\x89PNG\r\n\x1a\n"


def test_heatmap_and_curves_written_and_logged_to_the_parent_run(store, planned, tmp_path):
    plan = planned(rs.T_ALPHA, "plots004")
    sweep = store.sweep(plan)
    for name, best in (("big", 80.8), ("T=1", 79.6), ("T=3", 81.1), ("alpha=0.6", 81.3)):
        sweep.run(name, best=best, history={"val_acc1": [best - 20, best - 5, best]})
    sweep.run("T=5", "RUNNING", history={"val_acc1": [55.0]})  # a partial curve is still drawn

    paths = plot_sweep(store.uri, plan, out_dir=tmp_path / "results")

    assert [p.name for p in paths] == ["plots004_T_alpha.png", "plots004_curves.png"]
    for path in paths:
        assert path.read_bytes().startswith(PNG) and path.stat().st_size > 5000
    logged = [a.path for a in store.client.list_artifacts(sweep.parent_id, "plots")]
    assert sorted(logged) == ["plots/plots004_T_alpha.png", "plots/plots004_curves.png"]


def test_bar_charts_for_list_tables(store, planned, tmp_path):
    plan = planned(rs.FA, "plots000")
    sweep = store.sweep(plan)
    names = [r.name for r in plan.runs]
    for i, name in enumerate(names[:-1]):
        sweep.run(name, best=75.0 + i / 3, history={"val_acc1": [10.0 + i, 20.0 + i]})

    paths = plot_sweep(store.uri, plan, out_dir=tmp_path)

    assert [p.name for p in paths] == ["plots000_fa.png", "plots000_fa_mean.png", "plots000_curves.png"]
    assert all(p.read_bytes().startswith(PNG) for p in paths)


def test_nothing_finished_draws_nothing(store, planned, tmp_path):
    plan = planned(rs.SIZES, "plots_none")
    store.sweep(plan)
    assert plot_sweep(store.uri, plan, out_dir=tmp_path) == []
    assert not list(tmp_path.glob("*.png"))


def test_plots_read_as_the_tables_name_things_and_do_not_mislead(store, planned):
    """Issue 12.12: axis names from the table, bars from zero, no error bar for one seed, the student
    without a teacher and the teacher drawn as lines, not bars."""
    from test_report_exports import QUICK

    from kdsweep.report.plots import bar_figure, heatmap_figure
    from kdsweep.report.tables import build_report

    text = QUICK.replace("T: [2, 4]", "T: [2, 4]\n  loss.kd.alpha: [0.5, 0.9]").replace(
        "cols: loss.kd.T}", "cols: loss.kd.T, corner: 'α\\T'}")
    plan = planned(text, "plot_honest")
    sweep = store.sweep(plan)
    for i, run in enumerate(plan.runs):
        sweep.run(run, best=93.0 + i)
    report = build_report(store.uri, plan)
    kd, grid = report.tables

    ax = bar_figure(kd).axes[0]
    assert ax.get_ylim()[0] == 0.0 and ax.get_ylabel() == "top-1"
    assert len(ax.patches) == 4  # the four KD rows; the no-teacher row is a line
    assert not ax.containers[1:]  # single seeds: no (zero-width) error bars
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["without a teacher (with KD: no, T: -): 98.00", "teacher (teacher): 93.00"]

    ax = heatmap_figure(grid).axes[0]
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("α", "T")
    assert "teacher (teacher): 93.00 · without a teacher (kd=none): 98.00" in ax.get_title()
