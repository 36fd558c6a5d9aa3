"""sweeps/cifar100_benchmark.yaml end to end through the CLI on `fake` data at CIFAR-100's shape (32 px,
100 classes): every pair's fused job trains and `kdsweep table --reference` fills the papers' table.

Kept to about a minute on 2 cores: one seed, one step of 16 images, one epoch; the student-alone runs
are left out (`-o grid.loss` keeps KD / DIST / CRD; DKD is the sweep's points); one teacher stage trains
(resnet56, the cheapest) and the other five are given as files in mdistiller's checkpoint format
({"model": state_dict}, random weights of the zoo's models), the override the sweep documents.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from execute_helpers import store_uri

from kdsweep.cli import main

pytestmark = pytest.mark.slow

SWEEP = "sweeps/cifar100_benchmark.yaml"
GIVEN = {"resnet110": "cifar_resnet110", "resnet32x4": "cifar_resnet32x4", "wrn_40_2": "cifar_wrn_40_2",
         "vgg13": "cifar_vgg13", "ResNet50": "cifar_resnet50"}
SMOKE = ["data.name=fake", "data.num_classes=100", "data.limit=16", "data.val_limit=16", "data.batch_size=16",
         "data.workers=0", "epochs=1", "seeds=[0]",
         "grid.loss=[{kd: {T: 4, alpha: 0.9}}, {dist: {beta: 2.0, gamma: 2.0, tau: 4.0}}, {crd: {weight: 0.8}}]"]


def teacher_files(directory) -> list[str]:
    import torch

    from kdsweep.engine.models import build_model

    overrides = []
    for stage, arch in GIVEN.items():
        path = directory / f"{stage}_ckpt_epoch_240.pth"
        torch.save({"model": build_model({"arch": arch}, 100, where="test").state_dict(), "epoch": 240}, path)
        overrides.append(f"stages.{stage}.checkpoint={path}")
    return overrides


def test_every_pair_trains_and_tables_on_fake_data(workdir, capsys):
    sweep = Path(__file__).parents[2] / SWEEP
    uri = store_uri(workdir)
    options = [a for o in [*SMOKE, *teacher_files(workdir)] for a in ("-o", o)]
    assert main(["run", str(sweep), "--inline", "--tracking-uri", uri, "--no-system-metrics", *options]) == 0
    capsys.readouterr()
    assert main(["table", str(sweep), "--reference", "--tracking-uri", uri, "--out", str(workdir), *options]) == 0
    out = capsys.readouterr().out
    assert "45/45 runs finished" in out  # resnet56 + 11 pairs x (KD, DIST, CRD, DKD)
    best = out.split("## ")[1]  # the best-epoch table; the last-epoch one has the same shape
    lines = [line for line in best.splitlines() if line.startswith("|") and not line.startswith("|:")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[1:] == ["teacher", "KD", "DKD", "DIST", "CRD"]  # no student-alone runs here: no column
    assert len(lines) == 12
    for row in lines[1:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(re.match(r"\d+\.\d\d", c) for c in cells[2:]), row  # KD, DKD, DIST, CRD each a number
        assert (re.match(r"\d+\.\d\d", cells[1]) is not None) == cells[0].startswith("resnet56 ->"), row
    assert "(ref 76.32, " in best  # DKD resnet32x4 -> resnet8x4 beside ours, with the difference
