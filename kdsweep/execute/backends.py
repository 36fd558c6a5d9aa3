"""The driver's two seams: where jobs come from (`JobFeed`) and where they run (`RayBackend`,
`InlineBackend`). The runner holds the one loop that joins them (runner.drive).

A feed hands out the plan's jobs, then, for a search, Optuna's trials as slots free up; it is
told each job's results. A backend takes jobs (`submit`), says how many more it could start
now (`free_slots`) and whether any is in flight (`busy`), and returns the results of the jobs
that ended (`wait`). On Ctrl-C it stops what runs and says which jobs were cut (`interrupt`).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.live import Live

from kdsweep.execute.jobs import Job
from kdsweep.execute.progress import LiveView, ProgressBoard, RunView
from kdsweep.execute.resources import Slots
from kdsweep.plan import Plan
from kdsweep.status import RunStatus


class JobFeed:
    """The plan's jobs (all at once: Ray orders them by their stage dependencies), then a search's
    trials (`execute/search.py`), asked only for the slots that are free."""

    def __init__(self, jobs: list[Job], search: Any = None):
        self._fixed = list(jobs)
        self.search = search

    def take(self, statuses: dict[str, str], free_slots: int) -> list[Job]:
        out, self._fixed = self._fixed, []
        if self.search is not None:
            out += self.search.top_up(statuses, free_slots - len(out))
        return out

    def extra(self, job: Job) -> dict[str, Any]:
        """What a job of a search needs beyond the plan's: its trial's pruner."""
        if self.search is not None and self.search.owns(job.keys[0]):
            return {"prune": self.search.pruner(job)}
        return {}

    def told(self, results: dict[str, dict]) -> None:
        if self.search is not None:
            self.search.on_results(results)


class RayBackend:
    """Jobs as Ray tasks, each taking its stage jobs' results as arguments, with the live view."""

    def __init__(self, plan: Plan, jobs: list[Job], finished_deps: dict[str, dict], slots: Slots, opts: Any,
                 uri: str, console: Console):
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from kdsweep.execute.worker import run_job

        self.plan, self.slots, self.opts, self.uri, self.console = plan, slots, opts, uri, console
        self.finished_deps = finished_deps
        # On the driver's node: the view's board must outlive any other node of a cluster (a lost worker
        # node loses only the jobs Ray then runs again elsewhere).
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        self.board = ray.remote(num_cpus=0)(ProgressBoard).options(scheduling_strategy=here).remote()
        self.remote_job = ray.remote(run_job).options(max_retries=opts.worker_retries, retry_exceptions=False,
                                                      **slots.ray_options())
        self.view = LiveView(plan.sweep.name, [RunView(key=t.key, name=t.name, epochs=t.epochs)
                                               for j in jobs for t in j.runs], console)
        self.refs: dict[Any, Job] = {}
        self.job_of_key: dict[str, Job] = {}
        self.job_ref: dict[str, Any] = {}
        # transient: the live table goes when the sweep ends; the summary and failures are printed once.
        self.live = Live(self.view.render(), console=console, refresh_per_second=2, transient=True) \
            if not self.view.plain else None
        if self.live:
            self.live.start()

    @property
    def free_slots(self) -> int:
        return self.slots.concurrency - len(self.refs)

    @property
    def busy(self) -> bool:
        return bool(self.refs)

    def submit(self, job: Job, extra: dict[str, Any]) -> None:
        deps, ready = [], {}
        for key in job.depends_on:
            if key in self.job_of_key and self.job_of_key[key].id in self.job_ref:
                deps.append(self.job_ref[self.job_of_key[key].id])
            elif key in self.finished_deps:
                ready[key] = self.finished_deps[key]
            else:  # the stage is neither planned to train now nor finished: it failed to be created
                ready[key] = {"status": RunStatus.NOT_RUN, "reason": "stage missing from the store"}
        for t in job.runs:
            self.job_of_key[t.key] = job
            self.view.runs.setdefault(t.key, RunView(key=t.key, name=t.name, epochs=t.epochs))
        o = self.opts
        ref = self.remote_job.remote(job.payload(), ready, *deps, uri=self.uri, board=self.board,
                                     threads=self.slots.threads, system_metrics=o.system_metrics, retries=o.retries,
                                     train_fn=o.train_fn, **extra)
        self.refs[ref] = job
        self.job_ref[job.id] = ref

    def wait(self) -> list[tuple[Job, dict[str, dict]]]:
        import ray

        done, _ = ray.wait(list(self.refs), num_returns=1, timeout=0.5)
        self.view.merge(ray.get(self.board.snapshot.remote()))
        out = [(job, collect(ref, job, self.uri)) for ref in done for job in [self.refs.pop(ref)]]
        for _, results in out:
            for key, res in results.items():
                self.view.set_state(key, res["status"], res.get("reason"))
        if self.live:
            self.live.update(self.view.render())
        return out

    def interrupt(self, statuses: dict[str, str]) -> list[Job]:
        """Cancel the running tasks; returns their jobs (the runner marks their runs KILLED)."""
        import ray

        self.console.print("interrupted: cancelling running jobs; `kdsweep run` again resumes them")
        for ref in list(self.refs):
            try:
                ray.cancel(ref, force=True)
            except Exception:
                pass
        return list(self.refs.values())

    def close(self, statuses: dict[str, str], interrupted: bool) -> None:
        if interrupted:
            self.view.interrupted(statuses)
        if self.live:
            self.live.update(self.view.render())
            self.live.stop()
        self.console.print(self.view.summary_line())


