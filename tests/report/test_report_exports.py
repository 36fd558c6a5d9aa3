"""Exports as data tools and LaTeX users expect them (issue 12.11): CSV, --out, LaTeX packages,
the --reference note, per-seed headings, and the write-up's table before anything ran."""

from __future__ import annotations

import csv
import io

import pytest
import report_sweeps as rs

QUICK = """\
name: {name}
base:
  epochs: 1
  data: {name: digits, workers: 0}
  student: {arch: digits_student}
  teacher: {run: teacher}
  loss: {kd: {T: 4, alpha: 0.9}}
stages:
  teacher: {student: {arch: digits_teacher}}
grid:
  loss.kd.T: [2, 4]
points:
  - {loss.kd: null}
tables:
  - name: kd
    columns:
      - {key: loss.kd, as: check, label: with KD}
      - {key: loss.kd.T, label: T}
      - {metric: best_val_acc1, label: top-1}
  - {name: grid, kind: pivot, rows: loss.kd.alpha, cols: loss.kd.T}
"""


def _filled(store, planned, name):
    plan = planned(QUICK, name)
    sweep = store.sweep(plan)
    for run in plan.runs:
        sweep.run(run, best=90.0 + len(run.name) / 10)
    return plan


def test_csv_has_true_false_and_empty_cells_and_out_is_the_file_named(store, planned, tmp_path, cli):
    plan = _filled(store, planned, "csv_cells")
    out = tmp_path / "q.csv"
    rc, stdout, _ = cli("table", plan.sweep.path, "--tracking-uri", store.uri, "--format", "csv", "--out", out,
                        "--table", "kd")
    assert rc == 0 and stdout.rstrip().endswith(f"wrote {out}")
    assert list(csv.reader(io.StringIO(out.read_text()))) == [
        ["with KD", "T", "top-1"], ["true", "2", "90.30"], ["true", "4", "90.30"], ["false", "", "90.70"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["csv_cells.yaml", "q.csv"]


def test_out_file_with_several_csv_tables_asks_for_one(store, planned, tmp_path, cli):
    plan = _filled(store, planned, "csv_many")
    rc, _, stderr = cli("table", plan.sweep.path, "--tracking-uri", store.uri, "--format", "csv",
                        "--out", tmp_path / "q.csv")
    assert rc == 2 and not (tmp_path / "q.csv").exists()
    assert stderr == (f"kdsweep: error: --out {tmp_path / 'q.csv'}: a CSV file holds one table and the sweep has 2 "
                      "(kd, grid); pick one with --table NAME, or give a directory\n")
    rc, _, stderr = cli("table", plan.sweep.path, "--tracking-uri", store.uri, "--table", "kdd")
    assert rc == 2 and "--table kdd: the sweep has no such table; did you mean 'kd'?" in stderr


def test_latex_names_its_packages(store, planned, cli, tmp_path):
    plan = _filled(store, planned, "tex_packages")
    rc, stdout, _ = cli("table", plan.sweep.path, "--tracking-uri", store.uri, "--format", "latex",
                        "--out", tmp_path / "t.tex")
    assert rc == 0
    assert stdout.splitlines()[1] == ("% needs \\usepackage{booktabs} (table rules) and "
                                      "\\usepackage{amssymb} (\\checkmark)")
    assert "\\toprule" in stdout and "\\checkmark" in stdout


def test_reference_note_only_when_the_sweep_has_reference_numbers(store, planned, cli, tmp_path):
    plan = _filled(store, planned, "no_refs")
    rc, stdout, stderr = cli("table", plan.sweep.path, "--tracking-uri", store.uri, "--reference",
                             "--out", tmp_path / "r.md")
    assert rc == 0 and "write-up's own" not in stdout
    assert "no table of sweep 'no_refs' declares `reference:` numbers; --reference adds nothing" in stderr


@pytest.mark.parametrize(("label", "headers"), [
    ("label: accuracy", ["accuracy (seed 0)", "accuracy (seed 1)", "accuracy (seed 2)"]),
    ("label: [a, b, c]", ["a", "b", "c"]),
])
def test_per_seed_columns_say_their_seed(store, planned, label, headers):
    from kdsweep.report.tables import build_report

    plan = planned(rs.FA.replace("agg: per_seed, label: accuracy}", f"agg: per_seed, {label}}}"),
                   "seed_heads" + str(len(label)))
    store.sweep(plan)
    table = build_report(store.uri, plan).tables[0]
    assert [c.header for c in table.columns[1:4]] == headers


def test_the_write_ups_table_shows_before_anything_ran(planned, tmp_path, kdsweep):
    """No store at all yet: --reference still prints the write-up's numbers, every cell of ours `not run`."""
    plan = planned(rs.T_ALPHA, "ref_alone")
    store = tmp_path / "nothing.db"
    proc = kdsweep("table", plan.sweep.path, "--tracking-uri", f"sqlite:///{store}", "--reference",
                   "--out", tmp_path / "ref.md", timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "no run of sweep 'ref_alone'" in proc.stderr and "showing the write-up's numbers" in proc.stderr
    assert "not run (ref 81.28)" in proc.stdout and "not run (ref 80.88)" in proc.stdout
    assert not store.exists()
    proc = kdsweep("table", plan.sweep.path, "--tracking-uri", f"sqlite:///{store}", timeout=300)
    assert proc.returncode == 1 and "run `kdsweep run" in proc.stderr  # without --reference: nothing to show
