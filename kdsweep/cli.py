"""The `kdsweep` command: parse arguments, call one function per command, print.

User mistakes (`UserError`) print one line and exit 2, with no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from kdsweep.errors import UserError


def _sweep_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("sweep", help="sweep YAML file, e.g. sweeps/quickstart.yaml")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="override a base value, parsed as YAML (repeatable): -o epochs=1 -o data.root=/data")


def cmd_plan(args: argparse.Namespace) -> int:
    from kdsweep.plan import plan_sweep
    from kdsweep.plan.render import print_plan

    plan = plan_sweep(args.sweep, args.override, fuse=not args.no_fuse)
    print_plan(plan, as_json=args.json)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kdsweep", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("plan", help="expand a sweep into runs and show them (no training)")
    _sweep_args(p)
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--no-fuse", action="store_true", help="one run per group")
    p.set_defaults(func=cmd_plan)

    for register in EXTRA_COMMANDS:
        register(sub)
    return parser


# Commands that live in other modules add themselves here (run, status, table, plot, ui, profile).
EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
