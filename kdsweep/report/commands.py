"""`kdsweep table` and `kdsweep plot`: plan the sweep, read its runs from MLflow, print and write.

The CLI wires these in (kdsweep/cli.py); they take the parsed arguments and return the exit
code: 0, or 1 when the store holds no run of the sweep (nothing to tabulate is not a
mistake in the sweep file, so not a UserError's 2, but a script should notice it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kdsweep.errors import UserError, did_you_mean
from kdsweep.hints import again
from kdsweep.plan import Plan, plan_sweep
from kdsweep.report.console import print_rendered
from kdsweep.report.document import Report, build_report, has_reference, sweep_tables
from kdsweep.report.files import OUT_DIR, save_report
from kdsweep.tracking.store import resolve_tracking_uri


def _nothing_stored(uri: str) -> bool:
    """A SQLite store that does not exist yet holds nothing; do not create one just to look."""
    if not uri.startswith("sqlite:///"):
        return False
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    return bool(path) and path != ":memory:" and not Path(path).expanduser().exists()


def _no_runs(args: argparse.Namespace, plan: Plan, uri: str) -> int:
    print(f"kdsweep: no run of sweep {plan.sweep.name!r} in {uri}; run `{again('run', args)}` first",
          file=sys.stderr)
    return 1


def _load(args: argparse.Namespace, *, reference: bool = False, history: tuple[str, ...] = ()
          ) -> tuple[Plan, str, Report | None]:
    plan = plan_sweep(args.sweep, getattr(args, "override", None) or [], smoke=bool(getattr(args, "smoke", False)))
    uri = resolve_tracking_uri(getattr(args, "tracking_uri", None))
    if _nothing_stored(uri):
        return plan, uri, None
    report = build_report(uri, plan, reference=reference, history=history)
    return plan, uri, report if report.n_children else None


def _warn_unmatched(report: Report) -> None:
    """Runs in the store but none of this plan's keys: almost always different `-o` overrides."""
    matched = int(report.runs["run_id"].notna().sum())
    if report.n_children and not matched:
        print(f"kdsweep: note: the store holds {report.n_children} run(s) of sweep {report.plan.sweep.name!r} but "
              "none with this plan's run keys; pass the same -o overrides as `kdsweep run` did", file=sys.stderr)


def _pick_tables(report: Report, names: list[str] | None) -> None:
    """`--table NAME` (repeatable): keep only those tables, in the order asked."""
    if not names:
        return
    by_name = {t.name: t for t in report.tables}
    for name in names:
        if name not in by_name:
            raise UserError(f"--table {name}: the sweep has no such table; {did_you_mean(name, by_name)}")
    report.tables = [by_name[n] for n in dict.fromkeys(names)]


def cmd_table(args: argparse.Namespace) -> int:
    """Print the sweep's tables and write them to results/generated/<sweep>.md (or --out, --format)."""
    fmt = getattr(args, "format", None) or "markdown"
    reference = bool(getattr(args, "reference", False))
    plan, uri, report = _load(args, reference=reference)
    if reference and not has_reference(sweep_tables(plan)):
        print(f"kdsweep: note: no table of sweep {plan.sweep.name!r} declares `reference:` numbers; "
              "--reference adds nothing", file=sys.stderr)
    if report is None and reference and has_reference(sweep_tables(plan)):
        # Nothing trained yet: the write-up's own table still shows, every cell of ours `not run`.
        print(f"kdsweep: note: no run of sweep {plan.sweep.name!r} in {uri} yet; showing the write-up's numbers",
              file=sys.stderr)
        report = build_report(None, plan, reference=True)
    if report is None:
        return _no_runs(args, plan, uri)
    if plan.sweep.search is not None:  # its best trials first (report/search.py)
        from kdsweep.report.search import table_command

        return table_command(args, report, uri, fmt)
    _warn_unmatched(report)
    _pick_tables(report, getattr(args, "table", None))
    print_rendered(report.render(fmt), fmt)
    paths = save_report(report, fmt, getattr(args, "out", None))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """Write the sweep's PNGs to results/generated/ (or --out) and attach them to its parent MLflow run."""
    from kdsweep.report.plots import CURVE_METRIC, log_plots, plot_report

    plan, uri, report = _load(args, history=(CURVE_METRIC,))
    if report is None:
        return _no_runs(args, plan, uri)
    _warn_unmatched(report)
    out_dir = Path(getattr(args, "out", None) or OUT_DIR)
    paths = plot_report(report, out_dir) if any(r.stage is None for r in plan.runs) else []
    if plan.sweep.search is not None:  # Optuna's history, importances and slices (report/search.py)
        from kdsweep.report.search import plot_command

        paths += plot_command(report, uri, out_dir)
    logged = log_plots(uri, report.runs.attrs.get("parent_run_id"), paths)
    if not paths:
        print("no finished run has numbers to plot yet")
        return 0
    for path in paths:
        print(f"wrote {path}")
    if logged:
        print(f"logged {len(paths)} plot{'s' if len(paths) != 1 else ''} to the sweep's MLflow run (artifacts/plots)")
    return 0
