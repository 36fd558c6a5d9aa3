"""The write-ups' table shapes, rendered from a real MLflow store, checked to the character."""

from __future__ import annotations

import datetime as dt

import pytest
import report_sweeps as rs

from kdsweep.errors import UserError
from kdsweep.report.tables import build_report, render_report

NOW = dt.datetime(2025, 1, 2, 3, 4, tzinfo=dt.timezone.utc)


def table_md(uri, plan, name, *, reference=False) -> str:
    report = build_report(uri, plan, reference=reference)
    return next(t for t in report.tables if t.name == name).to_markdown() + "\n"


def point_names(plan) -> list[str]:
    return [r.name for r in plan.runs if not r.stage]


# --- 004: T x alpha pivot ------------------------------------------------------------------------------


def fill_t_alpha(sweep) -> None:
    sweep.run("big", best=80.83)
    sweep.run("T=1", best=79.64)
    sweep.run("T=3", best=81.10)
    sweep.run("T=5", best=80.65)
    sweep.run("T=5", "FAILED", reason="rerun died")  # a later failed rerun does not hide the finished run
    sweep.run("T=10", best=80.875)
    sweep.run("alpha=0.7", best=81.27)
    sweep.run("alpha=0.6", best=81.28)
    sweep.run("alpha=0.5", best=80.78)


def test_pivot_004_partial_column_bold_max_with_header_and_caption(store, planned):
    plan = planned(rs.T_ALPHA, "t004")
    fill_t_alpha(store.sweep(plan, hardware="1x NVIDIA H100 80GB HBM3"))
    assert render_report(store.uri, plan, now=NOW) == """\
# t004

8/8 runs finished · 2025-01-02 03:04 UTC · 1x NVIDIA H100 80GB HBM3

## ShuffleNetV2 x2.0 -> x1.0, top-1 (%)

|  alpha\\T  |   1   |     3     |   5   |  10   |
|:---------:|:-----:|:---------:|:-----:|:-----:|
|    0.9    | 79.64 |   81.10   | 80.65 | 80.88 |
|    0.7    |       |   81.27   |       |       |
|    0.6    |       | **81.28** |       |       |
|    0.5    |       |   80.78   |       |       |

Teacher (big): 80.83

When T = 3 and alpha = 0.6, we get the highest accuracy.
"""


def test_pivot_reference_beside_ours_with_difference(store, planned):
    plan = planned(rs.T_ALPHA, "t004ref")
    sweep = store.sweep(plan)
    sweep.run("T=1", best=79.70)
    sweep.run("T=3", best=80.90)
    sweep.run("T=5", "RUNNING")
    sweep.run("alpha=0.6", best=81.28)
    assert table_md(store.uri, plan, "T_alpha", reference=True) == EXPECTED_PIVOT_REF
    # Without --reference the write-up's numbers stay out of the table.
    assert "ref" not in table_md(store.uri, plan, "T_alpha")


EXPECTED_PIVOT_REF = """\
|  alpha\\T  |            1             |              3               |          5          |         10          |
|:---------:|:------------------------:|:----------------------------:|:-------------------:|:-------------------:|
|    0.9    | 79.70 (ref 79.64, +0.06) |   80.90 (ref 81.10, -0.20)   | running (ref 80.65) | not run (ref 80.88) |
|    0.7    |                          |     not run (ref 81.27)      |                     |                     |
|    0.6    |                          | **81.28** (ref 81.28, +0.00) |                     |                     |
|    0.5    |                          |     not run (ref 80.78)      |                     |                     |
"""


def test_pivot_seeds_and_states(store, planned):
    """Finished seeds only, with (k/n); cells with no number say why, never a number."""
    plan = planned(rs.STATES, "states")
    sweep = store.sweep(plan)
    sweep.run("alpha=0.5 T=2 seed=0", best=80.0)
    sweep.run("alpha=0.5 T=2 seed=1", best=81.0)
    sweep.run("alpha=0.5 T=4 seed=0", best=82.0)
    sweep.run("alpha=0.5 T=4 seed=1", "RUNNING")
    sweep.run("alpha=0.9 T=2 seed=0", "FAILED", reason="CUDA out of memory")
    sweep.run("alpha=0.9 T=4 seed=0", "PENDING")
    sweep.run("alpha=0.9 T=4 seed=1", "NOT_RUN", reason="teacher failed")
    assert render_report(store.uri, plan, now=NOW) == """\
# states

3/9 runs finished (1 running, 1 pending, 1 failed, 3 not run) · 2025-01-02 03:04 UTC

## states

|  alpha\\T  |      2       |        4        |
|:---------:|:------------:|:---------------:|
|    0.5    | 80.50 ± 0.71 | **82.00** (1/2) |
|    0.9    |    failed    |     pending     |

Teacher (teacher): not run
"""


