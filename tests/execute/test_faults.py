"""Reliability under faults (issue 13): drivers racing on a new store, a stopped driver taken
over, a worker killed between writing an epoch's checkpoint and logging it, a store that goes
away mid-run. After each, every run ends with exactly one point per epoch per metric.

The drivers here are `kdsweep run --inline` processes (no Ray cluster: the faults are about the
driver, its store and its job's writes, which are the same code with Ray). Each test counts its
drivers, faults, lost runs and duplicate points into FIGURES, printed at the end of the module
(`pytest tests/execute/test_faults.py -m slow -s` shows the probe's figures).
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from execute_helpers import children, store_uri, write_sweep
from rich.console import Console

pytestmark = pytest.mark.slow

BODY = """
base:
  epochs: {epochs}
  data: {{name: digits, batch_size: 32, workers: 0, limit: {limit}, val_limit: 64}}
  student: {{arch: digits_student}}
  train: {{threads: 1}}
"""
EPOCH_METRICS = ("train_loss", "train_acc1", "val_loss", "val_acc1", "lr")
FIGURES: Counter = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_figures():
    yield
    print(f"\nfault probe: drivers raced {FIGURES['drivers_raced']}, faults injected {FIGURES['faults']}, "
          f"runs lost {FIGURES['runs_lost']}, duplicate points {FIGURES['duplicates']}")


def kdsweep(*args: str) -> list[str]:
    return [sys.executable, "-m", "kdsweep.cli", *args]


def driver_args(sweep: Path, uri: str, *extra: str) -> list[str]:
    return kdsweep("run", str(sweep), "--tracking-uri", uri, "--inline", "--no-system-metrics", *extra)


def driver(sweep: Path, uri: str, *extra: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(driver_args(sweep, uri, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **(env or {})})


def points(uri: str, run_id: str) -> dict[str, list[int]]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    from kdsweep.metric_names import stored_names

    client_points = client.get_metric_history
    return {m: sorted(p.step for k in stored_names(m) for p in client_points(run_id, k)) for m in EPOCH_METRICS}


def check_exactly_once(uri: str, run_id: str, epochs: int) -> None:
    """Every epoch metric holds steps 1..epochs, each once; counts what is missing or doubled."""
    for metric, steps in points(uri, run_id).items():
        FIGURES["duplicates"] += len(steps) - len(set(steps))
        FIGURES["runs_lost"] += int(set(steps) != set(range(1, epochs + 1)))
        assert steps == list(range(1, epochs + 1)), (metric, steps)


def logged_epochs(db: Path) -> int:
    """val_acc1 points in the store, read without MLflow (0 while the store does not exist yet)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("SELECT count(*) FROM metrics WHERE key IN ('curves/val_acc1', 'val_acc1')").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """One migrated empty store for the module (a migration costs seconds); tests copy it."""
    from kdsweep.tracking.store import check_store

    db = tmp_path_factory.mktemp("template") / "mlflow.db"
    check_store(f"sqlite:///{db}")
    return db


def fresh_store(workdir: Path, migrated: Path) -> str:
    (workdir / "results").mkdir(exist_ok=True)
    shutil.copy(migrated, workdir / "results" / "mlflow.db")
    return store_uri(workdir)


def run_inline(sweep: Path, uri: str, **options):
    """`kdsweep run --inline` in this process (no interpreter start-up): (outcome, console text)."""
    from kdsweep.execute.runner import RunOptions, run_sweep
    from kdsweep.plan import plan_sweep

    text = io.StringIO()
    outcome = run_sweep(plan_sweep(sweep), RunOptions(tracking_uri=uri, inline=True, system_metrics=False,
                                                      console=Console(file=text, soft_wrap=True), **options))
    return outcome, text.getvalue()


def wait_for(condition, timeout_s: float = 120, what: str = "") -> None:
    deadline = time.time() + timeout_s
    while not condition():
        if time.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


# 1. Drivers racing on a new store -------------------------------------------------------------------


