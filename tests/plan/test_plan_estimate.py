"""The sums of `kdsweep plan --estimate`: per-job cost, measuring each group shape once, and
the wall time of jobs replayed on the slots with their stage dependencies (no torch here)."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from kdsweep.plan import plan_sweep
from kdsweep.plan.estimate import (
    JOB_OVERHEAD_S,
    JobCost,
    estimate_plan,
    render_estimate,
    replay,
    speed_signature,
)

QUICKSTART = Path(__file__).resolve().parents[2] / "sweeps" / "quickstart.yaml"


@dataclass
class Cost:
    epoch_s: float
    setup_s: float


def job(group, seconds, deps=()):
    return JobCost(group, "x", 1, 1, seconds - JOB_OVERHEAD_S, 0.0, list(deps))


def test_job_seconds_add_setup_epochs_and_logging_per_run():
    j = JobCost("g02", "6 runs", 6, 20, epoch_s=1.5, setup_s=3.0, depends_on=[], run_epoch_log_s=0.05)
    assert j.seconds == pytest.approx(3.0 + JOB_OVERHEAD_S + 20 * (1.5 + 6 * 0.05))


def test_replay_waits_for_stages_and_free_slots():
    jobs = [job("t", 10), job("a", 4, ["t"]), job("b", 4, ["t"]), job("c", 3), job("d", 5, ["a"])]
    # two slots: t [0,10] and c [0,3]; a and b wait for t: [10,14]; d after a: [14,19]
    assert replay(jobs, 2) == pytest.approx(19)
    assert replay(jobs, 1) == pytest.approx(26)  # one slot: the sum
    assert replay(jobs, 8) == pytest.approx(19)  # the chain t -> a -> d bounds it


def test_each_group_shape_is_measured_once():
    plan = plan_sweep(QUICKSTART)  # teacher stage, 6 KD students in one group, one baseline
    seen = []

    def measure(configs):
        seen.append(len(configs))
        return Cost(epoch_s=0.5 * len(configs), setup_s=1.0)

    est = estimate_plan(plan, measure, slots=2, slot_share=1.0, slot_kind="CPU slot", run_epoch_log_s=0.01)
    assert sorted(seen) == [1, 1, 6] and len(est.jobs) == 3
    teacher = est.jobs[0]
    assert teacher.label == "stage teacher" and teacher.epochs == 15 and teacher.depends_on == []
    students = next(j for j in est.jobs if j.runs == 6)
    assert students.depends_on == [teacher.group] and students.epoch_s == 3.0
    assert est.busy_s == pytest.approx(sum(j.seconds for j in est.jobs))
    assert est.wall_s >= teacher.seconds + students.seconds - 1e-9
    text = render_estimate(est, "quickstart", "a test machine")
    assert "CPU slot-hours" in text and "stage teacher" in text and "wall" in text


def test_seeds_and_loss_values_do_not_change_the_speed_signature():
    base = {"seed": 0, "epochs": 2, "data": {"batch_size": 64}, "student": {"arch": "digits_student"},
            "loss": {"kd": {"T": 4}}, "optim": {"name": "sgd", "lr": 0.1}, "teacher": {"arch": "digits_teacher", "key": "k1"}}
    other = {**base, "seed": 3, "loss": {"kd": {"T": 8}}, "optim": {"name": "sgd", "lr": 0.5},
             "teacher": {"arch": "digits_teacher", "key": "k2", "checkpoint": "x.pt"}}
    assert speed_signature([base]) == speed_signature([other])
    assert speed_signature([base]) != speed_signature([{**base, "data": {"batch_size": 128}}])
    assert speed_signature([base]) != speed_signature([base, base])