# --- 002: with / without KD x scheduler x lr ---------------------------------------------------------------


def fill_002(sweep, plan, values) -> None:
    sweep.run("teacher", best=84.4)
    for name, value in zip(point_names(plan), values, strict=True):
        if isinstance(value, str):
            if value != "NO_CHILD":
                sweep.run(name, value)
        else:
            sweep.run(name, best=value)


def test_list_002_check_cross_bold_best_per_lr_and_states(store, planned):
    plan = planned(rs.KD_SCHED_LR, "t002")
    fill_002(store.sweep(plan), plan, [84.5, 82.8, 79.6, "FAILED", 86.5, 86.0, 85.7, "NO_CHILD"])
    assert table_md(store.uri, plan, "kd_sched_lr") == """\
|   Network    |   Dataset   |  Top-1 Accuracy  |  with KD  |  with scheduler  |  initial lr  |
|:------------:|:-----------:|:----------------:|:---------:|:----------------:|:------------:|
| MobileNets-M | Caltech-101 |    **84.5%**     |     ✓     |        ✗         |    0.0001    |
| MobileNets-M | Caltech-101 |      82.8%       |     ✗     |        ✗         |    0.0001    |
| MobileNets-M | Caltech-101 |      79.6%       |     ✓     |        ✓         |    0.0001    |
| MobileNets-M | Caltech-101 |      failed      |     ✗     |        ✓         |    0.0001    |
| MobileNets-M | Caltech-101 |    **86.5%**     |     ✓     |        ✗         |    0.0002    |
| MobileNets-M | Caltech-101 |      86.0%       |     ✗     |        ✗         |    0.0002    |
| MobileNets-M | Caltech-101 |      85.7%       |     ✓     |        ✓         |    0.0002    |
| MobileNets-M | Caltech-101 |     not run      |     ✗     |        ✓         |    0.0002    |
"""


def test_list_002_reference_columns(store, planned):
    plan = planned(rs.KD_SCHED_LR, "t002ref")
    fill_002(store.sweep(plan), plan, [84.9, 82.8, 79.1, 80.2, 86.5, 85.0, 85.7, "RUNNING"])
    assert table_md(store.uri, plan, "kd_sched_lr", reference=True) == """\
|   Network    |   Dataset   |  Top-1 Accuracy  |  Top-1 Accuracy (ref)  |  Top-1 Accuracy (Δ)  |  with KD  |  with scheduler  |  initial lr  |
|:------------:|:-----------:|:----------------:|:----------------------:|:--------------------:|:---------:|:----------------:|:------------:|
| MobileNets-M | Caltech-101 |    **84.9%**     |         84.5%          |        +0.4%         |     ✓     |        ✗         |    0.0001    |
| MobileNets-M | Caltech-101 |      82.8%       |         82.8%          |        +0.0%         |     ✗     |        ✗         |    0.0001    |
| MobileNets-M | Caltech-101 |      79.1%       |         79.6%          |        -0.5%         |     ✓     |        ✓         |    0.0001    |
| MobileNets-M | Caltech-101 |      80.2%       |         79.9%          |        +0.3%         |     ✗     |        ✓         |    0.0001    |
| MobileNets-M | Caltech-101 |    **86.5%**     |         86.5%          |        +0.0%         |     ✓     |        ✗         |    0.0002    |
| MobileNets-M | Caltech-101 |      85.0%       |         86.0%          |        -1.0%         |     ✗     |        ✗         |    0.0002    |
| MobileNets-M | Caltech-101 |      85.7%       |         85.7%          |        +0.0%         |     ✓     |        ✓         |    0.0002    |
| MobileNets-M | Caltech-101 |     running      |         84.6%          |                      |     ✗     |        ✓         |    0.0002    |
"""


# --- 000: seeds, accuracy at epochs 1/2, params/FLOPs --------------------------------------------------------