class InlineBackend:
    """The same jobs one after another in this process: a debugger and a traceback see everything."""

    def __init__(self, plan: Plan, finished_deps: dict[str, dict], opts: Any, uri: str, console: Console):
        self.plan, self.opts, self.uri, self.console = plan, opts, uri, console
        self.done: dict[str, dict] = dict(finished_deps)  # every ended run's result, for the jobs after it
        self.queue: list[tuple[Job, dict[str, Any]]] = []
        self.submitted: list[Job] = []

    @property
    def free_slots(self) -> int:
        return 0 if self.queue else 1

    @property
    def busy(self) -> bool:
        return bool(self.queue)

    def submit(self, job: Job, extra: dict[str, Any]) -> None:
        self.queue.append((job, extra))
        self.submitted.append(job)

    def wait(self) -> list[tuple[Job, dict[str, dict]]]:
        from kdsweep.execute.worker import run_job

        job, extra = self.queue.pop(0)
        self.console.print(f"job {job.label}")
        o = self.opts
        results = run_job(job.payload(), self.done, uri=self.uri, threads=o.threads,
                          system_metrics=o.system_metrics, retries=o.retries, train_fn=o.train_fn, **extra)
        self.done.update(results)
        for key, res in results.items():
            self.console.print(f"  {self.plan.by_key[key].name}: {res['status']}"
                               + (f" ({res['reason']})" if res.get("reason") else ""))
        return [(job, results)]

    def interrupt(self, statuses: dict[str, str]) -> list[Job]:
        return self.submitted

    def close(self, statuses: dict[str, str], interrupted: bool) -> None:
        """Nothing to stop: each job printed its runs as it ended."""


def collect(ref: Any, job: Job, uri: str) -> dict[str, dict]:
    """A Ray job's per-run results; a job that died for good (retries spent) fails its runs."""
    import ray

    from kdsweep.tracking.marking import mark_run

    try:
        return ray.get(ref)
    except Exception as exc:  # worker died more often than it may be retried, or Ray itself failed
        reason = f"job failed in Ray: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        out = {}
        for t in job.runs:
            quietly(mark_run, uri, t.run_id, RunStatus.FAILED, reason=reason)
            out[t.key] = {"status": RunStatus.FAILED, "reason": reason}
        return out


def quietly(fn: Any, *args: Any, **kwargs: Any) -> None:
    """A bookkeeping write from the driver: if the store is away, say so in one line and go on
    (the run stays unfinished in the store, and the next `kdsweep run` resumes it)."""
    import logging

    try:
        fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        logging.getLogger(__name__).warning("could not record a run's end in the store (%s)", text)
