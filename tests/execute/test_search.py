"""Search sweeps end to end on digits: Optuna asks, Ray trains, the pruner stops, MLflow records.

One Ray cluster and one MLflow store serve the whole module; every sweep trains a tiny
teacher stage (2 epochs) and students for 3 epochs on 256 images.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from execute_helpers import children, history

from kdsweep.cli import main
from kdsweep.execute.runner import RunOptions, run_sweep
from kdsweep.plan import plan_sweep

pytestmark = pytest.mark.slow

TINY = """
base:
  seed: 0
  epochs: 3
  data: {{name: digits, batch_size: 32, workers: 0, limit: 256, val_limit: 60}}
  student: {{arch: digits_student}}
  optim: {{name: sgd, lr: 0.05, momentum: 0.9}}
  teacher: {{run: teacher}}
  loss: {{kd: {{T: 4, alpha: 0.9}}}}
stages:
  teacher: {{student: {{arch: digits_teacher}}, epochs: 2}}
search:
{search}
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A working directory (results/ lands there) and its MLflow store, shared by the module."""
    directory = tmp_path_factory.mktemp("search")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(directory)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv("RAY_ADDRESS", raising=False)
        yield directory, f"sqlite:///{directory / 'results' / 'mlflow.db'}"


def write(directory: Path, name: str, search: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(f"name: {name}\n" + TINY.format(search=textwrap.indent(textwrap.dedent(search), "  ")))
    return path


def run(path: Path, uri: str, **options):
    opts = RunOptions(tracking_uri=uri, system_metrics=False, **options)
    return run_sweep(plan_sweep(path), opts)


def study(directory: Path, name: str):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = directory / "results" / "optuna" / f"{name}.journal"
    return optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(str(path))))


def trial_runs(uri: str, name: str) -> dict[int, object]:
    return {int(r.data.tags["kdsweep.trial"]): r for r in children(uri, name) if "kdsweep.trial" in r.data.tags}


def test_budget_with_several_in_flight_one_child_per_trial_and_the_table(store, ray_local, capsys):
    directory, uri = store
    path = write(directory, "budget", """
        space:
          loss.kd.T: {float: [1, 8], log: true}
          loss.kd.alpha: {float: [0.5, 0.9]}
        trials: 5
        parallel: 2
        sampler: random
        sampler_seed: 3
        pruner: none
    """)
    outcome = run(path, uri, cpu_workers=2)
    assert outcome.exit_code == 0, outcome.reasons
    trials = study(directory, "budget").trials
    assert [t.number for t in trials] == [0, 1, 2, 3, 4]
    assert {t.state.name for t in trials} == {"COMPLETE"}
    assert trials[1].datetime_start < trials[0].datetime_complete  # asked together: two in flight
    runs = trial_runs(uri, "budget")
    assert sorted(runs) == [0, 1, 2, 3, 4]  # one child run per trial, beside the teacher stage
    assert len(children(uri, "budget")) == 6
    for number, child in runs.items():
        assert child.info.status == "FINISHED"
        assert child.data.tags["kdsweep.trial_state"] == "COMPLETE"
        assert child.data.tags["kdsweep.run_key"] and child.info.run_name == f"trial {number}"
        assert float(child.data.params["loss.kd.T"]) == pytest.approx(trials[number].params["loss.kd.T"])
        assert child.data.metrics["best_val_acc1"] == pytest.approx(trials[number].value)

    # the same command again trains nothing: the budget is spent
    again = run(path, uri, cpu_workers=2)
    assert again.exit_code == 0 and len(study(directory, "budget").trials) == 5

    capsys.readouterr()
    assert main(["table", str(path), "--tracking-uri", uri]) == 0
    out = capsys.readouterr().out
    assert "5 of 5 trials (5 complete); 15 epochs trained in all" in out
    rows = [line for line in out.splitlines() if line.startswith("|") and line.split("|")[1].strip().isdigit()]
    values = [float(line.split("|")[5]) for line in rows]
    assert len(rows) == 5 and values == sorted(values, reverse=True)
    best = max(trials, key=lambda t: t.value)
    assert rows[0].split("|")[2].strip() == str(best.number)
    assert (directory / "results" / "generated" / "budget.md").is_file()
    assert main(["plot", str(path), "--tracking-uri", uri]) == 0
    assert (directory / "results" / "generated" / "budget_search_history.png").is_file()
    assert (directory / "results" / "generated" / "budget_search_slice.png").is_file()


def test_pruner_stops_the_bad_region_inside_a_fused_group_and_the_others_go_on(store, ray_local):
    """lr 1e-6 does not learn: once trials with lr 0.05 completed, the median pruner stops the 1e-6
    trials after epoch 2. Three trials asked together share one job (one slot, one teacher)."""
    directory, uri = store
    path = write(directory, "pruned", """
        space:
          optim.lr: {choice: [0.05, 0.000001]}
        trials: 6
        parallel: 3
        sampler: random
        sampler_seed: 10    # lr: 0.05, 1e-6, 0.05 | 1e-6, 0.05, 1e-6
        pruner: {median: {startup_trials: 1, warmup_epochs: 1}}
    """)
    outcome = run(path, uri, cpu_workers=1)
    assert outcome.exit_code == 0, outcome.reasons
    trials = study(directory, "pruned").trials
    assert [t.params["optim.lr"] for t in trials] == [0.05, 1e-6, 0.05, 1e-6, 0.05, 1e-6]
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3 + ["PRUNED", "COMPLETE", "PRUNED"]
    runs = trial_runs(uri, "pruned")
    groups = [runs[n].data.tags["kdsweep.group"] for n in range(6)]
    pids = [runs[n].data.tags["kdsweep.pid"] for n in range(6)]
    assert len(set(groups[:3])) == 1 and len(set(groups[3:])) == 1 and groups[0] != groups[3]
    assert len(set(pids[:3])) == 1 and len(set(pids[3:])) == 1  # each group trained in one process
    for n in (3, 5):  # pruned: ended after epoch 2, KILLED in MLflow, no summary "best"
        child = runs[n]
        assert child.data.tags["kdsweep.status"] == "PRUNED" and child.info.status == "KILLED"
        assert child.data.tags["kdsweep.trial_state"] == "PRUNED"
        assert "pruned by the median pruner after epoch 2" in child.data.tags["kdsweep.reason"]
        assert [s for s, _ in history(uri, child.info.run_id, "val_acc1")] == [1, 2]
        assert "best_val_acc1" not in child.data.metrics
        assert child.info.end_time < runs[4].info.end_time  # left the group; the group went on
    survivor = runs[4]
    assert survivor.data.tags["kdsweep.status"] == "FINISHED"
    assert [s for s, _ in history(uri, survivor.info.run_id, "val_acc1")] == [1, 2, 3]


def test_stopped_search_resumes_to_exactly_its_budget(store):
    """Inline (no Ray): the third trial is stopped during its second epoch as by Ctrl-C; the next
    run resumes that trial in its MLflow run from its last epoch and asks only what the budget left."""
    from kdsweep.engine import train_group

    directory, uri = store
    path = write(directory, "resumed", """
        space:
          loss.kd.T: {float: [1, 8], log: true}
        trials: 4
        sampler: random
        sampler_seed: 0
        pruner: none
    """)
    calls = []

    def interrupt_third_trial(configs, **kwargs):
        calls.append(1)
        if len(calls) < 4:  # the teacher stage, trials 0 and 1
            return train_group(configs, **kwargs)
        steps = iter(range(10**6))
        train_group(configs, should_stop=lambda: next(steps) >= 12, **kwargs)  # 8 steps an epoch
        raise KeyboardInterrupt

    first = run(path, uri, inline=True, train_fn=interrupt_third_trial)
    assert first.exit_code == 130
    trials = study(directory, "resumed").trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "RUNNING"]
    stopped = trial_runs(uri, "resumed")[2]
    assert stopped.data.tags["kdsweep.status"] == "KILLED"
    assert [s for s, _ in history(uri, stopped.info.run_id, "val_acc1")] == [1]

    second = run(path, uri, inline=True)
    assert second.exit_code == 0, second.reasons
    trials = study(directory, "resumed").trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4
    runs = trial_runs(uri, "resumed")
    assert sorted(runs) == [0, 1, 2, 3]
    assert runs[2].info.run_id == stopped.info.run_id  # the same MLflow run, continued
    assert [s for s, _ in history(uri, runs[2].info.run_id, "val_acc1")] == [1, 2, 3]
    assert run(path, uri, inline=True).exit_code == 0
    assert len(study(directory, "resumed").trials) == 4