def fill_000(sweep, plan) -> None:
    sweep.run("b3", best=80.24, params=10.5e6, flops=0.97e9, history={"val_acc1": [20.0, 35.5]})
    b0, fa, fast = dict.fromkeys(r.name.split(" seed=")[0] for r in plan.runs if not r.stage)
    rows = ((b0, [75.62, 76.02, 76.00], [9.29, 16.15]), (fa, [77.56, 77.61, None], [23.58, 40.00]),
            (fast, [77.29, 77.31, 77.39], [23.58, 40.00]))
    for name, values, (e1, e2) in rows:
        for seed, value in enumerate(values):
            if value is None:
                sweep.run(f"{name} seed={seed}", "RUNNING", history={"val_acc1": [5.0]})
            else:
                sweep.run(f"{name} seed={seed}", best=value, params=4_052_148, flops=0.38e9,
                          history={"val_acc1": [e1 + seed / 10, e2 + seed / 10]})


def test_list_000_per_seed_epochs_profile_mean_std(store, planned):
    plan = planned(rs.FA, "t000")
    fill_000(store.sweep(plan), plan)
    assert render_report(store.uri, plan, now=NOW) == """\
# t000

9/10 runs finished (1 running) · 2025-01-02 03:04 UTC

## Comparison of adding FA loss. B3 as teacher, B0 as student

|   Models   |  accuracy (seed 0)  |  accuracy (seed 1)  |  accuracy (seed 2)  |  acc at 1st/2nd epoch  |    Pa/Fl    |
|:----------:|:-------------------:|:-------------------:|:-------------------:|:----------------------:|:-----------:|
|     B3     |        80.24        |                     |                     |      20.00/35.50       | 10.5M/0.97G |
|     B0     |        75.62        |        76.02        |        76.00        |       9.39/16.25       | 4.1M/0.38G  |
|   B0+FA    |        77.56        |        77.61        |       running       |   23.63/40.05 (2/3)    | 4.1M/0.38G  |
| B0+Fast FA |        77.29        |        77.31        |        77.39        |      23.68/40.10       | 4.1M/0.38G  |

## Mean over seeds

|   Models   |       top-1        |  seeds  |  acc at 1st/2nd epoch  |  params  |  FLOPs  |
|:----------:|:------------------:|:-------:|:----------------------:|:--------:|:-------:|
|     B0     |    75.88 ± 0.23    |    3    |       9.39/16.25       |   4.1M   |  0.38G  |
|   B0+FA    | 77.59 ± 0.04 (2/3) |   2/3   |   23.63/40.05 (2/3)    |   4.1M   |  0.38G  |
| B0+Fast FA |    77.33 ± 0.05    |    3    |      23.68/40.10       |   4.1M   |  0.38G  |

Teacher (b3): 80.24
"""


def test_list_000_reference_in_cells(store, planned):
    plan = planned(rs.FA, "t000ref")
    fill_000(store.sweep(plan), plan)
    report = build_report(store.uri, plan, reference=True)
    assert report.tables[0].to_markdown() + "\n" == """\
|   Models   |    accuracy (seed 0)     |    accuracy (seed 1)     |    accuracy (seed 2)     |  acc at 1st/2nd epoch  |    Pa/Fl    |
|:----------:|:------------------------:|:------------------------:|:------------------------:|:----------------------:|:-----------:|
|     B3     | 80.24 (ref 80.24, +0.00) |       (ref 80.24)        |       (ref 80.24)        |      20.00/35.50       | 10.5M/0.97G |
|     B0     | 75.62 (ref 75.62, +0.00) | 76.02 (ref 76.02, +0.00) | 76.00 (ref 76.00, +0.00) |       9.39/16.25       | 4.1M/0.38G  |
|   B0+FA    | 77.56 (ref 77.56, +0.00) | 77.61 (ref 77.61, +0.00) |   running (ref 77.17)    |   23.63/40.05 (2/3)    | 4.1M/0.38G  |
| B0+Fast FA | 77.29 (ref 77.29, +0.00) | 77.31 (ref 77.31, +0.00) | 77.39 (ref 77.39, +0.00) |      23.68/40.10       | 4.1M/0.38G  |
"""
    assert report.tables[1].to_markdown() + "\n" == """\
|   Models   |       top-1        |  seeds  |               acc at 1st/2nd epoch               |  params  |  FLOPs  |
|:----------:|:------------------:|:-------:|:------------------------------------------------:|:--------:|:-------:|
|     B0     |    75.88 ± 0.23    |    3    |     9.39/16.25 (ref 9.29/16.15, +0.10/+0.10)     |   4.1M   |  0.38G  |
|   B0+FA    | 77.59 ± 0.04 (2/3) |   2/3   | 23.63/40.05 (2/3) (ref 23.58/40.00, +0.05/+0.05) |   4.1M   |  0.38G  |
| B0+Fast FA |    77.33 ± 0.05    |    3    |                   23.68/40.10                    |   4.1M   |  0.38G  |
"""


