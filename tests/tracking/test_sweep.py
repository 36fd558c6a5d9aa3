"""The driver's records: experiment, one parent, children with params/tags/config, idempotent prepare, mark."""

from __future__ import annotations

import json

import pytest
import yaml

from kdsweep.errors import UserError
from kdsweep.spec.dotted import flatten
from kdsweep.tracking import names
from kdsweep.tracking.limits import config_params
from kdsweep.tracking.logger import MlflowRunLogger
from kdsweep.tracking.marking import mark_run
from kdsweep.tracking.sweep import SweepTracker


def _download_text(client, run_id: str, path: str, tmp_path) -> str:
    local = client.download_artifacts(run_id, path, str(tmp_path))
    with open(local) as f:
        return f.read()


def test_experiment_parent_and_children(uri, plan, client, results_dir, tmp_path):
    tracker = SweepTracker(uri, plan, results_dir=results_dir)
    exp = client.get_experiment(tracker.experiment_id)
    assert exp.name == "tiny"
    assert exp.artifact_location.endswith(str(results_dir / "mlartifacts" / "tiny"))

    parent = client.get_run(tracker.parent_run_id)
    assert parent.data.tags[names.TAG_ROLE] == "sweep"
    assert parent.data.tags[names.TAG_SWEEP] == "tiny"
    assert parent.data.params[names.PARAM_SWEEP_FILE] == str((tmp_path / "tiny.yaml").resolve())
    assert parent.data.params[names.PARAM_DESCRIPTION] == "A tiny sweep for the tracking tests."
    assert parent.info.status == "SCHEDULED"
    tracker.set_hardware("cpu: 2 cores")
    assert client.get_run(tracker.parent_run_id).data.tags[names.TAG_HARDWARE] == "cpu: 2 cores"

    prepared = tracker.prepare(plan.runs)
    assert list(prepared) == [r.key for r in plan.runs]
    assert {p.action for p in prepared.values()} == {"new"}

    for run in plan.runs:
        child = client.get_run(prepared[run.key].run_id)
        tags = child.data.tags
        assert child.info.status == "SCHEDULED"
        assert child.info.experiment_id == tracker.experiment_id
        assert child.info.run_name == run.name
        assert tags[names.MLFLOW_PARENT] == tracker.parent_run_id
        assert tags[names.TAG_SWEEP] == "tiny"
        assert tags[names.TAG_ROLE] == "run"
        assert tags[names.TAG_RUN_KEY] == run.key
        assert tags[names.TAG_STAGE] == (run.stage or "")
        assert tags[names.TAG_GROUP] == run.group
        assert tags[names.TAG_DEPENDS_ON] == ",".join(run.depends_on)
        assert tags[names.TAG_STATUS] == "PENDING"
        assert json.loads(tags[names.TAG_POINT]) == run.point
        axis_tags = {k[len(names.TAG_AXIS_PREFIX):]: json.loads(v) for k, v in tags.items()
                     if k.startswith(names.TAG_AXIS_PREFIX)}
        assert axis_tags == run.point
        flat = flatten(run.config)
        assert set(child.data.params) == set(flat)
        for key, value in flat.items():
            param = child.data.params[key]
            assert (param if isinstance(value, str) else json.loads(param)) == value
        assert yaml.safe_load(_download_text(client, child.info.run_id, names.ARTIFACT_CONFIG, tmp_path)) == run.config

    by_name = {r.name: r for r in plan.runs}
    teacher, t2, base = by_name["teacher"], by_name["T=2"], by_name["kd=none"]
    teacher_tags = client.get_run(prepared[teacher.key].run_id).data.tags
    assert teacher_tags[names.TAG_STAGE] == "teacher"
    assert not any(k.startswith(names.TAG_AXIS_PREFIX) for k in teacher_tags)
    assert client.get_run(prepared[t2.key].run_id).data.tags["kdsweep.axis.loss.kd.T"] == "2"
    assert client.get_run(prepared[base.key].run_id).data.tags["kdsweep.axis.loss.kd"] == "null"

    # A later `kdsweep run` of the same sweep finds the same experiment and parent.
    again = SweepTracker(uri, plan, results_dir=results_dir)
    assert (again.experiment_id, again.parent_run_id) == (tracker.experiment_id, tracker.parent_run_id)
    parents = client.search_runs([tracker.experiment_id], "tags.`kdsweep.role` = 'sweep'")
    assert len(parents) == 1


