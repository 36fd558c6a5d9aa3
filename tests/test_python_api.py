"""kdsweep from Python (issue 24): the README's "From Python" example runs as written, on a one-epoch
copy of sweeps/quickstart.yaml trained by a real Ray node into a real MLflow store; its DataFrames
hold what MLflow holds, its table is the one `kdsweep table` prints, and `import kdsweep` stays cheap."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

import kdsweep
from kdsweep.cli import main
from kdsweep.errors import UserError

# The README example: one Ray node and one small training (~30 s on 2 cores), shared by the tests marked slow.
REPO = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    """The first ```python block under "## From Python" in README.md."""
    text = (REPO / "README.md").read_text()
    section = text.split("\n## From Python\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def tiny_quickstart() -> str:
    """The quickstart sweep, one epoch per run on a few images: the same plan shape, seconds to train."""
    text = (REPO / "sweeps" / "quickstart.yaml").read_text()
    for old, new in (("epochs: 20", "epochs: 1"), ("epochs: 15", "epochs: 1"), ("limit: 300}", "limit: 64, val_limit: 64}"),
                     ("data: {limit: null}", "data: {limit: 128}")):
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The README example executed in a fresh directory; yields (its variables, the store's URI)."""
    import ray

    directory = tmp_path_factory.mktemp("api")
    (directory / "sweeps").mkdir()
    (directory / "sweeps" / "quickstart.yaml").write_text(tiny_quickstart())
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(directory)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv("RAY_ADDRESS", raising=False)
        ray.shutdown()
        ray.init(address="local", num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False,
                 logging_level="warning")
        try:
            variables: dict = {}
            exec(compile(readme_example(), "README.md", "exec"), variables)  # noqa: S102 - the README's own code
            yield variables, f"sqlite:///{directory / 'results' / 'mlflow.db'}"
        finally:
            ray.shutdown()


@pytest.mark.slow
def test_the_example_trained_every_run_and_its_frame_holds_what_mlflow_holds(example):
    from mlflow import MlflowClient

    variables, uri = example
    plan, runs = variables["plan"], variables["runs"]
    assert list(runs["key"]) == [r.key for r in plan.runs]  # one row per planned run, in plan order
    assert list(runs.columns[:8]) == ["key", "name", "stage", "group", "loss.kd.alpha", "loss.kd.T", "loss.kd", "seed"]
    assert set(runs["status"]) == {"finished"}
    assert str(runs["start_time"].dtype).startswith("datetime64") and runs["start_time"].notna().all()
    client = MlflowClient(uri)
    for row in runs.to_dict("records"):
        stored = client.get_run(row["run_id"])
        assert stored.data.tags["kdsweep.run_key"] == row["key"]
        assert row["best_val_acc1"] == stored.data.metrics["best_val_acc1"]
    baseline = runs[runs["name"] == "kd=none"].iloc[0]
    assert baseline["loss.kd"] is None and math.isnan(baseline["loss.kd.T"])  # the point's own "without KD"
    grid = runs.dropna(subset=["loss.kd.T"])
    assert sorted(set(zip(grid["loss.kd.alpha"], grid["loss.kd.T"], strict=True))) == \
        [(a, t) for a in (0.5, 0.9) for t in (2, 4, 8)]


@pytest.mark.slow
def test_history_in_long_form_is_the_run_history_mlflow_keeps(example):
    from mlflow import MlflowClient

    variables, uri = example
    curves = variables["curves"]
    assert list(curves.columns[-3:]) == ["metric", "epoch", "value"]
    assert set(curves["metric"]) == {"val_acc1"} and set(curves["epoch"]) == {1}
    assert len(curves) == len(variables["plan"].runs)
    client = MlflowClient(uri)
    for row in curves.to_dict("records"):
        assert [m.value for m in client.get_metric_history(row["run_id"], "curves/val_acc1")] == [row["value"]]
    every = kdsweep.runs(variables["plan"], history=True)  # every per-epoch metric, loss terms included
    assert {"val_acc1", "train_loss", "lr", "train_loss_kd"} <= set(every["metric"])
    assert "best_val_acc1" not in set(every["metric"]) and not any(m.startswith("system/") for m in every["metric"])


@pytest.mark.slow
def test_the_table_is_the_one_kdsweep_table_writes(example, capsys):
    variables, _ = example
    table = variables["table"]
    assert table.name == "T_alpha" and table.numbers.shape == (2, 3)
    assert list(table.frame.columns) == ["alpha\\T", "2", "4", "8"]
    assert main(["table", "sweeps/quickstart.yaml"]) == 0
    capsys.readouterr()
    written = Path("results/generated/quickstart.md").read_text()
    assert table.markdown in written
    both = kdsweep.tables("sweeps/quickstart.yaml")
    assert list(both) == ["T_alpha", "kd_vs_baseline"] and both["kd_vs_baseline"].markdown in written
    assert table._repr_markdown_() == table.markdown  # what a notebook shows


@pytest.mark.slow
def test_another_plan_or_a_wrong_name_says_so(example):
    variables, _ = example
    other = kdsweep.runs("sweeps/quickstart.yaml", overrides={"optim.lr": 0.01})  # other run keys: nothing ran
    assert set(other["status"]) == {"not run"} and other["best_val_acc1"].isna().all()
    with pytest.raises(UserError, match=r"table 'T_alpah': the sweep has no such table; did you mean 'T_alpha'\?"):
        kdsweep.table(variables["plan"], "T_alpah")
    with pytest.raises(UserError, match="planned already"):
        kdsweep.runs(variables["plan"], overrides=["epochs=2"])
    with pytest.raises(UserError, match="has no search: block"):
        kdsweep.trials(variables["plan"])


def test_import_kdsweep_loads_no_mlflow_pandas_ray_or_torch():
    """Names load on first use: importing the package, and planning through it, stay as cheap as the CLI."""
    probe = ("import sys, kdsweep\n"
             "plan = kdsweep.load_sweep('sweeps/quickstart.yaml')\n"
             "assert callable(kdsweep.runs) and 'runs' in dir(kdsweep)\n"
             "print(' '.join(sys.modules))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    heavy = {m for m in proc.stdout.split() if m.split(".")[0] in ("mlflow", "pandas", "ray", "torch")}
    assert not heavy


def test_a_plans_warnings_are_python_warnings(write_yaml):
    path = write_yaml("""\
        name: w
        base: {student: {arch: digits_student}, teacher: {run: big}}
        stages:
          big: {student: {arch: digits_teacher}}
        """)
    with pytest.warns(UserWarning, match="no loss term of any run uses the teacher"):
        plan = kdsweep.load_sweep(path, {"epochs": 2})
    assert [r.config["epochs"] for r in plan.runs] == [2, 2]
