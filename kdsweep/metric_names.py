"""The names of the metrics the engine logs for a run. Outside the engine and torch-free on
purpose: the plan checks a sweep's `tables:` against them before anything trains, tracking and
report read them, and none of those may import the engine (tests/test_layering.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Per epoch (step = epoch, 1-based), plus one `train_loss_<term>` per loss term of the run.
EPOCH_METRICS = ("train_loss", "train_acc1", "val_loss", "val_acc1", "val_acc5", "lr", "epoch_s", "images_per_s")
LOSS_TERM_PREFIX = "train_loss_"
# Once per run, at its end; the profile of the student's model (engine/profile.py), whatever the training did.
PROFILE_METRICS = ("params", "flops", "madds", "micronet_ops", "micronet_score")
SUMMARY_METRICS = ("best_val_acc1", "best_epoch", "final_val_acc1", "train_val_gap", *PROFILE_METRICS)


# Per-epoch metrics are logged under this prefix. MLflow 3's run page draws a run's charts in sections
# named by the part of a metric's key before its last "/": sections of that kind first (sorted), then
# "Model metrics" (keys without "/": the summary), then "System metrics" (`system/...`). So a run page
# opens on its learning curves. Runs logged before the prefix hold the plain names: readers take a
# run's metrics through `plain_metrics` and a history through `stored_names`, and read both.
CURVE_PREFIX = "curves/"


def curve_key(name: str) -> str:
    """The key a per-epoch metric is logged under: `curves/val_acc1`."""
    return CURVE_PREFIX + name


def stored_names(name: str) -> tuple[str, ...]:
    """The keys a run may hold a per-epoch metric under: logged now, then by an older kdsweep."""
    return (curve_key(name), name)


def plain_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """A run's latest metrics by their plain names (`val_acc1`), whichever way they were logged."""
    out = {k: v for k, v in metrics.items() if not k.startswith(CURVE_PREFIX)}
    out.update({k[len(CURVE_PREFIX):]: v for k, v in metrics.items() if k.startswith(CURVE_PREFIX)})
    return out


def loss_metric(term: str) -> str:
    """The per-epoch metric of one loss term: `train_loss_kd`."""
    return LOSS_TERM_PREFIX + term


def run_metrics(loss_terms: Iterable[str]) -> tuple[str, ...]:
    """Every metric a run with these loss terms logs: the per-epoch ones, then the summary."""
    return (*EPOCH_METRICS, *(loss_metric(t) for t in loss_terms), *SUMMARY_METRICS)
