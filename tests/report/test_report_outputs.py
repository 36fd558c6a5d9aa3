"""Where `kdsweep table` / `plot` write, and `make demo`: regenerating never dirties the checkout (issue 12.1)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import report_sweeps as rs

from kdsweep.report.files import OUT_DIR

REPO = Path(__file__).resolve().parents[2]


def _ignored(relative: Path) -> bool:
    proc = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", "--no-index", str(relative)])
    return proc.returncode == 0


def test_default_outputs_land_in_one_git_ignored_folder(store, planned, tmp_path, cli, monkeypatch):
    plan = planned(rs.SIZES, "out_default")
    sweep = store.sweep(plan)
    sweep.run("arch=digits_student", best=78.84, history={"val_acc1": [60.0, 78.84]})
    sweep.run("arch=digits_teacher", best=80.83, history={"val_acc1": [61.0, 80.83]})
    monkeypatch.chdir(tmp_path)

    for extra in ((), ("--format", "csv"), ("--format", "latex")):
        assert cli("table", plan.sweep.path, "--tracking-uri", store.uri, *extra)[0] == 0
    assert cli("plot", plan.sweep.path, "--tracking-uri", store.uri)[0] == 0

    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".yaml")
    assert [p.name for p in written] == ["out_default.md", "out_default.tex", "out_default_curves.png",
                                         "out_default_sizes.csv", "out_default_sizes.png"]
    assert all(p.parent == OUT_DIR for p in written)
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and the git checkout to ask what .gitignore ignores")
    assert all(_ignored(p) for p in written), "a default output would show in `git status`"
    assert not _ignored(Path("results/quickstart.md")) and not _ignored(Path("results/quickstart_curves.png"))


def test_make_demo_trains_as_the_committed_quickstart_was_trained():
    """Same jobs at once as results/README's reproduce loop; the committed header says which."""
    demo = re.search(r"^demo:.*?(?=^\S)", (REPO / "Makefile").read_text(), re.S | re.M).group()
    workers = re.search(r"^DEMO_WORKERS := (\d+)$", (REPO / "Makefile").read_text(), re.M).group(1)
    assert "kdsweep run sweeps/quickstart.yaml --cpu-workers $(DEMO_WORKERS)" in demo
    assert "--out" not in demo  # the demo's table goes to the ignored default folder
    assert f"kdsweep run \"$s\" --cpu-workers {workers}" in (REPO / "results" / "README.md").read_text()
    header = (REPO / "results" / "quickstart.md").read_text().splitlines()[2]
    assert f"CPU only: {workers} job(s) x 1 threads" in header
