"""The driver's side of a search: ask trials as slots free up, train them as jobs, tell the study.

The runner calls `top_up` whenever it could start a job and `on_results` when a job ends;
everything Optuna-specific lives in the study owner (execute/study.py), which the driver
starts as a Ray actor on its own node (or keeps in-process with --inline). The order:

1. stages first: no trial is asked until the stages every trial needs have finished;
2. trials left RUNNING by an interrupted `kdsweep run` are resumed first (same trial, same
   MLflow run, from their last epoch), then new ones are asked while fewer than `parallel`
   are in flight and a slot is free; the budget counts every trial the study ever held;
3. trials asked together that can share a group (same teacher, data, seed, epochs, model)
   train as one job, split over the free slots;
4. each epoch a worker reports val_acc1 to the owner, which may prune the trial: its run
   ends PRUNED and its slot (or its place in the group) is free at once;
5. when a trial's runs have ended, the owner is told COMPLETE (the metric, mean over seeds),
   PRUNED or FAIL; a trial whose run was interrupted stays RUNNING for the next `kdsweep run`.
"""

from __future__ import annotations

import logging
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kdsweep.errors import UserError, did_you_mean
from kdsweep.execute.jobs import Job, RunTicket, absolutize_paths, workdir_for
from kdsweep.execute.progress import SKIPPED
from kdsweep.plan import Plan, PlannedRun
from kdsweep.plan.search import fingerprint, search_dependencies, trial_runs
from kdsweep.spec.search import PRUNE_ON, Search
from kdsweep.status import RunStatus

log = logging.getLogger(__name__)

STUDY_DIR = "optuna"
READY = (RunStatus.FINISHED, SKIPPED)


def study_path(results_dir: Path, sweep: str) -> Path:
    """One Optuna storage per sweep, beside the MLflow store (results/optuna/ is not committed)."""
    return Path(results_dir) / STUDY_DIR / f"{sweep.replace('/', '_').replace(' ', '_')}.journal"


def check_metric(search: Search) -> None:
    from kdsweep.metric_names import SUMMARY_METRICS

    if search.metric not in SUMMARY_METRICS:
        raise UserError(f"{search.metric!r} is not a summary metric the engine logs; "
                        f"{did_you_mean(search.metric, SUMMARY_METRICS)}", where="search.metric")


class TrialPruner:
    """Handed to a trial's job: asks the study owner, once per epoch per run, whether to stop."""

    def __init__(self, owner: Any, trials: dict[str, tuple[int, Any]], pruner: str):
        self.owner, self.trials, self.pruner = owner, trials, pruner

    def __call__(self, key: str, epoch: int, metrics: dict[str, float]) -> str | None:
        if key not in self.trials:
            return None
        number, seed = self.trials[key]
        value = metrics.get(PRUNE_ON)
        try:
            if hasattr(self.owner.report, "remote"):
                import ray

                pruned = ray.get(self.owner.report.remote(number, seed, epoch, value), timeout=120)
            else:
                pruned = self.owner.report(number, seed, epoch, value)
        except Exception as exc:  # noqa: BLE001 - the pruner is an optimisation: the run goes on without it
            log.warning("trial %s: could not reach the study owner (%s); not pruning", number, exc)
            return None
        return f"pruned by the {self.pruner} pruner after epoch {epoch} ({PRUNE_ON} {value:.2f})" if pruned else None


@dataclass
class InFlight:
    number: int
    runs: list[PlannedRun]
    results: dict[str, dict] = field(default_factory=dict)


