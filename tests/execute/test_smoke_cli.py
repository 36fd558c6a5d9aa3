"""`--smoke` through the CLI, as a user sees it: a CIFAR-100 sweep whose files are nowhere trains on fake
images of CIFAR-100's shape, into its own experiment; its table says so and is written apart; every hint
repeats the flags and the store; `status` without --smoke says where the runs are."""

from __future__ import annotations

import textwrap

import pytest
from execute_helpers import children, store_uri

SWEEP = """\
name: tiny_c100
base:
  epochs: 30
  data: {name: cifar100, root: /nonexistent/cifar100, batch_size: 64, workers: 0}
  student: {arch: digits_student}
  teacher: {run: teacher}
  loss: {kd: {T: 4, alpha: 0.9}}
stages:
  teacher:
    student: {arch: digits_teacher}
grid:
  loss.kd.T: [2, 4]
seeds: [0, 1, 2]
"""


@pytest.fixture
def sweep(workdir):
    path = workdir / "tiny_c100.yaml"
    path.write_text(textwrap.dedent(SWEEP))
    return path


def test_a_smoke_run_is_labelled_as_one_everywhere(sweep, workdir, cli):
    uri = store_uri(workdir)
    rc, out, err = cli("run", sweep, "--smoke", "--inline", "--no-system-metrics", "--tracking-uri", uri)
    assert rc == 0, err
    assert f"results: kdsweep table {sweep} --smoke --tracking-uri {uri}" in out
    assert f"browse: kdsweep ui --tracking-uri {uri}" in out
    runs = children(uri, "tiny_c100-smoke")
    assert len(runs) == 3  # the teacher stage and T = 2, 4 at the first seed
    assert {r.data.params["data.fake"] for r in runs} == {"true"}
    assert all(r.data.metrics["best_epoch"] == 1 for r in runs)
    # The run page's chart sections follow the keys' prefixes: the learning curves first, the summary below.
    assert all("curves/val_acc1" in r.data.metrics and "val_acc1" not in r.data.metrics for r in runs)

    rc, out, err = cli("table", sweep, "--smoke", "--tracking-uri", uri)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "# tiny_c100-smoke"
    assert lines[2].startswith("**Smoke run: fake images shaped like cifar100 (100 classes, 32 px)")
    assert (workdir / "results" / "generated" / "tiny_c100-smoke.md").is_file()
    assert not (workdir / "results" / "generated" / "tiny_c100.md").exists()

    rc, out, _ = cli("status", sweep, "--tracking-uri", uri)  # the real sweep: nothing of it ran
    assert rc == 0 and "7 not started" in out
    assert "note: the store holds experiment 'tiny_c100-smoke': run kdsweep status with --smoke to see it" in out


def test_a_hand_faked_sweep_with_a_100_class_teacher_names_data_num_classes(sweep, workdir, cli):
    import torch

    from kdsweep.engine.models import build_model

    checkpoint = workdir / "teacher.pt"
    torch.save(build_model({"arch": "digits_teacher"}, 100, where="test").state_dict(), checkpoint)
    given = ["-o", "data.name=fake", "-o", "data.root=null", "-o", f"stages.teacher.checkpoint={checkpoint}"]
    rc, _, err = cli("run", sweep, *given, "--inline", "--tracking-uri", store_uri(workdir))
    assert rc == 2
    assert "1 shape mismatch" in err or "shape mismatches" in err
    assert "fake data has 10 classes here: set -o data.num_classes=<the checkpoint's>" in err


def test_estimate_of_a_faked_sweep_prices_the_real_data_set(sweep, cli):
    """-o data.name=fake -o data.limit=64 would price 64 images; the estimate prices CIFAR-100's 50,000
    (its published size: the files are not here) over the sweep's own 30 epochs, and says so."""
    rc, out, err = cli("plan", sweep, "-o", "data.name=fake", "-o", "data.limit=64", "-o", "data.root=null",
                       "--estimate", "--cpu")
    assert rc == 0, err
    assert "priced as the real sweep 'tiny_c100'" in err
    assert out.startswith("tiny_c100: estimated cost")
    teacher = next(line for line in out.splitlines() if line.startswith("g01"))
    assert teacher.split()[3] == "30"  # epochs: the sweep's, not a smoke run's
    assert float(teacher.split()[4]) > 1.0  # s/epoch of 50,000 images, not 64 (0.03 s here)
