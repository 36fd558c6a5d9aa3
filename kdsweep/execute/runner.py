"""`kdsweep run`: the driver that turns a plan into Ray tasks and MLflow runs.

Order of events, each step safe to interrupt:
1. preflight (names, files) and the store check: a user mistake exits 2 before anything runs;
2. take the sweep's lock in the store, so two drivers never train the same runs;
3. create the experiment, parent and child runs (the driver owns them; workers get run ids);
4. one loop (`drive`) between two seams (backends.py): the feed hands out jobs (the plan's, all at
   once, each taking its stage jobs' results as arguments; then a search's trials as slots free
   up) and the backend runs them (Ray tasks, or inline in this process);
5. collect results as they come (failed runs are retried inside their job: --retries), draw the view;
6. on Ctrl-C cancel what runs, mark it KILLED; the next `kdsweep run` resumes it.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from kdsweep.errors import UserError
from kdsweep.execute.backends import InlineBackend, JobFeed, RayBackend, quietly
from kdsweep.execute.data_check import data_changes, refusal
from kdsweep.execute.jobs import Job, build_jobs
from kdsweep.execute.notices import Notices
from kdsweep.execute.preflight import preflight
from kdsweep.execute.progress import SKIPPED, failure_lines
from kdsweep.execute.resources import Slots, parse_gpu_list, plan_slots
from kdsweep.hints import again_plan
from kdsweep.plan import Plan
from kdsweep.status import RunStatus

EXIT_OK, EXIT_SOME_FAILED, EXIT_INTERRUPTED = 0, 1, 130


@dataclass
class RunOptions:
    tracking_uri: str | None = None
    address: str | None = None
    gpus: str | None = None
    jobs_per_gpu: int = 1
    cpu_workers: int | None = None
    cpu: bool = False
    rerun: bool = False
    rerun_changed: bool = False  # finished runs whose data changed since: train them again (execute/data_check.py)
    accept_data: bool = False  # ... or keep their results and record the new data
    retries: int = 0
    checkpoint_dir: str | None = None
    results_dir: str = "results"
    system_metrics: bool = True
    force: bool = False
    worker_retries: int = 3  # Ray re-runs a job whose worker process died; it resumes from its checkpoint
    num_cpus: int | None = None  # local cluster only (tests)
    num_gpus: int | None = None  # local cluster only: fake GPUs for placement tests
    threads: int | None = None  # inline: torch threads (default: torch's own choice)
    console: Console | None = None
    train_fn: Any = None  # tests: a stand-in for engine.train_group
    inline: bool = False  # no Ray: jobs one after another in this process (debugging, smoke tests)
    dashboard: bool = False  # Ray's dashboard for the local cluster (quiet by default)
    ray_logs: bool = False  # forward workers' stdout / stderr and Ray's info logs
    ray_init_kwargs: dict = field(default_factory=dict)


@dataclass
class SweepOutcome:
    exit_code: int
    statuses: dict[str, str]  # run key -> a RunStatus, or SKIPPED (finished in an earlier `kdsweep run`)
    reasons: dict[str, str]
    uri: str
    slots: Slots | None = None


def _init_ray(opts: RunOptions) -> None:
    import logging

    from kdsweep.execute.ray_security import loopback_only, secure_client, secure_local_cluster

    ray = sys.modules.get("ray")  # imported only below when not yet: Ray reads the loopback switch on import
    if ray is not None and ray.is_initialized():
        return
    # Ray's local cluster announces its (default, wanted) token authentication on every start.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    address = opts.address or os.environ.get("RAY_ADDRESS")
    kwargs: dict[str, Any] = {"include_dashboard": opts.dashboard, "log_to_driver": opts.ray_logs,
                              "configure_logging": True, "logging_level": "info" if opts.ray_logs else "warning",
                              **opts.ray_init_kwargs}
    if address:
        secure_client()
        import ray

        try:
            ray.init(address=address, **kwargs)
        except ConnectionError:  # Ray says only "Failed to connect", after logging why (e.g. a missing token)
            raise UserError(f"no Ray cluster at {address} let this client in: check that it runs there and, if it "
                            "requires a token (every cluster kdsweep or its Slurm template starts does), set "
                            "RAY_AUTH_TOKEN_PATH to its token file (docs/slurm.md)", where="--address") from None
        return
    secure_local_cluster()  # every cluster kdsweep starts requires a token (execute/ray_security.py)
    gpu_ids = parse_gpu_list(opts.gpus)
    if gpu_ids is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpu_ids)
    num_gpus = opts.num_gpus if opts.num_gpus is not None else (len(gpu_ids) if gpu_ids is not None else None)
    if opts.cpu:
        num_gpus = 0
    # "local": a new cluster of our own. Without an address Ray joins the latest cluster started on
    # this machine (another sweep's, a test's), which then refuses num_cpus / num_gpus.
    with loopback_only():
        import ray

        ray.init(address="local", num_cpus=opts.num_cpus, num_gpus=num_gpus, **kwargs)


def _hardware(slots: Slots) -> str:
    import platform

    ray = sys.modules.get("ray")  # --inline never imports Ray, which may not be installed (a GPU box's own Python)
    if ray is not None and ray.is_initialized():
        resources = ray.cluster_resources()
        nodes = len([n for n in ray.nodes() if n.get("Alive")])
    else:  # inline
        resources, nodes = {"CPU": float(os.cpu_count() or 1)}, 1
    gpu_names = ""
    try:
        import torch

        if torch.cuda.is_available():
            gpu_names = ", " + torch.cuda.get_device_name(0)
    except Exception:
        pass
    return (f"{nodes} node(s), {resources.get('CPU', 0):g} CPU, {resources.get('GPU', 0):g} GPU{gpu_names}; "
            f"{slots.description}; {platform.platform(terse=True)}")


def run_sweep(plan: Plan, opts: RunOptions) -> SweepOutcome:
    from kdsweep.tracking.store import check_store, resolve_tracking_uri
    from kdsweep.tracking.sweep import SweepTracker

    console = opts.console or Console(stderr=True, soft_wrap=True)
    results_dir = Path(opts.results_dir)
    uri = resolve_tracking_uri(opts.tracking_uri, results_dir)
    preflight(plan, local=not (opts.address or os.environ.get("RAY_ADDRESS")))
    check_store(uri)
    tracker = SweepTracker(uri, plan, results_dir=results_dir)
    checkpoint_root = Path(opts.checkpoint_dir or results_dir / "checkpoints").resolve()
    changed = [] if opts.rerun else data_changes(plan, tracker.existing())
    if changed and not (opts.rerun_changed or opts.accept_data):
        raise refusal(plan, changed)  # before the lock: nothing is marked or created

    with tracker.lock(force=opts.force) as held:
        tracker.share_first_view()
        if changed and not opts.rerun_changed:  # --accept-data
            tracker.accept_data({c.run_id: c.now for c in changed})
            console.print(f"kdsweep: kept {len(changed)} finished run(s) on the new data ({changed[0].what})")
        prepared = tracker.prepare(plan.runs, rerun=opts.rerun,
                                   again={c.key for c in changed} if opts.rerun_changed else (),
                                   resumable=lambda key: _has_checkpoint(checkpoint_root, plan.sweep.name, key))
        jobs = build_jobs(plan, prepared, checkpoint_root)
        for job in jobs:  # fencing: these jobs stop if another driver takes the sweep over
            job.parent_run_id, job.generation = tracker.parent_run_id, held.generation
        if opts.cpu:  # a CPU job on a GPU machine must not pick up a GPU by itself
            for ticket in (t for job in jobs for t in job.runs):
                ticket.config["device"] = "cpu"
        statuses = {k: SKIPPED for k, p in prepared.items() if p.action == "skip"}
        reasons: dict[str, str] = {}
        if not jobs and plan.sweep.search is None:
            console.print(f"{plan.sweep.name}: all {len(plan.runs)} runs already finished in {uri}; "
                          "nothing to train (--rerun trains them again)")
            return SweepOutcome(EXIT_OK, statuses, reasons, uri)
        if opts.inline:
            slots = Slots(False, 0.0, float(os.cpu_count() or 1), 1, "inline: one job at a time in this process")
        else:
            _init_ray(opts)
            slots = plan_slots(_cluster_resources(), jobs_per_gpu=opts.jobs_per_gpu, cpu_workers=opts.cpu_workers,
                               force_cpu=opts.cpu)
        tracker.set_hardware(_hardware(slots))
        search = None
        if plan.sweep.search is not None:  # a search asks its trials as slots free up (execute/search.py)
            from kdsweep.execute.search import SearchDriver

            search = SearchDriver(plan, tracker, results_dir=results_dir, checkpoint_root=checkpoint_root,
                                  parallel=slots.concurrency, inline=opts.inline, cpu=opts.cpu)
            if not jobs and search.done:
                console.print(search.summary())
                return SweepOutcome(EXIT_OK, statuses, reasons, uri, slots)
        n_train = sum(len(j.runs) for j in jobs)
        console.print(f"{plan.sweep.name}: {n_train} run(s) to train in {len(jobs)} job(s), "
                      f"{len(statuses)} already finished; {slots.description}; tracking {uri}")
        finished_deps = {run.key: _finished_dep(prepared[run.key].run_id, uri, checkpoint_root, plan.sweep.name,
                                                run.key)
                         for run in plan.runs if prepared[run.key].action == "skip"}
        backend = InlineBackend(plan, finished_deps, opts, uri, console) if opts.inline else \
            RayBackend(plan, jobs, finished_deps, slots, opts, uri, console)
        stopped: dict[str, str] = {}
        notices = Notices()
        code = drive(JobFeed(jobs, search), backend, plan, tracker, console, statuses, reasons, stopped, notices)
        for line in notices.lines():  # once per reason, however many jobs raised it
            console.print(f"kdsweep: {line}", markup=False, highlight=False)
        if search is not None:
            console.print(search.summary())
        if code == EXIT_INTERRUPTED:
            held.end_status = RunStatus.KILLED
        elif stopped:
            held.end_status = RunStatus.KILLED
            _say_stopped(plan, uri, stopped, reasons, console)
    return SweepOutcome(code, statuses, reasons, uri, slots)


def _has_checkpoint(checkpoint_root: Path, sweep: str, key: str) -> bool:
    from kdsweep.engine.checkpoint import LAST
    from kdsweep.execute.jobs import workdir_for

    return (workdir_for(checkpoint_root, sweep, key) / LAST).is_file()


def _say_stopped(plan: Plan, uri: str, stopped: dict[str, str], reasons: dict[str, str], console: Console) -> None:
    """One line per cause for runs stopped without failing: their store went away, or another
    driver took the sweep over. They are KILLED and resume from their last saved epoch."""
    for kind in sorted(set(stopped.values())):
        keys = [k for k, v in stopped.items() if v == kind]
        if kind == "store":
            detail = reasons.get(keys[0], "").split(" (", 1)[0]
            console.print(f"kdsweep: {detail}: {len(keys)} run(s) stopped after their last saved epoch; "
                          f"`{again_plan('run', plan, uri)}` finishes them once the store answers, nothing is lost")
        else:
            console.print(f"kdsweep: another driver took sweep {plan.sweep.name} over (--force): {len(keys)} "
                          f"run(s) of this one stopped without writing; the other driver trains them")


def _cluster_resources() -> dict[str, float]:
    import ray

    return dict(ray.cluster_resources())


def _finished_dep(run_id: str, uri: str, checkpoint_root: Path, sweep: str, key: str) -> dict:
    from kdsweep.execute.jobs import workdir_for

    return {"status": RunStatus.FINISHED, "run_id": run_id, "uri": uri,
            "workdir": str(workdir_for(checkpoint_root, sweep, key))}


def drive(feed: JobFeed, backend: RayBackend | InlineBackend, plan: Plan, tracker: Any, console: Console,
          statuses: dict[str, str], reasons: dict[str, str], stopped: dict[str, str],
          notices: Notices | None = None) -> int:
    """The one loop: start what the feed has for the free slots, record what ended, tell the feed."""
    interrupted = False
    previous = signal.getsignal(signal.SIGINT)
    try:
        while True:
            for job in feed.take(statuses, backend.free_slots):
                backend.submit(job, feed.extra(job))
            if not backend.busy:  # nothing in flight and nothing could start: done (or a search is stuck)
                break
            for _job, results in backend.wait():
                if notices is not None:  # a job's warnings, counted once per job
                    notices.add([w for res in results.values() for w in res.get("warnings") or ()])
                feed.told(_record(results, statuses, reasons, stopped))
    except KeyboardInterrupt:
        interrupted = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        _mark_killed(backend.interrupt(statuses), tracker, statuses)
    finally:
        backend.close(statuses, interrupted)
        signal.signal(signal.SIGINT, previous)
    return EXIT_INTERRUPTED if interrupted else _exit_code(plan, statuses, reasons, stopped, console)


def _record(results: dict[str, dict], statuses: dict[str, str], reasons: dict[str, str],
            stopped: dict[str, str]) -> dict[str, dict]:
    """Keep each run's final status and reason (and why it was stopped); returns the results for chaining."""
    for key, res in results.items():
        statuses[key] = res["status"]
        if res.get("reason"):
            reasons[key] = res["reason"]
        if res.get("stopped"):
            stopped[key] = res["stopped"]
    return results


def _mark_killed(jobs: list[Job], tracker: Any, statuses: dict[str, str]) -> None:
    """Runs of interrupted jobs that had not ended are KILLED; the next `kdsweep run` resumes them."""
    for job in jobs:
        for t in job.runs:
            if statuses.get(t.key) not in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.NOT_RUN):
                quietly(tracker.mark, t.run_id, RunStatus.KILLED, reason="interrupted (Ctrl-C)")
                statuses[t.key] = RunStatus.KILLED


def _exit_code(plan: Plan, statuses: dict[str, str], reasons: dict[str, str], stopped: dict[str, str],
               console: Console) -> int:
    """0 when every run finished (or had finished before), else 1, listing the others with reasons
    (runs stopped by their store or by a takeover get one line per cause instead: `_say_stopped`)."""
    bad = [k for k, s in statuses.items() if s not in (RunStatus.FINISHED, SKIPPED, RunStatus.PRUNED)]
    for line in failure_lines([(statuses[k], f"{plan.by_key[k].name} ({k[:8]})", reasons.get(k, "")) for k in bad if k not in stopped]):
        console.print("  " + line, markup=False, highlight=False)
    return EXIT_SOME_FAILED if bad else EXIT_OK