def test_three_drivers_racing_on_a_new_store(workdir):
    """Three `kdsweep run` of one sweep started at once on a store that does not exist yet: one
    creates and migrates it (the others wait on mlflow.db.lock), exactly one trains, the others
    exit 2 with one line (or, arriving after it finished, find nothing to train), and the store is
    whole (no `_alembic_tmp_*` tables). Before the file lock, a loser failed with "cannot open the
    tracking store ..." from the concurrent migration."""
    sweep = write_sweep(workdir, "race", BODY.format(epochs=3, limit=960))
    uri = store_uri(workdir)
    procs = [driver(sweep, uri) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    FIGURES["drivers_raced"] += len(procs)
    trained = [p for p, (out, err) in zip(procs, outs, strict=True) if "1 run(s) to train" in out + err]
    assert len(trained) == 1 and trained[0].returncode == 0, [o[1][-2000:] for o in outs]
    for proc, (out, err) in zip(procs, outs, strict=True):
        assert "Traceback" not in err, err[-3000:]
        if proc is trained[0]:
            continue
        # Refused while the winner trains; on a loaded machine a late one finds the run finished.
        if proc.returncode == 2:
            assert err.startswith("kdsweep: error: sweep race is already running in process"), err
            assert err.count("\n") == 1, err
        else:
            assert proc.returncode == 0 and "nothing to train" in out + err, err[-2000:]
    db = workdir / "results" / "mlflow.db"
    with sqlite3.connect(db) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert not [t for t in tables if t.startswith("_alembic_tmp")]
    (run,) = children(uri, "race")
    assert run.info.status == "FINISHED"
    check_exactly_once(uri, run.info.run_id, 3)


def test_a_half_migrated_store_is_named_in_one_line_with_the_fix(workdir, cli):
    db = workdir / "results" / "mlflow.db"
    db.parent.mkdir()
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE _alembic_tmp_runs (x)")
    rc, _, err = cli("status", write_sweep(workdir, "half", BODY.format(epochs=1, limit=64)),
                     "--tracking-uri", store_uri(workdir))
    assert rc == 2 and err.count("\n") == 1
    assert "half-migrated" in err and "_alembic_tmp_runs" in err and "DROP TABLE _alembic_tmp_runs" in err
    assert "mlflow db upgrade" in err


# 2. A stopped driver is fenced by the one that takes over ------------------------------------------


def stop_between_writes(proc: subprocess.Popen, uri: str) -> None:
    """SIGSTOP `proc` at a moment it holds no lock on the SQLite store. Stopped inside a write, it
    would block every writer, --force included (tests/tracking/test_lock.py checks that case's
    one-line error); this test is about fencing, so it stops the driver between writes."""
    from kdsweep.tracking.sqlite_locks import is_stopped, stopped_holders

    db = Path(uri.removeprefix("sqlite:///"))
    for _ in range(100):
        os.kill(proc.pid, signal.SIGSTOP)
        wait_for(lambda: is_stopped(proc.pid), timeout_s=10, what="the driver to stop")
        if proc.pid not in stopped_holders(db):
            return
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.05)
    pytest.fail("the driver held a lock on the store at every try")


def test_a_stopped_driver_is_fenced_by_the_one_that_takes_over(workdir, migrated):
    """Driver A is stopped (SIGSTOP) mid-run. B is refused while A lives, then takes over with
    --force and finishes the run. When A continues, its job finds the sweep taken over and stops
    without writing: the run holds one point per epoch, and A says why in one line."""
    from kdsweep.errors import UserError

    sweep = write_sweep(workdir, "stopped", BODY.format(epochs=4, limit=640))
    uri = fresh_store(workdir, migrated)
    a = driver(sweep, uri)
    try:
        wait_for(lambda: logged_epochs(workdir / "results" / "mlflow.db") >= 1 or a.poll() is not None,
                 what="A's first epoch")
        stop_between_writes(a, uri)
        FIGURES["faults"] += 1
        with pytest.raises(UserError) as refused:
            run_inline(sweep, uri)
        assert f"process {a.pid}" in str(refused.value) and "--force" in str(refused.value)
        outcome, text = run_inline(sweep, uri, force=True)
        assert outcome.exit_code == 0, text
    finally:
        os.kill(a.pid, signal.SIGCONT)
    out, err = a.communicate(timeout=300)
    assert a.returncode == 1, err[-3000:]
    assert "another driver took sweep stopped over" in out + err and "Traceback" not in err
    (run,) = children(uri, "stopped")
    assert run.info.status == "FINISHED" and run.data.tags["kdsweep.status"] == "FINISHED"
    check_exactly_once(uri, run.info.run_id, 4)


# 3. Exactly-once epochs ---------------------------------------------------------------------------


def test_kill_between_checkpoint_and_log_then_resume_and_start_over(workdir, migrated):
    """SIGKILL after epoch 2's last.pt is written and before it is logged; the next run resumes in
    the same MLflow run and logs epoch 2 from the checkpoint, once. Deleting last.pt starts the
    run over in a new MLflow run (the old one ends KILLED with its own points); so does --rerun."""
    sweep = write_sweep(workdir, "killed", BODY.format(epochs=3, limit=320))
    uri = fresh_store(workdir, migrated)

    def killed_after_epoch_2(*extra: str) -> None:
        proc = subprocess.run(driver_args(sweep, uri, *extra), capture_output=True, text=True, timeout=300,
                              env={**os.environ, "KDSWEEP_FAULT_KILL_AFTER_SAVE": "2"})
        FIGURES["faults"] += 1
        assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]

    killed_after_epoch_2()
    (killed,) = children(uri, "killed")
    assert points(uri, killed.info.run_id)["val_acc1"] == [1]  # epoch 2 is in last.pt only

    outcome, text = run_inline(sweep, uri)
    assert outcome.exit_code == 0, text
    (run1,) = children(uri, "killed")
    assert run1.info.run_id == killed.info.run_id and run1.info.status == "FINISHED"
    check_exactly_once(uri, run1.info.run_id, 3)

    # --rerun starts a new MLflow run; killed again after epoch 2's checkpoint, then last.pt deleted:
    killed_after_epoch_2("--rerun")
    next((workdir / "results" / "checkpoints" / "killed").glob("*/last.pt")).unlink()
    outcome, text = run_inline(sweep, uri)
    assert outcome.exit_code == 0, text
    runs = sorted(children(uri, "killed"), key=lambda r: r.info.start_time)
    assert len(runs) == 3 and runs[0].info.run_id == killed.info.run_id
    assert points(uri, runs[1].info.run_id)["val_acc1"] == [1]  # the interrupted --rerun keeps its own point
    assert runs[1].info.status == "KILLED" and "superseded" in runs[1].data.tags["kdsweep.reason"]
    assert runs[2].info.status == "FINISHED"
    check_exactly_once(uri, runs[2].info.run_id, 3)


