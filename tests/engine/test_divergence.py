"""The device-side divergence watch: the first non-finite step and its term, read once."""

import torch

from kdsweep.engine.divergence import DivergenceWatch


def t(v):
    return torch.tensor(float(v))


def test_finite_steps_report_nothing():
    w = DivergenceWatch()
    assert w.reason() is None
    for _ in range(3):
        w.add({"ce": t(1.0), "kd": t(2.0)}, t(3.0))
    assert w.reason() is None


def test_the_first_bad_step_and_its_first_bad_term_are_kept():
    w = DivergenceWatch()
    w.add({"ce": t(1.0), "kd": t(2.0)}, t(3.0))
    w.add({"ce": t(1.0), "kd": t("inf")}, t("inf"))
    w.add({"ce": t("nan"), "kd": t("nan")}, t("nan"))  # later steps do not overwrite the first
    assert w.reason() == (2, "term kd is inf")


def test_a_non_finite_total_of_finite_terms_and_reset():
    w = DivergenceWatch()
    w.add({"ce": t(3e38)}, t("inf"))
    assert w.reason() == (1, "term total is inf")
    w.reset()
    w.add({"ce": t(1.0)}, t(1.0))
    assert w.reason() is None and w.step == 1