# --- 004: model sizes (transposed), lr tricks (labels for mapping values), where / order ----------------------


def test_transposed_list_004_model_sizes(store, planned):
    plan = planned(rs.SIZES, "sizes")
    sweep = store.sweep(plan)
    sweep.run("arch=digits_student", best=78.84)
    sweep.run("arch=digits_teacher", best=80.83)
    assert table_md(store.uri, plan, "sizes") == """\
|  shufflenet_v2_x1_0  |  shufflenet_v2_x2_0  |
|:--------------------:|:--------------------:|
|        78.84         |        80.83         |
"""
    assert table_md(store.uri, plan, "sizes", reference=True) == """\
|  student.arch  |  shufflenet_v2_x1_0  |  shufflenet_v2_x2_0  |
|:--------------:|:--------------------:|:--------------------:|
|     top-1      |        78.84         |        80.83         |
|  top-1 (ref)   |        78.84         |        80.83         |
|   top-1 (Δ)    |        +0.00         |        +0.00         |
"""


def test_labels_where_order_and_column_bold(store, planned):
    plan = planned(rs.TRICKS, "tricks")
    sweep = store.sweep(plan)
    for name, best, gap in zip(point_names(plan), [76.71, 77.72, 78.84, 77.76], [9.0, 8.0, 8.5, 7.62], strict=True):
        sweep.run(name, best=best, train_val_gap=gap)
    report = build_report(store.uri, plan)
    assert report.tables[0].to_markdown() + "\n" == """\
|          tricks          |  accuracy  |
|:------------------------:|:----------:|
|          steplr          |   76.71    |
|         cosinlr          |   77.72    |
| cosinlr + warmup 1 epoch | **78.84**  |
| cosinlr + warmup 3 epoch |   77.76    |
"""
    # where: warm-up runs only; order: best first; the gap column bolds its minimum.
    assert report.tables[1].to_markdown() + "\n" == """\
|  warm-up epochs  |  accuracy  |  train-val gap  |
|:----------------:|:----------:|:---------------:|
|        1         | **78.84**  |      8.50       |
|        3         |   77.76    |    **7.62**     |
"""


# --- a sweep without tables: ---------------------------------------------------------------------------------


def test_default_table_is_a_pivot_over_two_grid_axes(store, planned):
    plan = planned(rs.NO_TABLES_GRID, "default_grid")
    sweep = store.sweep(plan)
    for name, best in (("teacher", 90.0), ("alpha=0.5 T=2", 85.0), ("alpha=0.5 T=4", 86.5), ("alpha=0.9 T=2", 87.25)):
        sweep.run(name, best=best)
    assert render_report(store.uri, plan, now=NOW) == """\
# default_grid

4/5 runs finished (1 not run) · 2025-01-02 03:04 UTC

## best_val_acc1 by loss.kd.alpha (rows) and loss.kd.T (columns)

|  alpha\\T  |     2     |    4    |
|:---------:|:---------:|:-------:|
|    0.5    |   85.00   |  86.50  |
|    0.9    | **87.25** | not run |

Teacher (teacher): 90.00
"""


def test_default_table_otherwise_lists_what_varies(store, planned):
    plan = planned(rs.NO_TABLES_LIST, "default_list")
    sweep = store.sweep(plan)
    for name, best in (("teacher", 90.0), ("T=2 seed=0", 85.0), ("T=2 seed=1", 86.0), ("T=4 seed=0", 87.0)):
        sweep.run(name, best=best)
    assert table_md(store.uri, plan, "runs") == """\
|  stage  |  loss.kd.T  |  best_val_acc1  |
|:-------:|:-----------:|:---------------:|
| teacher |      -      |      90.00      |
|    -    |      2      |  85.50 ± 0.71   |
|    -    |      4      |   87.00 (1/2)   |
"""


