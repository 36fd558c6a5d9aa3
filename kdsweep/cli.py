"""The `kdsweep` command: parse arguments, call one function per command, print.

User mistakes (`UserError`) print one line and exit 2, with no traceback.
"""

from __future__ import annotations

import argparse
import sys

from kdsweep.errors import UserError


def _sweep_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("sweep", help="sweep YAML file, e.g. sweeps/quickstart.yaml")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value, parsed as YAML (repeatable): a run key (-o epochs=1 -o data.root=/data), "
                        "seeds, name, a grid axis, a search key or a stage's weights file (-o seeds=[0] "
                        "-o grid.loss.kd.T=[1,2] -o search.trials=6 -o stages.big.checkpoint=teacher.pth)")
    p.add_argument("--smoke", action="store_true",
                   help="a smoke run: every run on fake images shaped like its data set (classes, image size, "
                        "its transforms), a few steps of one epoch, one seed, in its own experiment <name>-smoke")


def _warn(plan) -> None:  # noqa: ANN001 - a Plan (not imported here: `kdsweep --help` stays fast)
    for line in plan.warnings:
        print(f"kdsweep: warning: {line}", file=sys.stderr)


def cmd_plan(args: argparse.Namespace) -> int:
    from kdsweep.plan import plan_sweep
    from kdsweep.plan.render import print_plan

    plan = plan_sweep(args.sweep, args.override, fuse=not args.no_fuse, smoke=args.smoke)
    _warn(plan)
    if args.estimate:  # measures on this machine: torch, the engine and MLflow load only here
        from kdsweep.execute.estimate import print_estimate

        if plan.sweep.faked:  # what the real sweep will cost, not the smoke run (seconds)
            from kdsweep.plan.smoke import priced_as_real

            plan = plan_sweep(args.sweep, priced_as_real(args.override), fuse=not args.no_fuse)
            print(f"kdsweep: note: priced as the real sweep {plan.sweep.name!r} (its data set's size, epochs and "
                  "seeds), measured on fake images of its data set's shape", file=sys.stderr)

        return print_estimate(plan, cpu_workers=args.cpu_workers, jobs_per_gpu=args.jobs_per_gpu, cpu=args.cpu)
    print_plan(plan, as_json=args.json)
    return 0


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///results/mlflow.db)")


def cmd_run(args: argparse.Namespace) -> int:
    from kdsweep.api import run  # the Python API's run: one set of option names for both
    from kdsweep.hints import again
    from kdsweep.plan import plan_sweep

    plan = plan_sweep(args.sweep, args.override, fuse=not args.no_fuse, smoke=args.smoke)
    _warn(plan)
    outcome = run(plan, tracking_uri=args.tracking_uri, address=args.address, gpus=args.gpus,
                  jobs_per_gpu=args.jobs_per_gpu, cpu_workers=args.cpu_workers, cpu=args.cpu,
                  rerun=args.rerun, rerun_changed=args.rerun_changed, accept_data=args.accept_data,
                  retries=args.retries, checkpoint_dir=args.checkpoint_dir,
                  system_metrics=not args.no_system_metrics, force=args.force, inline=args.inline,
                  dashboard=args.dashboard, ray_logs=args.ray_logs)
    if outcome.exit_code == 0:
        print(f"results: {again('table', args)}   |   browse: {again('ui', args, sweep=False)}   "
              f"(store {outcome.uri})")
    return outcome.exit_code


def cmd_status(args: argparse.Namespace) -> int:
    from kdsweep.execute.data_check import data_changes
    from kdsweep.plan import plan_sweep
    from kdsweep.tracking.status import print_status

    plan = plan_sweep(args.sweep, args.override, smoke=args.smoke)
    return print_status(plan, args.tracking_uri, check_data=data_changes)


def cmd_ui(args: argparse.Namespace) -> int:
    from kdsweep.tracking.ui import serve

    return serve(args.tracking_uri, host=args.host, port=args.port)


