"""The command lines kdsweep prints for the user to copy ("results: kdsweep table ...").

Each repeats what the command it follows was given: the sweep, every `-o`, `--smoke` and
`--tracking-uri`, so pasting it reads the same runs from the same store (without them
`kdsweep table` would look for another sweep's runs, or another store's).
"""

from __future__ import annotations

import shlex
from typing import Any


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