# 4. A store that goes away mid-run ----------------------------------------------------------------


def _immutable(path: Path, on: bool) -> None:
    subprocess.run(["chattr", "+i" if on else "-i", str(path)], check=True, capture_output=True)


@pytest.fixture
def can_freeze_dirs(tmp_path):
    probe = tmp_path / "probe"
    probe.mkdir()
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode:
        pytest.skip("making the store directory unwritable needs chattr +i (root or CAP_LINUX_IMMUTABLE)")
    _immutable(probe, False)


def _outage_after_first_epoch(results: Path, seconds: float | None, done: threading.Event) -> threading.Thread:
    """A thread that makes results/ (the store's directory) unwritable once one more epoch is
    logged, for `seconds` (None: until `done`): SQLite then cannot create its journal, so writes fail."""
    before = logged_epochs(results / "mlflow.db")

    def outage():
        wait_for(lambda: logged_epochs(results / "mlflow.db") > before or done.is_set(), what="the first epoch")
        _immutable(results, True)
        FIGURES["faults"] += 1
        try:
            done.wait(seconds)
        finally:
            _immutable(results, False)

    thread = threading.Thread(target=outage, daemon=True)
    thread.start()
    return thread


def test_store_outage_is_ridden_out_or_stopped_cleanly_then_resumed(workdir, migrated, can_freeze_dirs,
                                                                    monkeypatch, capfd, caplog):
    """An outage shorter than KDSWEEP_STORE_OUTAGE_S: runs keep training, buffered metrics land
    afterwards, nothing lost. A longer one: the driver stops in one line naming the store, exit 1,
    runs resumable; the next `kdsweep run` finishes them with nothing lost."""
    epochs = 6
    sweep = write_sweep(workdir, "outage", BODY.format(epochs=epochs, limit=320) + "grid:\n  optim.lr: [0.02, 0.05]\n")
    uri = fresh_store(workdir, migrated)
    results = workdir / "results"

    monkeypatch.setenv("KDSWEEP_STORE_OUTAGE_S", "60")
    done = threading.Event()
    outage = _outage_after_first_epoch(results, 15.0, done)  # longer than with_retry's ~10 s for a busy store
    outcome, text = run_inline(sweep, uri)
    done.set()
    outage.join()
    assert outcome.exit_code == 0, text
    for run in children(uri, "outage"):
        assert run.info.status == "FINISHED"
        check_exactly_once(uri, run.info.run_id, epochs)
    said = [r.getMessage() for r in caplog.records]
    assert any("does not answer" in m for m in said) and any("answers again" in m for m in said), said
    caplog.clear()

    monkeypatch.setenv("KDSWEEP_STORE_OUTAGE_S", "1")
    done = threading.Event()
    outage = _outage_after_first_epoch(results, None, done)
    try:
        outcome, text = run_inline(write_sweep(workdir, "outage", BODY.format(epochs=epochs, limit=320)
                                                + "grid:\n  optim.lr: [0.03, 0.04]\n"), uri)
    finally:
        done.set()
        outage.join()
    captured = capfd.readouterr()
    assert outcome.exit_code == 1, text
    stopped = [line for line in text.splitlines() if line.startswith("kdsweep: the tracking store")]
    assert len(stopped) == 1 and uri in stopped[0] and "nothing is lost" in stopped[0], text
    logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "Traceback" not in text + captured.err and not [r for r in logged if r.exc_info]
    assert len(text.splitlines()) + len(captured.err.splitlines()) + len(logged) < 30, [r.getMessage() for r in logged]

    outcome, text = run_inline(sweep.with_name("outage.yaml"), uri)
    assert outcome.exit_code == 0, text
    latest = [r for r in children(uri, "outage") if r.data.tags.get("kdsweep.axis.optim.lr") in ("0.03", "0.04")]
    assert len(latest) == 2
    for run in latest:
        assert run.info.status == "FINISHED"
        check_exactly_once(uri, run.info.run_id, epochs)
