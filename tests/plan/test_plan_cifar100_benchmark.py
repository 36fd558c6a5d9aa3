"""sweeps/cifar100_benchmark.yaml plans as its comments say: mdistiller's recipe and per-pair settings (read
from mdistiller a08d46f's configs/cifar100/dkd/*.yaml and RepDistiller's train_student.py), one fused job per
pair and seed, teachers trained once per arch or given as files, the table's rows naming every pair."""

from __future__ import annotations

import collections
import re

import pytest
from sweep_files import SWEEPS

from kdsweep.plan import plan_sweep

PATH = SWEEPS / "cifar100_benchmark.yaml"
# (teacher arch, student arch) -> (DKD beta, lr): configs/cifar100/dkd/<pair>.yaml at mdistiller a08d46f.
PAIRS = {
    ("cifar_resnet56", "cifar_resnet20"): (2.0, 0.05),
    ("cifar_resnet110", "cifar_resnet32"): (2.0, 0.05),
    ("cifar_resnet32x4", "cifar_resnet8x4"): (8.0, 0.05),
    ("cifar_wrn_40_2", "cifar_wrn_16_2"): (6.0, 0.05),
    ("cifar_wrn_40_2", "cifar_wrn_40_1"): (6.0, 0.05),
    ("cifar_vgg13", "cifar_vgg8"): (6.0, 0.05),
    ("cifar_resnet32x4", "cifar_shufflev1"): (8.0, 0.01),
    ("cifar_wrn_40_2", "cifar_shufflev1"): (8.0, 0.01),
    ("cifar_vgg13", "cifar_mobilenetv2"): (6.0, 0.01),
    ("cifar_resnet50", "cifar_mobilenetv2"): (8.0, 0.01),
    ("cifar_resnet32x4", "cifar_shufflev2"): (8.0, 0.01),
}


@pytest.fixture(scope="module")
def plan():
    return plan_sweep(PATH)


def method(run) -> str:
    terms = set(run.config["loss"]) - {"ce"}
    return terms.pop() if terms else "ce"


def test_recipe_is_mdistillers(plan):
    for run in plan.runs:
        c = run.config
        assert c["epochs"] == 240 and c["data"]["batch_size"] == 64 and c["data"]["name"] == "cifar100"
        assert c["schedule"] == {"name": "multistep", "milestones": [150, 180, 210], "gamma": 0.1}
        assert {k: c["optim"][k] for k in ("name", "momentum", "weight_decay", "nesterov")} == {
            "name": "sgd", "momentum": 0.9, "weight_decay": 5.0e-4, "nesterov": False}
        assert c["data"]["train_transforms"] == [{"name": "RandomCrop", "size": 32, "padding": 4},
                                                 {"name": "RandomHorizontalFlip"}] and c["data"]["copies"] is None
        assert c["loss"]["ce"]["weight"] == (0.1 if "kd" in c["loss"] else 1.0)


def test_pairs_methods_and_seeds(plan):
    assert len(plan.runs) == 165 and len({r.group for r in plan.runs}) == 66
    stages = {r.stage: r.config["student"]["arch"] for r in plan.runs if r.stage}
    assert stages == {"resnet56": "cifar_resnet56", "resnet110": "cifar_resnet110",
                      "resnet32x4": "cifar_resnet32x4", "wrn_40_2": "cifar_wrn_40_2", "vgg13": "cifar_vgg13",
                      "ResNet50": "cifar_resnet50"}
    taught = collections.defaultdict(set)
    for run in plan.runs:
        if run.config["teacher"]:
            pair = (run.config["teacher"]["arch"], run.config["student"]["arch"])
            beta, lr = PAIRS[pair]
            assert run.config["optim"]["lr"] == lr and run.depends_on == [run.config["teacher"]["key"]]
            taught[pair].add((method(run), run.config["seed"]))
            if "dkd" in run.config["loss"]:
                assert run.config["loss"]["dkd"] == {"alpha": 1.0, "beta": beta, "T": 4.0, "warmup_epochs": 20}
    assert {p: len(v) for p, v in taught.items()} == {p: 12 for p in PAIRS}  # kd, dkd, dist, crd x 3 seeds
    alone = {(r.config["student"]["arch"], r.config["optim"]["lr"], r.config["seed"])
             for r in plan.runs if not r.stage and r.config["teacher"] is None}
    assert alone == {(s, lr, seed) for (_, s), (_, lr) in PAIRS.items() for seed in (0, 1, 2)}  # 9 students


def test_one_fused_job_per_pair_and_seed(plan):
    groups = collections.defaultdict(list)
    for run in plan.runs:
        if run.config["teacher"]:
            groups[run.group].append(run)
    assert len(groups) == 33
    for runs in groups.values():
        assert sorted(method(r) for r in runs) == ["crd", "dist", "dkd", "kd"]
        assert len({(r.config["teacher"]["key"], r.config["student"]["arch"], r.config["seed"]) for r in runs}) == 1


def test_given_teachers_are_the_files_the_comment_names(plan):
    overrides = re.findall(r"-o (stages\.\w+\.checkpoint=\S+)", PATH.read_text())
    assert len(overrides) == 6
    given = plan_sweep(PATH, overrides)
    assert len(given.runs) == 159 and not any(r.stage for r in given.runs)
    for run in given.runs:
        if run.config["teacher"]:
            teacher = run.config["teacher"]
            stage = next(s for s, r in plan.stages.items() if r.config["student"]["arch"] == teacher["arch"])
            assert teacher["checkpoint"] == f"download_ckpts/cifar_teachers/{stage}_vanilla/ckpt_epoch_240.pth"
            assert run.depends_on == []


def test_the_tables_name_every_pair_and_their_references(plan):
    best, last = plan.sweep.tables
    assert (best["metric"], last["metric"]) == ("best_val_acc1", "final_val_acc1")
    rows = list(dict.fromkeys(c["text"] for c in best["rows"]["cases"]))
    assert len(rows) == 11 and rows == list(best["reference"]) == list(last["reference"])
    for case in best["rows"]["cases"]:
        when = case["when"]
        if "student.arch" in when:
            assert PAIRS[(when["teacher.arch"][0], when["student.arch"])]
            assert case["text"].split(" -> ")[0] in plan.sweep.stages
    assert all(set(v) == {"teacher", "student", "KD", "CRD"} for v in last["reference"].values())
