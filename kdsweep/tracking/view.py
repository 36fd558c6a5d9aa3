"""The first view of a sweep in the MLflow UI: its runs, axes and curves, without a click.

MLflow's UI opens an experiment on a pristine view: child runs folded under their parent, the
first ten rows charted, and Source / Models / Dataset as columns, none of which a sweep has.
The UI can also open a *shared view*: an experiment tag `mlflow.sharedViewState.<key>` holding
the page's state as JSON, loaded by `?viewStateShareKey=<key>` in the URL (what its "Share"
button writes). The driver writes one for each sweep (`VIEW_KEY`) and `kdsweep ui` links to it:
the sweep's parent expanded, every run charted, the grid's axes and the summary metrics as
columns, best first.

The fields are the UI's (MLflow 3's ExperimentPageUIState and its search facets); the UI
replaces its whole state with the shared one, so every field is written, with the UI's own
defaults where kdsweep has no opinion. Checked in headless Chromium against MLflow 3.17.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from kdsweep.metric_names import curve_key
from kdsweep.tracking.names import MLFLOW_SHARED_VIEW_PREFIX as TAG_PREFIX

VIEW_KEY = "kdsweep"  # the share key: `?viewStateShareKey=kdsweep`
SHARE_PARAM = "viewStateShareKey"
VIEW_MODE_PARAM = "compareRunsMode"  # CHART (curves beside the run list) or TABLE
# Which of the engine's metrics (kdsweep/metric_names.py) the view puts first:
COLUMNS_METRICS = ("best_val_acc1", "final_val_acc1", "best_epoch")  # the first orders the rows
CURVES = ("val_acc1", "train_loss", "val_loss", "lr")  # charted first, one line per run
BAR = "best_val_acc1"  # one bar per run (logged once, at the last epoch: the UI would draw a dot)
# The UI's own section names: metrics without a section of their own go to "Model metrics", and
# while the sections keep their order, the last two listed must be these.
SECTIONS = (("kdsweep-curves", "Learning curves"), ("kdsweep-model", "Model metrics"),
            ("kdsweep-system", "System metrics"))


def _column(kind: str, key: str) -> str:
    """The UI's column id (its canonical sort key): params.`optim.lr`, metrics.`best_val_acc1`."""
    return f"{kind}.`{key}`"


def axis_columns(axes: Iterable[str], param_keys: set[str], axis_tag_prefix: str) -> list[str]:
    """One column per grid axis: the run's param where the axis is one config value (`loss.kd.T`),
    else its axis tag (an axis over a whole block such as `loss.kd` or `fa` is a dict, not a param)."""
    return [_column("params", a) if a in param_keys else _column("tags", axis_tag_prefix + a) for a in axes]


def _line(metric: str, section: str) -> dict:
    """A line chart card, with the fields and defaults of the UI's RunsChartsLineCardConfig.
    Not `isGenerated`: the UI leaves a chart it did not generate as it is."""
    key = curve_key(metric)  # as logged (metric_names.CURVE_PREFIX)
    return {"uuid": f"kdsweep-{metric}", "type": "LINE", "runsCountToCompare": 100, "metricSectionId": section,
            "deleted": False, "isGenerated": False, "metricKey": key, "selectedMetricKeys": [key],
            "lineSmoothness": 0, "xAxisScaleType": "linear", "scaleType": "linear", "range": {},
            "xAxisKey": "step", "selectedXAxisMetricKey": "", "yAxisKey": "metric", "yAxisExpressions": [],
            "ignoreOutliers": False, "useGlobalXaxisKey": True, "useGlobalLineSmoothing": True}


def _bar(metric: str, section: str) -> dict:
    return {"uuid": f"kdsweep-{metric}", "type": "BAR", "runsCountToCompare": 100, "metricSectionId": section,
            "deleted": False, "isGenerated": False, "metricKey": metric}


def charts() -> tuple[list[dict], list[dict]]:
    """The learning curves and the best accuracy first; the UI adds a chart for every other metric
    in its Model / System metrics sections below them."""
    section = SECTIONS[0][0]
    cards = [*(_line(m, section) for m in CURVES), _bar(BAR, section)]
    sections = [{"uuid": uuid, "name": name, "display": True, "isReordered": False, "deleted": False,
                 "isGenerated": uuid != section} for uuid, name in SECTIONS]
    return cards, sections


def first_view(parent_run_id: str, axis_cols: list[str], order_by: str = COLUMNS_METRICS[0],
               ascending: bool = False) -> dict:
    """The shared view's state: search facets and UI state in one JSON object, as the UI stores it.
    Rows are ordered by `order_by` (a search's metric; else best_val_acc1), best first; it is a column."""
    metrics = (order_by, *(m for m in COLUMNS_METRICS if m != order_by))
    cards, sections = charts()
    return {
        # search facets
        "searchFilter": "",
        "orderByKey": _column("metrics", order_by),
        "orderByAsc": ascending,
        "startTime": "ALL",
        "lifecycleFilter": "Active",
        "modelVersionFilter": "All Runs",
        "datasetsFilter": [],
        # UI state
        "selectedColumns": [*axis_cols, *(_column("metrics", m) for m in metrics),
                            _column("attributes", "Duration")],
        "columnOrder": [],
        "columnWidths": {},
        "runsExpanded": {parent_run_id: True},
        "runsPinned": [],
        "runsHidden": [],
        "runsVisibilityMap": {},
        "runsHiddenMode": "SHOW_ALL",  # the UI's default charts the first 10 rows only
        "viewMaximized": False,
        "runListHidden": False,
        "compareRunCharts": cards,
        "compareRunSections": sections,
        "isAccordionReordered": False,
        "useGroupedValuesInCharts": True,
        "hideEmptyCharts": True,
        "groupBy": None,
        "groupsExpanded": {},
        "autoRefreshEnabled": True,
        "globalLineChartConfig": {"xAxisKey": "step", "lineSmoothness": 0, "selectedXAxisMetricKey": ""},
    }


def view_tag(parent_run_id: str, axis_cols: list[str], **order: object) -> tuple[str, str]:
    """The experiment tag (key, value) that holds the sweep's first view."""
    return TAG_PREFIX + VIEW_KEY, json.dumps(first_view(parent_run_id, axis_cols, **order), separators=(",", ":"))


def view_query(experiment_tags: dict[str, str], *, charts: bool = True) -> str:
    """The URL query that opens the view: `viewStateShareKey=kdsweep&compareRunsMode=CHART&...`
    (an experiment an older kdsweep wrote has no shared view: its runs, charted).
    `workflowType=machine_learning`: MLflow 3.17 reads its GenAI / Model training switch from the
    URL before the experiment's kind tag."""
    mode = "CHART" if charts else "TABLE"
    shared = f"{SHARE_PARAM}={VIEW_KEY}&" if TAG_PREFIX + VIEW_KEY in experiment_tags else ""
    return f"{shared}{VIEW_MODE_PARAM}={mode}&workflowType=machine_learning"