class SearchDriver:
    def __init__(self, plan: Plan, tracker: Any, *, results_dir: Path, checkpoint_root: Path, parallel: int,
                 inline: bool, cpu: bool):
        search = plan.sweep.search
        assert search is not None
        check_metric(search)
        self.plan, self.search, self.tracker = plan, search, tracker
        self.checkpoint_root, self.cpu = checkpoint_root, cpu
        self.parallel = search.parallel or max(1, parallel)
        self.deps = search_dependencies(plan)
        self.path = study_path(results_dir, plan.sweep.name)
        self.owner = self._start_owner(inline)
        self.resume = list(self._call("running"))
        self.in_flight: dict[int, InFlight] = {}
        self.trial_of_key: dict[str, tuple[int, Any]] = {}
        self.blocked: str | None = None
        self._tag_parent()

    # The owner ---------------------------------------------------------------------------------

    def _start_owner(self, inline: bool) -> Any:
        from kdsweep.execute.study import StudyOwner

        epochs = int(trial_runs(self.plan, 0, {k: p.probe_values()[0] for k, p in self.search.space.items()})[0]
                     .config["epochs"])
        args = (str(self.path.resolve()), self.plan.sweep.name, self.search)
        kwargs = {"max_epochs": epochs, "fingerprint": fingerprint(self.plan)}
        if inline:
            owner = StudyOwner(*args, **kwargs)
            problem = owner.problem()
        else:
            import ray
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            # On the driver's node, so the journal file is the one under this results/.
            here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
            owner = ray.remote(num_cpus=0)(StudyOwner).options(scheduling_strategy=here).remote(*args, **kwargs)
            problem = ray.get(owner.problem.remote())
        if problem:
            raise UserError(problem)
        return owner

    def _call(self, method: str, *args: Any) -> Any:
        fn = getattr(self.owner, method)
        if hasattr(fn, "remote"):
            import ray

            return ray.get(fn.remote(*args))
        return fn(*args)

    def pruner(self, job: Job) -> TrialPruner:
        return TrialPruner(self.owner, {k: self.trial_of_key[k] for k in job.keys}, self.search.pruner)

    def _tag_parent(self) -> None:
        from kdsweep.tracking import names

        self.tracker.client.set_tag(self.tracker.parent_run_id, names.TAG_STUDY, str(self.path))

    # State -------------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        if self.blocked:
            return True
        return not self.in_flight and not self.resume and self._call("left") == 0

    def owns(self, key: str) -> bool:
        return key in self.trial_of_key

    def _deps_ready(self, statuses: dict[str, str]) -> bool:
        for key in self.deps:
            status = statuses.get(key)  # only runs that have ended are in `statuses`
            if status in READY:
                continue
            if status is not None:
                self.blocked = f"a stage every trial needs did not finish ({status.lower()}); no trial was asked"
            return False
        return True

    # Asking --------------------------------------------------------------------------------------

    def top_up(self, statuses: dict[str, str], free_slots: int) -> list[Job]:
        """New jobs for the trials that fit now (none while the stages run or no slot is free)."""
        if self.done or free_slots <= 0 or not self._deps_ready(statuses):
            return []
        want = self.parallel - len(self.in_flight)
        if want <= 0:
            return []
        trials = self.resume[:want]
        self.resume = self.resume[len(trials):]
        trials += self._call("ask", want - len(trials))
        if not trials:
            return []
        batch: list[InFlight] = []
        for number, params in trials:
            runs = trial_runs(self.plan, number, params)
            flight = InFlight(number, runs)
            self.in_flight[number] = flight
            batch.append(flight)
            for run in runs:
                self.trial_of_key[run.key] = (number, run.config["seed"])
        jobs = self._jobs(batch, free_slots)
        self.plan.runs.extend(run for flight in batch for run in flight.runs)
        return jobs

    def _jobs(self, batch: list[InFlight], free_slots: int) -> list[Job]:
        """Runs asked together, grouped by what they can share, split over the free slots."""
        from kdsweep.tracking import names
        from kdsweep.tracking.sweep import log_params_tags

        groups: dict[str, list[PlannedRun]] = {}
        for flight in batch:
            for run in flight.runs:
                groups.setdefault(run.group, []).append(run)
        chunks = list(groups.values())
        n_runs = sum(len(c) for c in chunks)
        while len(chunks) < min(free_slots, n_runs):  # more slots than groups: spread the largest
            chunks.sort(key=len, reverse=True)
            big = chunks.pop(0)
            chunks += [big[: len(big) // 2], big[len(big) // 2:]]
        jobs = []
        for chunk in chunks:
            # Named after its first trial: unique across `kdsweep run`s, as trial numbers are.
            job_id = f"t{min(self.trial_of_key[r.key][0] for r in chunk):03d}"
            for run in chunk:
                run.group = job_id
            prepared = self.tracker.prepare(chunk)
            tickets = []
            for run in chunk:
                prep = prepared[run.key]
                number, seed = self.trial_of_key[run.key]
                log_params_tags(self.tracker.client, prep.run_id, {},
                                {names.TAG_TRIAL: str(number), names.TAG_TRIAL_STATE: "RUNNING"})
                self._call("link", number, seed, prep.run_id)  # the study names its MLflow runs too
                if prep.action == "skip":  # finished before the driver could tell the study (a crash)
                    self._skipped(run, prep.run_id)
                    continue
                workdir = workdir_for(self.checkpoint_root, self.plan.sweep.name, run.key)
                if prep.action == "new" and workdir.exists():
                    shutil.rmtree(workdir)
                config = absolutize_paths(run.config, Path.cwd())
                if self.cpu:
                    config["device"] = "cpu"
                tickets.append(RunTicket(key=run.key, name=run.name, run_id=prep.run_id, config=config,
                                         workdir=str(workdir), epochs=int(run.config["epochs"])))
            if tickets:
                jobs.append(Job(id=job_id, runs=tickets, depends_on=list(self.deps)))
        return jobs

    def _skipped(self, run: PlannedRun, run_id: str) -> None:
        info = self.tracker.existing().get(run.key)
        metrics = dict(info.metrics) if info is not None else {}
        self.on_results({run.key: {"status": RunStatus.FINISHED, "run_id": run_id, "metrics": metrics}})

    # Telling ---------------------------------------------------------------------------------------

    def on_results(self, results: dict[str, dict]) -> None:
        """A job's results: a trial whose runs have all ended is told to the study."""
        for key, res in results.items():
            if key not in self.trial_of_key:
                continue
            number, _ = self.trial_of_key[key]
            flight = self.in_flight.get(number)
            if flight is None:
                continue
            flight.results[key] = res
            if len(flight.results) == len(flight.runs):
                self._tell(flight)

    def _tell(self, flight: InFlight) -> None:
        statuses = {RunStatus.parse(res["status"]) for res in flight.results.values()}
        del self.in_flight[flight.number]
        if RunStatus.KILLED in statuses:  # interrupted: the trial stays RUNNING and resumes next time
            return
        value = None
        if statuses == {RunStatus.FINISHED}:
            values = [res.get("metrics", {}).get(self.search.metric) for res in flight.results.values()]
            if all(v is not None and math.isfinite(v) for v in values):
                value = sum(values) / len(values)
            state = "COMPLETE"
        elif RunStatus.PRUNED in statuses:
            state = "PRUNED"
        else:
            state = "FAIL"
        told = self._call("tell", flight.number, value, state)
        self._tag_state(flight, told)

    def _tag_state(self, flight: InFlight, state: str) -> None:
        from kdsweep.tracking import names

        for res in flight.results.values():
            if res.get("run_id"):
                self.tracker.client.set_tag(res["run_id"], names.TAG_TRIAL_STATE, state)

    def summary(self) -> str:
        counts = self._call("counts")
        parts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(counts.items()))
        line = f"search: {sum(counts.values())} of {self.search.budget} trials ({parts or 'none yet'}); study {self.path}"
        best = self._call("best")
        if best is not None:
            params = " ".join(f"{k.rsplit('.', 1)[-1]}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in best["params"].items())
            line += f"; best: trial {best['number']}, {self.search.metric} {best['value']:.2f} at {params}"
        if self.blocked:
            line += f"; {self.blocked}"
        return line