# --- CSV, LaTeX, errors ------------------------------------------------------------------------------------


def test_csv_and_latex_are_parseable(store, planned):
    import csv
    import io

    plan = planned(rs.KD_SCHED_LR, "t002fmt")
    fill_002(store.sweep(plan), plan, [84.5, 82.8, 79.6, 79.9, 86.5, 86.0, 85.7, "FAILED"])
    text = render_report(store.uri, plan, fmt="csv", now=NOW)
    assert text.startswith("# kd_sched_lr\n")
    rows = list(csv.reader(io.StringIO(text.split("\n", 1)[1])))
    assert rows[0] == ["Network", "Dataset", "Top-1 Accuracy", "with KD", "with scheduler", "initial lr"]
    # No Markdown bold in CSV; check marks are true / false for data tools (issue 12.11).
    assert rows[1] == ["MobileNets-M", "Caltech-101", "84.5%", "true", "false", "0.0001"]
    assert rows[8] == ["MobileNets-M", "Caltech-101", "failed", "false", "true", "0.0002"]
    assert len(rows) == 9

    latex = render_report(store.uri, plan, fmt="latex", now=NOW)
    assert latex.startswith("% t002fmt: 8/9 runs finished (1 failed) · 2025-01-02 03:04 UTC\n"
                            "% needs \\usepackage{booktabs} (table rules) and \\usepackage{amssymb} (\\checkmark)\n")
    assert "\\begin{tabular}{cccccc}" in latex and latex.count("\\begin{table}") == 1
    assert "\\caption{Influence of LR scheduler}" in latex
    assert "MobileNets-M & Caltech-101 & \\textbf{84.5\\%} & \\checkmark & $\\times$ & 0.0001 \\\\" in latex
    assert latex.rstrip().endswith("\\end{table}")


def test_latex_escapes_the_pivot_corner_and_mean_std(store, planned):
    plan = planned(rs.STATES, "states_tex")
    sweep = store.sweep(plan)
    sweep.run("alpha=0.5 T=2 seed=0", best=80.0)
    sweep.run("alpha=0.5 T=2 seed=1", best=81.0)
    latex = render_report(store.uri, plan, fmt="latex", now=NOW)
    assert "alpha\\textbackslash{}T & 2 & 4 \\\\" in latex
    assert "0.5 & \\textbf{80.50 $\\pm$ 0.71} & not run \\\\" in latex  # bold: the whole mean ± std


def test_unknown_stage_or_key_in_a_table_is_named(planned):
    """Found when the sweep is planned (so by `plan` and `run`, before anything trains), not by `table`."""
    bad_stage = rs.TRICKS.replace("where: {schedule.warmup_epochs: [1, 3]}", "stages: [teachr]")
    with pytest.raises(UserError, match=r"tables\.warm_only\.stages: unknown stage 'teachr'"):
        planned(bad_stage, "bad_stage")
    typo = rs.TRICKS.replace("where: {schedule.warmup_epochs: [1, 3]}", "where: {schedule.warmup_epoch: 1}")
    with pytest.raises(UserError, match=r"where\.schedule\.warmup_epoch: no run .* did you mean 'schedule\.warmup_"):
        planned(typo, "bad_key")


LOSS_LABELS = "name: {name}\n" + rs.base() + """\
grid:
  loss: [{kd: {T: 4, alpha: 0.9}}, {dist: {beta: 2.0, gamma: 2.0, tau: 4.0}}]
labels:
  loss: [KD, DIST]
tables:
  - name: methods
    kind: list
    columns:
      - {key: loss, label: method}
      - {metric: best_val_acc1}
"""


def test_a_list_column_of_a_sub_config_axis_prints_the_sweeps_labels(store, planned):
    """`{key: loss}` over a grid of loss sub-configs: the sweep's `labels:` (as its run names), not
    `{kd={T=4,alpha=0.9}}` (issue 20)."""
    plan = planned(LOSS_LABELS, "tlosslabels")
    sweep = store.sweep(plan)
    for best, run in zip((71.0, 72.0), [r for r in plan.runs if r.stage is None], strict=True):
        sweep.run(run, best=best)
    text = table_md(store.uri, plan, "methods")
    assert [line.split("|")[1].strip() for line in text.splitlines()[2:]] == ["KD", "DIST"]
