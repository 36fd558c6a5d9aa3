"""A loss term is one file: its torch-free entry (spec block) and its implementation together.

The toy method below is the whole of what a contributor writes for a new logit KD method;
the test plugs that one file into the loss table and shows the plan resolving it (defaults,
one-line errors, the teacher it needs) without importing it, and the engine training with it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from kdsweep.engine.losses import LossContext, build_losses
from kdsweep.errors import UserError
from kdsweep.spec.entries import LOSSES, read_spec_block
from kdsweep.spec.resolve import resolve_run_config

TOY = textwrap.dedent('''\
    """Toy KD: mean squared error between temperature-softened probabilities."""

    from __future__ import annotations

    from dataclasses import dataclass

    import torch.nn.functional as F

    from kdsweep.engine.losses.base import LossContext, LossTerm
    from kdsweep.spec.entries import LossEntry
    from kdsweep.spec.options import Options, option


    @dataclass
    class ToyOptions(Options):
        T: float = option(2.0, low=0, low_open=True, noun="a temperature")
        weight: float = option(1.0, low=0)


    ENTRY = LossEntry("toykd", ToyOptions, impl="ToyKD", needs_teacher=True)


    class ToyKD(LossTerm):
        name = "toykd"

        def __init__(self, T: float, weight: float, *, where: str):
            super().__init__(weight, where=where)
            self.T = T

        @classmethod
        def from_options(cls, opts: ToyOptions, *, where: str) -> ToyKD:
            return cls(opts.T, opts.weight, where=where)

        def value(self, ctx: LossContext):
            p_s = F.softmax(ctx.student_logits.float() / self.T, dim=1)
            return F.mse_loss(p_s, F.softmax(self.teacher_logits(ctx) / self.T, dim=1))
''')


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """The toy file added to the loss table, as a new file in kdsweep/engine/losses/ would be."""
    path = tmp_path / "toykd.py"
    path.write_text(TOY)
    monkeypatch.syspath_prepend(str(tmp_path))
    sources = LOSSES._sources
    monkeypatch.setattr(LOSSES, "_sources", lambda: [*sources(), path])
    monkeypatch.setattr(LOSSES, "_entries", None)
    yield path
    sys.modules.pop("toykd", None)


def test_the_plan_resolves_a_new_term_from_its_file_alone(toy):
    assert "toykd" in LOSSES
    config = resolve_run_config({"student": {"arch": "digits_student"}, "teacher": {"run": "t"}, "loss": {"toykd": {"T": 4}}})
    assert config["loss"] == {"ce": {"weight": 1.0, "label_smoothing": 0.0}, "toykd": {"T": 4, "weight": 1.0}}
    with pytest.raises(UserError, match="loss term.s. toykd need a teacher"):
        resolve_run_config({"student": {"arch": "digits_student"}, "loss": {"toykd": {}}})
    with pytest.raises(UserError, match="unknown key 'TT'; did you mean 'T'") as err:
        resolve_run_config({"student": {"arch": "digits_student"}, "teacher": {"run": "t"}, "loss": {"toykd": {"TT": 1}}})
    assert err.value.where == "loss.toykd.TT"
    with pytest.raises(UserError, match="expected a temperature > 0, got 0"):
        resolve_run_config({"student": {"arch": "digits_student"}, "teacher": {"run": "t"}, "loss": {"toykd": {"T": 0}}})


def test_reading_the_entry_imports_neither_the_file_nor_torch(toy):
    code = (f"import sys; from pathlib import Path; from kdsweep.spec.entries import read_spec_block; "
            f"(e,) = read_spec_block(Path({str(toy)!r})); "
            "assert e.name == 'toykd' and e.needs_teacher and e.options.defaults() == {'T': 2.0, 'weight': 1.0}; "
            "assert 'torch' not in sys.modules and 'toykd' not in sys.modules")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert read_spec_block(toy)[0].target == "toykd:ToyKD"


def test_the_engine_trains_with_it(toy):
    losses = build_losses({"toykd": {"T": 1.0, "weight": 2.0}, "ce": {"weight": 1.0}})
    assert losses.needs_teacher and set(losses.terms) == {"toykd", "ce"}
    s = torch.tensor([[2.0, 0.0], [0.0, 1.0]], requires_grad=True)
    t = torch.tensor([[0.0, 2.0], [1.0, 0.0]])
    terms = losses(LossContext(s, torch.tensor([0, 1]), t))
    want = torch.nn.functional.mse_loss(s.softmax(1), t.softmax(1))
    assert float(terms["toykd"].detach()) == pytest.approx(2.0 * float(want.detach()))
    sum(terms.values()).backward()
    assert s.grad is not None and torch.isfinite(s.grad).all()


def test_once_the_engine_imports_a_term_its_options_are_the_modules_own_class():
    """The plan parses with the spec block's copy of an Options class (run without torch); once the
    engine has imported the term's module, the entry is the module's own, so `from_options` gets an
    instance of the class written in the file (one class at run time, not two)."""
    from kdsweep.engine.losses.dkd import DKDOptions
    from kdsweep.engine.optim import SGDOptions
    from kdsweep.engine.schedules import CosineOptions
    from kdsweep.spec.entries import OPTIMIZERS, SCHEDULES

    assert type(LOSSES.get("dkd").parse({"beta": 2}, "loss.dkd")) is DKDOptions
    assert type(OPTIMIZERS.get("sgd").parse({}, "optim")) is SGDOptions
    assert type(SCHEDULES.get("cosine").parse({}, "schedule")) is CosineOptions
    copy = read_spec_block(Path(sys.modules[DKDOptions.__module__].__file__))[0]  # what the plan runs
    assert copy.options is not DKDOptions and copy.options.__name__ == "DKDOptions"
