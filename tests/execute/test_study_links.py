"""A search's Optuna study names its objective and links each trial to its MLflow runs (issue 24), so
optuna-dashboard and `study.trials_dataframe()` show `best_val_acc1` and the run ids. A real study:
a tiny digits search trained inline (no Ray), two trials of one epoch over two seeds."""

from __future__ import annotations

from execute_helpers import children, store_uri, write_sweep

from kdsweep.execute.runner import RunOptions, run_sweep
from kdsweep.plan import plan_sweep

SEARCH = """\
base:
  epochs: 1
  data: {name: digits, batch_size: 32, workers: 0, limit: 64, val_limit: 32}
  student: {arch: digits_student}
  optim: {name: sgd, lr: 0.05}
search:
  space:
    optim.lr: {float: [0.01, 0.1], log: true}
  trials: 2
  seeds: [0, 1]
  sampler: random
  sampler_seed: 0
  pruner: none
"""


def test_the_study_names_its_metric_and_each_trial_its_mlflow_runs(workdir):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = write_sweep(workdir, "linked", SEARCH)
    uri = store_uri(workdir)
    outcome = run_sweep(plan_sweep(path), RunOptions(tracking_uri=uri, inline=True, system_metrics=False, threads=1))
    assert outcome.exit_code == 0, outcome.reasons

    journal = workdir / "results" / "optuna" / "linked.journal"
    study = optuna.load_study(study_name="linked", storage=JournalStorage(JournalFileBackend(str(journal))))
    assert study.metric_names == ["best_val_acc1"]
    frame = study.trials_dataframe()
    assert {"value_best_val_acc1", "user_attrs_mlflow_run_id", "user_attrs_mlflow_run_ids"} <= set(frame.columns)

    runs = {(int(r.data.tags["kdsweep.trial"]), int(r.data.params["seed"])): r for r in children(uri, "linked")}
    assert sorted(runs) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for trial in study.trials:
        ids = [runs[(trial.number, seed)].info.run_id for seed in (0, 1)]
        assert trial.user_attrs["mlflow_run_ids"] == ids  # in seed order
        assert trial.user_attrs["mlflow_run_id"] == ids[0]
        mean = sum(runs[(trial.number, s)].data.metrics["best_val_acc1"] for s in (0, 1)) / 2
        assert trial.value == mean
