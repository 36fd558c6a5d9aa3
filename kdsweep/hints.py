"""The command lines kdsweep prints for the user to copy ("results: kdsweep table ...").

Each repeats what the command it follows was given: the sweep, every `-o`, `--smoke` and
`--tracking-uri`, so pasting it reads the same runs from the same store (without them
`kdsweep table` would look for another sweep's runs, or another store's).
"""

from __future__ import annotations

import shlex
from typing import Any


def again_plan(command: str, plan: Any, uri: str) -> str:
    """`kdsweep <command> ...` for a planned sweep (where the command line's arguments are not at hand):
    its file, the -o it was planned with, --smoke, and the store `uri`."""
    parts = ["kdsweep", command, str(plan.sweep.path)]
    for text in plan.sweep.given:
        parts += ["-o", text]
    if plan.sweep.faked == "smoke":
        parts.append("--smoke")
    return shlex.join([*parts, "--tracking-uri", uri])


def again(command: str, args: Any, *, sweep: bool = True) -> str:
    """`kdsweep <command> <sweep> -o ... --smoke --tracking-uri ...` from the parsed arguments `args`."""
    parts = ["kdsweep", command]
    if sweep:
        parts.append(str(args.sweep))
        for text in getattr(args, "override", None) or []:
            parts += ["-o", text]
        if getattr(args, "smoke", False):
            parts.append("--smoke")
    uri = getattr(args, "tracking_uri", None)
    if uri:
        parts += ["--tracking-uri", uri]
    return shlex.join(parts)
