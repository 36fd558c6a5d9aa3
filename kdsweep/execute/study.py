"""The one owner of a search's Optuna study: ask, report per epoch (prune?), tell.

Exactly one process opens the study's storage (a journal file under results/optuna/, one per
sweep): this object, living in the driver (`--inline`) or in a Ray actor the driver starts on
its own node. Workers only call `report` through the actor handle, so they never touch the
storage, and the study survives Ctrl-C and crashes: the journal is appended operation by
operation, and trials left RUNNING are resumed by the next `kdsweep run`.
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from typing import Any

from kdsweep.errors import UserError
from kdsweep.spec.search import Search
from kdsweep.spec.search_space import config_values, distributions, grid_space

log = logging.getLogger(__name__)

FINGERPRINT_ATTR = "kdsweep_fingerprint"
# A trial's user attributes, so optuna-dashboard and trials_dataframe() link each trial to MLflow:
# its run (with several seeds, the first seed's), and with several seeds every run in seed order.
RUN_ID_ATTR = "mlflow_run_id"
RUN_IDS_ATTR = "mlflow_run_ids"


def _sampler(search: Search) -> Any:
    import optuna

    seed = search.sampler_seed
    startup = search.sampler_options.get("startup_trials")
    if search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if search.sampler == "grid":
        return optuna.samplers.GridSampler(grid_space(search), seed=seed)
    if search.sampler == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)
    if search.sampler == "cmaes":
        try:
            import cmaes  # noqa: F401 - CmaEsSampler's optional dependency
        except ImportError:
            raise UserError("sampler cmaes needs the `cmaes` package: pip install cmaes",
                            where="search.sampler") from None
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=startup)
    # Optuna >= 5: multivariate TPE with the constant liar, which keeps trials asked together apart.
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)


def _pruner(search: Search, max_epochs: int) -> Any:
    import optuna

    o = search.pruner_options
    if search.pruner == "median":
        # Steps are epochs, from 1; Optuna may prune at step == n_warmup_steps, so the first
        # `warmup_epochs` epochs are safe only with one more.
        return optuna.pruners.MedianPruner(n_startup_trials=o["startup_trials"],
                                           n_warmup_steps=o["warmup_epochs"] + 1)
    if search.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=o["min_epochs"], max_resource=max_epochs,
                                              reduction_factor=o["reduction_factor"])
    if search.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=o["min_epochs"],
                                                      reduction_factor=o["reduction_factor"])
    return optuna.pruners.NopPruner()


class StudyOwner:
    """The study and its bookkeeping. Plain Python; the runner wraps it with `ray.remote`."""

    def __init__(self, storage_path: str, name: str, search: Search, *, max_epochs: int, fingerprint: str):
        # A user's mistake found here is kept for `problem()`: raised in a Ray actor's constructor,
        # it would reach the driver as a dead actor instead of one line naming the fix.
        self.problem_text: str | None = None
        try:
            self._open(storage_path, name, search, max_epochs=max_epochs, fingerprint=fingerprint)
        except UserError as exc:
            self.problem_text = str(exc)

    def problem(self) -> str | None:
        return self.problem_text

    def _open(self, storage_path: str, name: str, search: Search, *, max_epochs: int, fingerprint: str) -> None:
        import optuna
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        Path(storage_path).parent.mkdir(parents=True, exist_ok=True)
        self.search = search
        self.max_epochs = max_epochs
        self.storage_path = storage_path
        self.study = optuna.create_study(storage=JournalStorage(JournalFileBackend(storage_path)), study_name=name,
                                         direction=search.direction, sampler=_sampler(search),
                                         pruner=_pruner(search, max_epochs), load_if_exists=True)
        if self.study.metric_names != [search.metric]:  # the dashboard and trials_dataframe() name the value
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # stable since 3.2
                self.study.set_metric_names([search.metric])
        old = self.study.user_attrs.get(FINGERPRINT_ATTR)
        if old is None:
            self.study.set_user_attr(FINGERPRINT_ATTR, fingerprint)
        elif old != fingerprint:
            raise UserError(f"the study in {storage_path} searched another space, metric or base config; put the "
                            f"search back as it was, or move that file away to start a new search", where="search")
        self.distributions = distributions(search)
        self.n_seeds = len(search.seeds or ()) or 1
        self.epoch_values: dict[tuple[int, int], dict[Any, float]] = {}  # (trial, epoch) -> {seed: val_acc1}
        self._trials: dict[int, Any] = {}  # number -> optuna Trial (asked or reopened in this process)
        self.run_ids: dict[int, dict[Any, str]] = {}  # number -> {seed: MLflow run id}

    # What the study holds ---------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Trials by state (COMPLETE, PRUNED, FAIL, RUNNING, ...)."""
        out: dict[str, int] = {}
        for t in self.study.get_trials(deepcopy=False):
            out[t.state.name] = out.get(t.state.name, 0) + 1
        return out

    def left(self) -> int:
        """Trials the budget still allows: every trial ever asked counts, whatever its state."""
        return max(0, self.search.budget - len(self.study.get_trials(deepcopy=False)))

    def running(self) -> list[tuple[int, dict[str, Any]]]:
        """Trials asked by an earlier `kdsweep run` that never ended (Ctrl-C, a crash): resumed, not re-asked."""
        from optuna.trial import TrialState

        return [(t.number, config_values(self.search, t.params))
                for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))]

    def best(self) -> dict[str, Any] | None:
        try:
            t = self.study.best_trial
        except ValueError:
            return None
        return {"number": t.number, "value": t.value, "params": config_values(self.search, t.params)}

    # Ask, report, tell ------------------------------------------------------------------------

    def ask(self, n: int) -> list[tuple[int, dict[str, Any]]]:
        """Up to `n` new trials (fewer when the budget is spent): [(number, config values)]."""
        out = []
        for _ in range(min(n, self.left())):
            trial = self.study.ask(self.distributions)
            self._trials[trial.number] = trial
            out.append((trial.number, config_values(self.search, trial.params)))
        return out

    def _trial(self, number: int) -> Any:
        if number not in self._trials:
            import optuna

            frozen = self.study.get_trials(deepcopy=False)[number]
            # Optuna's Trial needs the storage id; a FrozenTrial keeps it privately (stable since 1.x).
            self._trials[number] = optuna.trial.Trial(self.study, frozen._trial_id)
        return self._trials[number]

    def link(self, number: int, seed: Any, run_id: str) -> None:
        """Record the MLflow run training `seed` of trial `number` as the trial's user attribute."""
        if self.state(number) != "RUNNING":  # Optuna refuses to change a finished trial
            return
        ids = self.run_ids.setdefault(number, {})
        ids[seed] = run_id
        order = [ids[s] for s in (self.search.seeds or ()) if s in ids] or list(ids.values())
        trial = self._trial(number)
        trial.set_user_attr(RUN_ID_ATTR, order[0])
        if self.n_seeds > 1:
            trial.set_user_attr(RUN_IDS_ATTR, order)

    def state(self, number: int) -> str:
        return self.study.get_trials(deepcopy=False)[number].state.name

    def report(self, number: int, seed: Any, epoch: int, value: float | None) -> bool:
        """One run's val_acc1 after `epoch`; True when the trial is (now) pruned: stop the run.

        With several seeds, the trial's value at an epoch is their mean, reported once every
        seed has reached it. The last epoch is reported but never pruned: the run is done.
        """
        if self.state(number) == "PRUNED":
            return True
        if self.state(number) != "RUNNING" or value is None or not math.isfinite(float(value)):
            return False
        seen = self.epoch_values.setdefault((number, epoch), {})
        seen[seed] = float(value)
        if len(seen) < self.n_seeds:
            return False
        trial = self._trial(number)
        with warnings.catch_warnings():  # a resumed run reports its last epoch again: Optuna keeps the first
            warnings.simplefilter("ignore")
            trial.report(sum(seen.values()) / len(seen), step=epoch)
        if epoch >= self.max_epochs or not trial.should_prune():
            return False
        from optuna.trial import TrialState

        self.study.tell(number, state=TrialState.PRUNED)
        return True

    def tell(self, number: int, value: float | None, state: str) -> str:
        """End a trial: COMPLETE with its value, or FAIL / PRUNED; returns the state it has."""
        from optuna.trial import TrialState

        if state == "COMPLETE" and (value is None or not math.isfinite(value)):
            state = "FAIL"
        self.study.tell(number, value if state == "COMPLETE" else None, state=TrialState[state],
                        skip_if_finished=True)
        self._trials.pop(number, None)
        return self.state(number)