def test_prepare_skips_finished_resumes_interrupted_and_reruns(uri, plan, client, results_dir):
    tracker = SweepTracker(uri, plan, results_dir=results_dir)
    first = tracker.prepare(plan.runs)
    teacher, t2, t4, base = plan.runs
    MlflowRunLogger(uri, first[teacher.key].run_id).set_status("RUNNING")
    MlflowRunLogger(uri, first[teacher.key].run_id).set_status("FINISHED")
    MlflowRunLogger(uri, first[t2.key].run_id).set_status("RUNNING")
    MlflowRunLogger(uri, first[t2.key].run_id).set_status("KILLED", "stopped at epoch 2")
    MlflowRunLogger(uri, first[t4.key].run_id).set_status("RUNNING")  # a worker that died mid-run

    existing = tracker.existing()
    assert existing[teacher.key].status == "FINISHED"
    assert existing[t2.key].kdsweep_status == "KILLED"
    assert existing[t2.key].reason == "stopped at epoch 2"
    assert existing[t4.key].status == "RUNNING"
    assert existing[base.key].kdsweep_status == "PENDING"

    second = SweepTracker(uri, plan, results_dir=results_dir).prepare(plan.runs)
    assert {k: p.action for k, p in second.items()} == {
        teacher.key: "skip", t2.key: "resume", t4.key: "resume", base.key: "resume"}
    assert {k: p.run_id for k, p in second.items()} == {k: p.run_id for k, p in first.items()}
    resumed = client.get_run(first[t2.key].run_id)
    assert resumed.info.status == "SCHEDULED"
    assert resumed.data.tags[names.TAG_STATUS] == "PENDING"
    assert names.TAG_REASON not in resumed.data.tags
    assert client.get_run(first[t4.key].run_id).info.status == "SCHEDULED"

    # --rerun: a fresh child for every key, finished or not; the latest child is what counts.
    third = tracker.prepare(plan.runs, rerun=True)
    assert {p.action for p in third.values()} == {"new"}
    assert not {p.run_id for p in third.values()} & {p.run_id for p in first.values()}
    latest = tracker.existing()
    assert {k: i.run_id for k, i in latest.items()} == {k: p.run_id for k, p in third.items()}
    superseded = client.get_run(first[base.key].run_id)  # was waiting (SCHEDULED): closed, not left dangling
    assert superseded.info.status == "KILLED"
    assert "superseded" in superseded.data.tags[names.TAG_REASON]
    assert client.get_run(first[teacher.key].run_id).info.status == "FINISHED"  # history kept as it was
    children = client.search_runs([tracker.experiment_id], "tags.`kdsweep.role` = 'run'")
    assert len(children) == 8

    # Deleting a child in the UI makes that run train again (a new child), the others stay.
    client.delete_run(third[teacher.key].run_id)
    fourth = tracker.prepare(plan.runs)
    assert fourth[teacher.key].action == "skip"  # the earlier finished child counts again
    assert fourth[teacher.key].run_id == first[teacher.key].run_id


