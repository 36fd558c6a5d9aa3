"""The sweep's first view in the MLflow UI (issue 12.6): runs expanded, every run charted, axes as columns.

The UI replaces its whole page state with a shared view, so the view must carry every field of
it. FIELDS are the names MLflow 3's UI keeps (its ExperimentPageUIState fields and search facets,
read from mlflow/server/js/src/experiment-tracking/components/experiment-page/models/ and
hooks/useExperimentPageSearchFacets.tsx); the rendering itself was checked by screenshots of
`kdsweep ui` in headless Chromium (MLflow 3.17.2): learning curves first, children listed.
"""

from __future__ import annotations

import json

from kdsweep.tracking import names
from kdsweep.tracking.store import open_client
from kdsweep.tracking.sweep import SweepTracker
from kdsweep.tracking.view import TAG_PREFIX, VIEW_KEY, axis_columns, first_view

UI_STATE_FIELDS = ("selectedColumns", "columnOrder", "columnWidths", "runsExpanded", "runsPinned", "runsHidden",
                   "runsVisibilityMap", "runsHiddenMode", "compareRunCharts", "compareRunSections", "viewMaximized",
                   "runListHidden", "isAccordionReordered", "groupBy", "groupsExpanded", "autoRefreshEnabled",
                   "useGroupedValuesInCharts", "hideEmptyCharts", "globalLineChartConfig")
SEARCH_FACETS = ("searchFilter", "orderByKey", "orderByAsc", "startTime", "lifecycleFilter", "modelVersionFilter",
                 "datasetsFilter")


def test_the_view_carries_every_field_the_ui_replaces():
    view = first_view("p" * 32, [])
    assert set(UI_STATE_FIELDS) | set(SEARCH_FACETS) <= set(view)
    charts, sections = view["compareRunCharts"], view["compareRunSections"]
    assert [c["metricKey"] for c in charts] == ["curves/val_acc1", "curves/train_loss", "curves/val_loss",
                                                "curves/lr", "best_val_acc1"]  # as logged: per-epoch under curves/
    assert [c["type"] for c in charts] == ["LINE"] * 4 + ["BAR"]
    # the UI files every other metric by section name, and keeps the last two sections last
    assert [s["name"] for s in sections][-2:] == ["Model metrics", "System metrics"]
    assert {c["metricSectionId"] for c in charts} == {sections[0]["uuid"]}
    assert not any(c["isGenerated"] for c in charts)  # else the UI may turn the bar back into a line


def test_axes_are_params_where_they_are_one_value_and_tags_where_they_are_a_block():
    assert axis_columns(["loss.kd.T", "loss.kd"], {"loss.kd.T", "seed"}, "kdsweep.axis.") == [
        "params.`loss.kd.T`", "tags.`kdsweep.axis.loss.kd`"]


def test_the_driver_shares_the_sweeps_view_on_its_experiment(uri, plan, results_dir):
    tracker = SweepTracker(uri, plan, results_dir=results_dir)
    tracker.share_first_view()  # what a driver does under the sweep's lock
    tags = open_client(uri).get_experiment(tracker.experiment_id).tags
    view = json.loads(tags[TAG_PREFIX + VIEW_KEY])
    assert view["runsExpanded"] == {tracker.parent_run_id: True}  # the children show without a click
    assert view["runsHiddenMode"] == "SHOW_ALL"  # the UI's default charts the first 10 rows only
    assert view["selectedColumns"][:2] == ["params.`loss.kd.T`", f"tags.`{names.TAG_AXIS_PREFIX}loss.kd`"]
    assert "metrics.`best_val_acc1`" in view["selectedColumns"]
    assert (view["orderByKey"], view["orderByAsc"]) == ("metrics.`best_val_acc1`", False)


def test_a_search_shows_its_space_as_columns_and_orders_by_its_metric(uri, results_dir, tmp_path):
    """Numbers and scalar choices are params of a trial; a choice of blocks is its axis tag. Rows are
    ordered by the search's metric, in its direction, and that metric is a column."""
    from kdsweep.plan import plan_sweep

    path = tmp_path / "search.yaml"
    path.write_text("""\
name: tiny_search
base:
  epochs: 2
  data: {name: digits}
  student: {arch: digits_student}
  loss: {kd: {T: 4, alpha: 0.9}}
  teacher: {run: teacher}
stages:
  teacher: {student: {arch: digits_teacher}}
search:
  space:
    loss.kd.T: {float: [1, 8]}
    schedule: {choice: [{name: cosine}, {name: step, step_size: 1}]}
  metric: val_loss
  direction: minimize
  pruner: none
  trials: 2
""")
    plan = plan_sweep(path)
    tracker = SweepTracker(uri, plan, results_dir=results_dir)
    tracker.share_first_view()
    view = json.loads(open_client(uri).get_experiment(tracker.experiment_id).tags[TAG_PREFIX + VIEW_KEY])
    assert view["selectedColumns"][:3] == ["params.`loss.kd.T`", f"tags.`{names.TAG_AXIS_PREFIX}schedule`",
                                           "metrics.`val_loss`"]
    assert (view["orderByKey"], view["orderByAsc"]) == ("metrics.`val_loss`", True)


def test_the_view_names_metrics_the_engine_logs():
    from kdsweep.metric_names import EPOCH_METRICS, SUMMARY_METRICS
    from kdsweep.tracking.view import BAR, COLUMNS_METRICS, CURVES

    assert set(CURVES) <= set(EPOCH_METRICS) and {BAR, *COLUMNS_METRICS} <= set(SUMMARY_METRICS)