def cmd_table(args: argparse.Namespace) -> int:
    from kdsweep.report.commands import cmd_table as run

    return run(args)


def cmd_plot(args: argparse.Namespace) -> int:
    from kdsweep.report.commands import cmd_plot as run

    return run(args)


def cmd_profile(args: argparse.Namespace) -> int:
    from kdsweep.engine.profile_print import print_model_names, print_profile

    if args.list:
        return print_model_names()
    if not args.arch:
        raise UserError("profile: name a model, e.g. kdsweep profile resnet18 (kdsweep profile --list shows them all)")
    return print_profile(args.arch, num_classes=args.num_classes, input_size=args.input_size,
                         head=args.head, cifar=args.cifar, bench_batch=args.batch_size if args.bench else None,
                         device=args.device)


def cmd_keys(args: argparse.Namespace) -> int:
    from kdsweep.spec.key_reference import render_markdown, render_text

    text = render_markdown() if args.markdown else render_text(args.prefix)
    if not text.strip():
        raise UserError(f"no key starts with {args.prefix!r}; kdsweep keys lists them all", where="keys")
    print(text.rstrip())
    return 0


def _command(sub: argparse._SubParsersAction, name: str, *, help: str, **kwargs: object  # noqa: A002
             ) -> argparse.ArgumentParser:
    """A sub-command whose --help page opens with its one-line help unless it has a longer description."""
    kwargs.setdefault("description", help[0].upper() + help[1:] + ".")
    return sub.add_parser(name, help=help, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kdsweep",
        description="Knowledge-distillation sweeps from YAML: plan them, train them on every GPU (or the CPU) "
                    "with Ray, track them in MLflow, and print the write-ups' tables.",
        epilog="Start with: kdsweep plan sweeps/quickstart.yaml, then kdsweep run / table.")
    parser.add_argument("--version", action="version", version=f"kdsweep {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = _command(sub, "plan", help="expand a sweep into runs and show them (no training)")
    _sweep_args(p)
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--no-fuse", action="store_true", help="one run per group")
    p.add_argument("--estimate", action="store_true",
                   help="time a few training steps of each group here and print the sweep's device-hours "
                        "and wall time (takes seconds to minutes)")
    p.add_argument("--cpu-workers", type=int, default=None, help="with --estimate: as for kdsweep run")
    p.add_argument("--jobs-per-gpu", type=int, default=1, help="with --estimate: as for kdsweep run")
    p.add_argument("--cpu", action="store_true",
                   help="with --estimate: time the groups on the CPU even where a GPU is, as kdsweep run --cpu "
                        "would train them")
    p.set_defaults(func=cmd_plan)

    p = _command(sub, "run", help="train every planned run (Ray on GPUs or CPU), logged to MLflow")
    _sweep_args(p)
    _store_args(p)
    p.add_argument("--address", default=None, help="join a Ray cluster (e.g. auto); default: $RAY_ADDRESS, "
                   "else a local cluster")
    p.add_argument("--gpus", default=None, help="local GPUs to use, e.g. 0,2 (default: all)")
    p.add_argument("--jobs-per-gpu", type=int, default=1, help="jobs sharing one GPU (default 1)")
    p.add_argument("--cpu-workers", type=int, default=None, help="jobs at once without GPUs, one thread each (default: one per core, at most 8)")
    p.add_argument("--cpu", action="store_true", help="ignore GPUs; train on the CPU")
    p.add_argument("--no-fuse", action="store_true", help="train each run in its own job")
    p.add_argument("--rerun", action="store_true", help="train runs again even if they finished")
    p.add_argument("--rerun-changed", action="store_true",
                   help="train finished runs again whose data changed since they trained (a run stops otherwise)")
    p.add_argument("--accept-data", action="store_true",
                   help="keep finished runs whose data changed since they trained, and record the new data")
    p.add_argument("--retries", type=int, default=0, help="train a failed run again up to N times")
    p.add_argument("--checkpoint-dir", default=None,
                   help="resume checkpoints (default results/checkpoints; on a cluster: a shared directory)")
    p.add_argument("--no-system-metrics", action="store_true", help="do not log CPU / memory / GPU usage")
    p.add_argument("--force", action="store_true", help="take the sweep's lock even if another run holds it")
    p.add_argument("--dashboard", action="store_true", help="start Ray's dashboard with the local cluster")
    p.add_argument("--ray-logs", action="store_true", help="show the workers' output and Ray's own logs")
    p.add_argument("--inline", action="store_true",
                   help="no Ray: train the jobs one after another in this process (debugging)")
    p.set_defaults(func=cmd_run)

    p = _command(sub, "status", help="counts and a per-run state table from MLflow (trains nothing)")
    _sweep_args(p)
    _store_args(p)
    p.set_defaults(func=cmd_status)

    p = _command(sub, "table", help="print and write the sweep's tables from MLflow")
    _sweep_args(p)
    _store_args(p)
    p.add_argument("--out", default=None,
                   help="output file or directory (default results/generated/<sweep name>.md, git-ignored)")
    p.add_argument("--format", default="markdown", choices=["markdown", "csv", "latex"],
                   help="markdown (default), csv (one file per table) or latex (booktabs table floats)")
    p.add_argument("--table", action="append", default=None, metavar="NAME",
                   help="only the sweep's table of this name (repeatable)")
    p.add_argument("--reference", action="store_true", help="print the write-up's numbers beside ours")
    p.set_defaults(func=cmd_table)

    p = _command(sub, "plot", help="heatmaps, learning curves and bar charts as PNG (results/generated/, MLflow)")
    _sweep_args(p)
    _store_args(p)
    p.add_argument("--out", default=None, help="output directory (default results/generated/, git-ignored)")
    p.set_defaults(func=cmd_plot)

    p = _command(sub, "ui", help="serve the MLflow UI for kdsweep's store on 127.0.0.1")
    _store_args(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=5000, help="port to listen on (default 5000)")
    p.set_defaults(func=cmd_ui)

    p = _command(sub, "profile", help="parameters, FLOPs, MAdds and MicroNet score of a model")
    p.add_argument("arch", nargs="?", help="model name, e.g. efficientnet_ex or resnet18 (--list shows them all)")
    p.add_argument("--list", action="store_true", help="list every model name and exit")
    p.add_argument("--num-classes", type=int, default=100, help="classifier outputs (default 100)")
    p.add_argument("--input-size", type=int, default=32, help="input height = width in pixels (default 32)")
    p.add_argument("--head", default=None, help="cosine: the cosine classifier of 000/001 (hidden 200, s 5)")
    p.add_argument("--cifar", action="store_true", help="32x32 adaptation of a torchvision model")
    p.add_argument("--bench", action="store_true",
                   help="also time a forward pass and a training step on this machine")
    p.add_argument("--batch-size", type=int, default=64, help="with --bench (default 64)")
    p.add_argument("--device", default="auto", help="with --bench: auto, cpu or cuda")
    p.set_defaults(func=cmd_profile)

    p = _command(sub, "keys", help="every key a sweep file takes, with defaults and rules (torch-free)",
                       description="Every key a sweep file takes: run keys, each optimiser's, schedule's and loss "
                                   "term's options, models with their kwargs, data sets and transforms; generated "
                                   "from the declarations (docs/keys.md is the same list).")
    p.add_argument("prefix", nargs="?", default="", help="only keys starting with this, e.g. loss.dkd or data")
    p.add_argument("--markdown", action="store_true", help="print docs/keys.md (the whole reference, Markdown)")
    p.set_defaults(func=cmd_keys)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kdsweep")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # `kdsweep` alone: what it can do, not an argparse error
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"kdsweep: error: {exc}", file=sys.stderr)
        return UserError.exit_code
    except BrokenPipeError:  # `kdsweep plan --json | head`
        return 0
    except KeyboardInterrupt:
        print("kdsweep: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
