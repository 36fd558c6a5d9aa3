"""The command lines kdsweep prints to copy repeat the -o, --smoke and store they were given (issue 20)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from kdsweep.hints import again, again_plan
from kdsweep.plan import plan_sweep

QUICKSTART = Path(__file__).resolve().parents[1] / "sweeps" / "quickstart.yaml"


def test_a_hint_from_the_command_line_repeats_its_overrides_flags_and_store():
    args = argparse.Namespace(sweep="sweeps/x.yaml", override=["epochs=1", "seeds=[0, 1]"], smoke=True,
                              tracking_uri="sqlite:///my store.db")
    hint = again("table", args)
    assert shlex.split(hint) == ["kdsweep", "table", "sweeps/x.yaml", "-o", "epochs=1", "-o", "seeds=[0, 1]",
                                 "--smoke", "--tracking-uri", "sqlite:///my store.db"]
    assert again("ui", args, sweep=False) == "kdsweep ui --tracking-uri 'sqlite:///my store.db'"


def test_a_hint_from_a_plan_repeats_what_it_was_planned_with_also_from_python():
    plan = plan_sweep(QUICKSTART, {"epochs": 1, "loss.kd": {"T": 4}}, smoke=True)
    assert shlex.split(again_plan("run", plan, "sqlite:///r.db"))[3:] == [
        "-o", "epochs=1", "-o", "loss.kd={T: 4}", "--smoke", "--tracking-uri", "sqlite:///r.db"]
    assert again_plan("run", plan_sweep(QUICKSTART), "sqlite:///r.db") == \
        f"kdsweep run {QUICKSTART} --tracking-uri sqlite:///r.db"
