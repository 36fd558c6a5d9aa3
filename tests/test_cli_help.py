"""What a first-time user sees from the command line itself (issue 12.9), through a real process."""

from __future__ import annotations

import re
from pathlib import Path

from kdsweep.cli import build_parser

REPO = Path(__file__).resolve().parents[1]


def test_kdsweep_alone_prints_the_help_and_version_works(kdsweep):
    proc = kdsweep(cwd=REPO)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.startswith("usage: kdsweep") and "plan" in proc.stdout and "run" in proc.stdout
    proc = kdsweep("--version", cwd=REPO)
    assert proc.returncode == 0 and re.fullmatch(r"kdsweep \S+\n", proc.stdout)


def test_every_option_has_help_text():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict))
    missing = [f"{name} {opt.option_strings[0] if opt.option_strings else opt.dest}"
               for name, command in sub.choices.items() for opt in command._actions
               if not opt.help and opt.dest != "help"]
    assert missing == []


def test_profile_lists_every_model_and_points_to_the_list(kdsweep):
    proc = kdsweep("profile", "--list", cwd=REPO, timeout=300)
    names = proc.stdout.split()
    assert proc.returncode == 0 and len(names) > 40 and "resnet18" in names and "efficientnet_ex" in names
    proc = kdsweep("profile", "resnt18", cwd=REPO, timeout=300)
    assert proc.returncode == 2 and "did you mean 'resnet18'" in proc.stderr
    assert proc.stderr.rstrip().endswith("(kdsweep profile --list shows every model)")


def test_a_directory_or_a_missing_file_on_the_command_line(kdsweep, tmp_path):
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "mine.yaml").write_text("name: mine\n")
    proc = kdsweep("run", "sweeps/", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == ("kdsweep: error: sweep file 'sweeps' is a directory; give one sweep file, "
                           "e.g. sweeps/mine.yaml\n")
    proc = kdsweep("plan", "sweep/mine.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == ("kdsweep: error: sweep file 'sweep/mine.yaml' not found (relative paths are relative "
                           f"to the current directory, {tmp_path})\n")


def test_every_command_help_page_opens_with_what_it_does():
    """`kdsweep run --help` had a usage line and options only; `plan --cpu` said "as for kdsweep run"."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict))
    for command, opening in (("run", "Train every planned run"), ("status", "Counts and a per-run state table"),
                             ("table", "Print and write the sweep's tables"), ("keys", "Every key a sweep file takes")):
        page = sub.choices[command].format_help()
        assert page.split("\n\n")[1].startswith(opening), command
    cpu = next(a for a in sub.choices["plan"]._actions if "--cpu" in a.option_strings)
    assert "on the CPU even where a GPU is" in cpu.help
