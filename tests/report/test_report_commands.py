"""`kdsweep table` / `kdsweep plot` through the real CLI entry, against a store written like `kdsweep run`."""

from __future__ import annotations

import report_sweeps as rs


def test_table_prints_and_writes_the_report(store, planned, tmp_path, cli):
    plan = planned(rs.SIZES, "cmd_table")
    sweep = store.sweep(plan)
    sweep.run("arch=digits_student", best=78.84)
    sweep.run("arch=digits_teacher", "FAILED")
    out = tmp_path / "out" / "report.md"

    rc, stdout, _ = cli("table", plan.sweep.path, "--tracking-uri", store.uri, "--out", out)

    assert rc == 0
    assert "|  shufflenet_v2_x1_0  |  shufflenet_v2_x2_0  |" in stdout
    assert "|        78.84         |        failed        |" in stdout
    assert stdout.rstrip().endswith(f"wrote {out}")
    text = out.read_text()
    assert text.startswith("# cmd_table\n\n1/2 runs finished (1 failed) · ")
    assert "|        78.84         |        failed        |" in text


def test_table_csv_writes_one_file_per_table(store, planned, tmp_path, cli, monkeypatch):
    plan = planned(rs.TRICKS, "cmd_csv")
    sweep = store.sweep(plan)
    for r in plan.runs:
        sweep.run(r, best=77.0, train_val_gap=8.0)
    monkeypatch.chdir(tmp_path)

    rc, stdout, _ = cli("table", plan.sweep.path, "--tracking-uri", store.uri, "--format", "csv", "--reference")

    assert rc == 0
    assert (tmp_path / "results" / "generated" / "cmd_csv_tricks.csv").read_text().splitlines()[:2] == ["tricks,accuracy",
                                                                                       "steplr,77.00"]
    assert (tmp_path / "results" / "generated" / "cmd_csv_warm_only.csv").is_file()
    assert "wrote results/generated/cmd_csv_tricks.csv, results/generated/cmd_csv_warm_only.csv" in stdout


def test_table_and_plot_say_run_first_when_the_store_has_no_run(store, planned, tmp_path, cli):
    plan = planned(rs.SIZES, "cmd_empty")
    for command in ("table", "plot"):
        rc, stdout, stderr = cli(command, plan.sweep.path, "--tracking-uri", store.uri)
        assert rc == 1 and stdout == ""
        assert stderr.strip() == (f"kdsweep: no run of sweep 'cmd_empty' in {store.uri}; "  # the hint repeats the store
                                  f"run `kdsweep run {plan.sweep.path} --tracking-uri {store.uri}` first")
    # A store that does not exist is not created just to find it empty.
    missing = tmp_path / "nowhere" / "mlflow.db"
    rc, _, stderr = cli("table", plan.sweep.path, "--tracking-uri", f"sqlite:///{missing}")
    assert rc == 1 and "run `kdsweep run" in stderr and not missing.exists()


def test_plot_writes_pngs_and_logs_them(store, planned, tmp_path, cli):
    plan = planned(rs.SIZES, "cmd_plot")
    sweep = store.sweep(plan)
    sweep.run("arch=digits_student", best=78.84, history={"val_acc1": [60.0, 78.84]})
    sweep.run("arch=digits_teacher", best=80.83, history={"val_acc1": [61.0, 80.83]})

    rc, stdout, _ = cli("plot", plan.sweep.path, "--tracking-uri", store.uri, "--out", tmp_path / "png")

    assert rc == 0
    assert stdout.splitlines() == [f"wrote {tmp_path / 'png' / 'cmd_plot_sizes.png'}",
                                   f"wrote {tmp_path / 'png' / 'cmd_plot_curves.png'}",
                                   "logged 2 plots to the sweep's MLflow run (artifacts/plots)"]


def test_table_notes_runs_made_with_other_overrides(store, planned, cli):
    plan = planned(rs.SIZES, "cmd_overrides")
    sweep = store.sweep(plan)
    sweep.run("arch=digits_student", best=78.84)

    rc, stdout, stderr = cli("table", plan.sweep.path, "--tracking-uri", store.uri, "-o", "epochs=5",
                             "--out", plan.sweep.path.with_suffix(".md"))

    assert rc == 0 and "not run" in stdout
    assert stderr.strip() == ("kdsweep: note: the store holds 1 run(s) of sweep 'cmd_overrides' but none with this "
                              "plan's run keys; pass the same -o overrides as `kdsweep run` did")
