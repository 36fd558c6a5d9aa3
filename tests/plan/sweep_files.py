"""The sweep files shipped in sweeps/, for the tests that plan them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SWEEPS = REPO / "sweeps"


def read(path: Path):
    return yaml.safe_load(path.read_text())


def fragments() -> set[Path]:
    """Files that only serve as an `extends` base: no `name`, and extended by a sweep or in a base/ dir."""
    extended = set()
    for path in SWEEPS.rglob("*.yaml"):
        data = read(path)
        if isinstance(data, dict) and isinstance(data.get("extends"), str):
            extended.add((path.parent / data["extends"]).resolve())
    out = set()
    for path in SWEEPS.rglob("*.yaml"):
        data = read(path)
        if not isinstance(data, dict) or "name" in data:
            continue
        if path.resolve() in extended or "base" in path.parts:
            out.add(path.resolve())
    return out


FRAGMENTS = fragments()
ALL_FILES = sorted(SWEEPS.rglob("*.yaml"))
SWEEP_FILES = [p for p in ALL_FILES if p.resolve() not in FRAGMENTS]
REL = [str(p.relative_to(SWEEPS)) for p in SWEEP_FILES]


def tracked() -> set[str]:
    try:
        out = subprocess.run(["git", "ls-files", "sweeps"], cwd=REPO, capture_output=True, text=True,
                             check=True)
    except (OSError, subprocess.CalledProcessError):
        return set()
    return {line.removeprefix("sweeps/") for line in out.stdout.splitlines() if line.endswith(".yaml")}



def kd(run) -> tuple | None:
    """(alpha, T) of a run's KD term, None without one."""
    loss = run.config["loss"].get("kd")
    return (loss["alpha"], loss["T"]) if loss else None


def known(expected: dict) -> list[str]:
    """The sweeps among `expected` that exist or that git tracks (a committed one gone missing fails)."""
    return sorted(name for name in expected if name in set(REL) | tracked())