def test_mark(uri, plan, client, results_dir, tmp_path):
    tracker = SweepTracker(uri, plan, results_dir=results_dir)
    ids = {k: p.run_id for k, p in tracker.prepare(plan.runs).items()}
    teacher, t2, t4, base = plan.runs

    tracker.mark(ids[teacher.key], "FAILED", "RuntimeError: CUDA out of memory\nmore", traceback="Traceback ...\nboom")
    run = client.get_run(ids[teacher.key])
    assert (run.info.status, run.data.tags[names.TAG_STATUS]) == ("FAILED", "FAILED")
    assert run.data.tags[names.TAG_REASON] == "RuntimeError: CUDA out of memory more"
    assert run.info.end_time is not None
    assert _download_text(client, ids[teacher.key], names.ARTIFACT_TRACEBACK, tmp_path) == "Traceback ...\nboom"

    tracker.mark(ids[t2.key], "NOT_RUN", "teacher failed")
    run = client.get_run(ids[t2.key])
    assert (run.info.status, run.data.tags[names.TAG_STATUS]) == ("KILLED", "NOT_RUN")
    assert run.data.tags[names.TAG_REASON] == "teacher failed"

    tracker.mark(ids[t4.key], "FINISHED")
    tracker.mark(ids[base.key], "KILLED", "sweep stopped")
    assert client.get_run(ids[t4.key]).info.status == "FINISHED"
    assert client.get_run(ids[base.key]).info.status == "KILLED"
    with pytest.raises(ValueError, match="NOT_RUN"):
        tracker.mark(ids[t4.key], "DONE")

    actions = {k: p.action for k, p in tracker.prepare(plan.runs).items()}
    assert actions == {teacher.key: "resume", t2.key: "resume", t4.key: "skip", base.key: "resume"}

    # The same from a worker, which has only the URI and the run id.
    mark_run(uri, ids[base.key], "FAILED", "job failed in Ray: WorkerCrashedError", traceback="tb")
    run = client.get_run(ids[base.key])
    assert (run.info.status, run.data.tags[names.TAG_STATUS]) == ("FAILED", "FAILED")
    assert run.data.tags[names.TAG_REASON] == "job failed in Ray: WorkerCrashedError"


def test_params_fit_mlflow_limits(uri, plan, client, results_dir):
    run = plan.runs[0]
    run.config["student"]["kwargs"] = {"note": "x" * 7000, "weird key!": [1, 2], "nested": {}}
    params = config_params(run.config)
    assert len(params["student.kwargs.note"]) == 6000 and params["student.kwargs.note"].endswith("[truncated]")
    assert params["student.kwargs.weird key_"] == "[1, 2]"
    assert params["student.kwargs.nested"] == "{}"
    big = {f"extra.p{i}": i for i in range(250)}  # more params than one log_batch takes
    run.config["extra"] = {f"p{i}": i for i in range(250)}
    tracker = SweepTracker(uri, plan, results_dir=results_dir)
    run_id = tracker.prepare([run])[run.key].run_id
    logged = client.get_run(run_id).data.params
    assert {k: logged[k] for k in big} == {k: str(v) for k, v in big.items()}
    assert logged["student.kwargs.note"] == params["student.kwargs.note"]


def test_deleted_experiment_is_a_user_error(uri, plan, client, results_dir):
    tracker = SweepTracker(uri, plan, results_dir=results_dir)
    client.delete_experiment(tracker.experiment_id)
    with pytest.raises(UserError) as exc:
        SweepTracker(uri, plan, results_dir=results_dir)
    message = str(exc.value)
    assert "\n" not in message and "is deleted" in message
    assert f"mlflow experiments restore --experiment-id {tracker.experiment_id}" in message


def test_an_unfinished_run_without_its_checkpoint_starts_over_in_a_new_child(uri, plan, client, results_dir):
    """Resuming a child that logged epochs but whose last.pt is gone would log epoch 1 again into
    it (7 points for 4 epochs); it gets a new child instead. A child that logged nothing resumes."""
    tracker = SweepTracker(uri, plan, results_dir=results_dir)
    first = tracker.prepare(plan.runs)
    teacher, t2, t4, _ = plan.runs
    for run in (teacher, t2):
        logger = MlflowRunLogger(uri, first[run.key].run_id)
        logger.set_status("RUNNING")
        logger.log_metrics({"val_acc1": 10.0}, step=1)
    MlflowRunLogger(uri, first[t4.key].run_id).set_status("RUNNING")  # died before its first epoch
    has_checkpoint = {teacher.key: True, t2.key: False, t4.key: False}
    second = tracker.prepare(plan.runs, resumable=lambda key: has_checkpoint.get(key, False))
    assert (second[teacher.key].action, second[teacher.key].run_id) == ("resume", first[teacher.key].run_id)
    assert second[t4.key].action == "resume"
    assert second[t2.key].action == "new" and second[t2.key].run_id != first[t2.key].run_id
    old = client.get_run(first[t2.key].run_id)
    assert old.info.status == "KILLED" and "its resume checkpoint is gone" in old.data.tags[names.TAG_REASON]
