"""Every sweep file shipped in sweeps/ plans, and the write-ups' sweeps plan into what their documents
describe (the digits twins: test_plan_digits_twins.py).

Generic invariants run over every `sweeps/**/*.yaml` that is a sweep (files that only serve as an
`extends` base are checked as such). Specific counts and values run for every known file that
exists or that git tracks, so a committed sweep that goes missing fails.
"""

from __future__ import annotations

import json
import time

import pytest
from sweep_files import FRAGMENTS, REL, SWEEP_FILES, SWEEPS, known, read
from sweep_files import kd as kd_term

from kdsweep.plan import plan_sweep
from kdsweep.plan.keys import run_key
from kdsweep.spec.defaults import REQUIRED, RUN_DEFAULTS, TEACHER_DEFAULTS
from kdsweep.spec.dotted import flatten, get_path, has_path
from kdsweep.spec.entries import LOSSES, SCHEDULES
from kdsweep.spec.load import TOP_LEVEL_KEYS

REPO = SWEEPS.parent


def test_sweeps_are_shipped():
    assert "quickstart.yaml" in REL


@pytest.mark.parametrize("path", sorted(FRAGMENTS), ids=lambda p: str(p.relative_to(SWEEPS.resolve())))
def test_extends_bases_are_mappings_of_sweep_keys(path):
    data = read(path)
    assert isinstance(data, dict) and set(data) <= set(TOP_LEVEL_KEYS)


def _check_resolved(config: dict) -> None:
    """Every default is present, nothing required is left open, no key outside the contract."""
    assert set(config) == set(RUN_DEFAULTS)
    for path in flatten({k: v for k, v in RUN_DEFAULTS.items() if k not in ("loss", "schedule", "teacher")}):
        assert has_path(config, path), path
    for section in ("data", "student", "optim", "train"):
        assert set(config[section]) == set(RUN_DEFAULTS[section]), section
    assert config["student"]["arch"] not in (None, REQUIRED)
    schedule = config["schedule"]
    assert set(schedule) == {"name", *SCHEDULES.get(schedule["name"]).options.defaults()}
    assert "ce" in config["loss"]
    for term, body in config["loss"].items():
        assert set(body) == set(LOSSES.get(term).options.defaults()), term
    assert isinstance(config["loss"]["ce"]["weight"], (int, float))
    if any(LOSSES.get(t).needs_teacher for t in config["loss"]):
        teacher = config["teacher"]
        assert set(teacher) == set(TEACHER_DEFAULTS)
        assert teacher["arch"] not in (None, REQUIRED, "<from stage>")
        assert teacher["key"] or teacher["checkpoint"]
    else:
        assert config["teacher"] is None
    assert REQUIRED not in json.dumps(config, default=str)


@pytest.mark.parametrize("path", SWEEP_FILES, ids=REL)
def test_shipped_sweep_plans(path, cli):
    start = time.perf_counter()
    plan = plan_sweep(path)
    assert time.perf_counter() - start < 1.0
    runs = plan.runs
    assert runs
    keys = [r.key for r in runs]
    assert len(set(keys)) == len(keys)
    index = {r.key: i for i, r in enumerate(runs)}
    for i, run in enumerate(runs):
        assert run.key == run_key(run.config)  # the key is the hash of what is planned
        _check_resolved(run.config)
        for dep in run.depends_on:
            assert index[dep] < i, f"{run.name} needs {dep} planned later"
            assert runs[index[dep]].stage is not None
        teacher = run.config["teacher"]
        if teacher and teacher.get("run"):
            assert teacher["key"] in run.depends_on
            stage = runs[index[teacher["key"]]]
            assert teacher["arch"] == stage.config["student"]["arch"]
    stage_names = [r.stage for r in runs if r.stage]
    assert len(set(stage_names)) == len(stage_names)
    assert all(r.stage for r in runs[:len(stage_names)])  # stages first
    # runs in one group share everything but optimiser lr and loss weights / temperatures
    for members in plan.groups.values():
        first = members[0].config
        for other in members[1:]:
            config = other.config
            for k in ("seed", "epochs", "data", "student", "teacher", "schedule", "train"):
                assert config[k] == first[k], k
            assert {**config["optim"], "lr": 0} == {**first["optim"], "lr": 0}
            mode = [(c["loss"].get("refinery") or {}).get("teacher_mode") for c in (config, first)]
            assert mode[0] == mode[1]
    # declared tables name config keys the runs carry
    for table in plan.sweep.tables:
        wanted = [table[a] for a in ("rows", "cols") if isinstance(table.get(a), str)]  # else cases, checked by plan
        wanted += [c["key"] for c in table.get("columns", []) if "key" in c]
        for key in (k for k in wanted if k not in ("stage", "name")):  # the report's pseudo-keys
            assert any(has_path(r.config, key) for r in runs), f"{table['name']}: no run has {key}"

    rc, out, err = cli("plan", path, "--json")
    assert rc == 0 and err == ""
    rows = json.loads(out)
    assert [r["key"] for r in rows] == keys
    for row in rows:
        assert {"key", "stage", "depends_on", "group", "point", "config"} <= set(row)
    rc, out, _ = cli("plan", path)
    assert rc == 0 and plan.sweep.name in out and f"{len(runs)} runs" in out


# --- what each document's sweep must plan into -------------------------------------------------


def _students(plan):
    return [r for r in plan.runs if r.stage is None]




def check_quickstart(plan):
    """8 runs: the teacher stage, alpha {0.5, 0.9} x T {2, 4, 8}, and the student without KD."""
    assert len(plan.runs) == 8
    stage, *students = plan.runs
    assert stage.stage == "teacher" and stage.config["student"]["arch"] == "digits_teacher"
    assert stage.config["teacher"] is None and set(stage.config["loss"]) == {"ce"}
    assert stage.config["loss"]["ce"]["weight"] == 1.0
    grid = students[:6]
    assert [kd_term(r) for r in grid] == [(a, t) for a in (0.5, 0.9) for t in (2, 4, 8)]
    for run in grid:
        assert run.config["loss"]["ce"]["weight"] == pytest.approx(1 - run.config["loss"]["kd"]["alpha"])
        assert run.depends_on == [stage.key] and run.config["teacher"]["arch"] == "digits_teacher"
        assert run.group == grid[0].group
    baseline = students[6]
    assert baseline.point == {"loss.kd": None} and baseline.config["teacher"] is None
    assert baseline.depends_on == [] and baseline.config["loss"]["ce"]["weight"] == 1.0
    assert {r.config["student"]["arch"] for r in students} == {"digits_student"}
    assert {r.config["data"]["name"] for r in plan.runs} == {"digits"}
    # the teacher trains 15 epochs on every image, the students 20 epochs on 300 of them
    assert (stage.config["epochs"], stage.config["data"]["limit"]) == (15, None)
    assert {(r.config["epochs"], r.config["data"]["limit"]) for r in students} == {(20, 300)}
    assert len(plan.groups) == 3


def _mini_imagenet(run, epochs=100):
    c = run.config
    assert c["data"]["name"] == "mini_imagenet" and c["data"]["batch_size"] == 64 and c["epochs"] == epochs
    assert c["optim"]["name"] == "sgd" and c["optim"]["momentum"] == 0.9
    assert c["optim"]["weight_decay"] == pytest.approx(1e-4)


def check_shufflenet_T_alpha(plan):
    """004: alpha 0.9 x T {1, 3, 5, 10}, plus T = 3 with alpha 0.7, 0.6, 0.5; teacher x2.0 planned once."""
    assert len(plan.runs) == 8
    stage, *students = plan.runs
    assert stage.stage and stage.config["student"]["arch"] == "shufflenet_v2_x2_0"
    assert stage.config["teacher"] is None and "kd" not in stage.config["loss"]
    assert [kd_term(r) for r in students] == [
        (0.9, 1), (0.9, 3), (0.9, 5), (0.9, 10), (0.7, 3), (0.6, 3), (0.5, 3)]
    for run in plan.runs:
        _mini_imagenet(run)
    for run in students:
        assert run.config["student"]["arch"] == "shufflenet_v2_x1_0"
        assert run.config["loss"]["ce"]["weight"] == pytest.approx(1 - run.config["loss"]["kd"]["alpha"])
        assert run.config["loss"]["kd"]["t2_scale"] is True
        assert run.depends_on == [stage.key] and run.config["teacher"]["arch"] == "shufflenet_v2_x2_0"
    assert len({r.group for r in students}) == 1  # one pass over the data feeds all seven students
    table = {t["name"]: t for t in plan.sweep.tables}["T_alpha"]
    assert (table["rows"], table["cols"]) == ("loss.kd.alpha", "loss.kd.T")


def check_shufflenet_sizes(plan):
    """004: the three widths trained alone."""
    assert [r.config["student"]["arch"] for r in plan.runs] == [
        "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"]
    for run in plan.runs:
        _mini_imagenet(run)
        assert run.stage is None and run.config["teacher"] is None and run.depends_on == []
        assert run.config["schedule"]["name"] == "cosine" and run.config["schedule"]["warmup_epochs"] == 1
    assert len(plan.groups) == 3


def check_shufflenet_tricks(plan):
    """004: step / cosine / cosine + warm-up 1 / cosine + warm-up 3 on shufflenet_v2_x1_0."""
    assert len(plan.runs) == 4
    schedules = [r.config["schedule"] for r in plan.runs]
    assert schedules[0]["name"] == "step" and schedules[0]["step_size"] == 30 and schedules[0]["gamma"] == 0.1
    assert [s["name"] for s in schedules[1:]] == ["cosine"] * 3
    assert [s["warmup_epochs"] for s in schedules[1:]] == [0, 1, 3]
    assert {s["floor"] for s in schedules[1:]} == {1e-4}
    for run in plan.runs:
        _mini_imagenet(run)
        assert run.config["student"]["arch"] == "shufflenet_v2_x1_0" and run.config["teacher"] is None
    # the table's row labels: each run matches its own case, in order
    table = {t["name"]: t for t in plan.sweep.tables}["tricks"]
    cases = next(c["cases"] for c in table["columns"] if "cases" in c)
    matched = [next(case["text"] for case in cases
                    if all(get_path(run.config, k) == v for k, v in case["when"].items()))
               for run in plan.runs]
    assert matched == ["steplr", "cosinlr", "cosinlr + warmup 1 epoch", "cosinlr + warmup 3 epoch"]


def check_resnet_kd(plan):
    """004: resnet18 / 34 alone, resnet50 (the teacher stage), resnet50 -> resnet18 with T = 3, alpha 0.6."""
    assert len(plan.runs) == 4
    stage, *students = plan.runs
    assert stage.stage and stage.config["student"]["arch"] == "resnet50" and stage.config["teacher"] is None
    alone = [r for r in students if r.config["teacher"] is None]
    assert [r.config["student"]["arch"] for r in alone] == ["resnet18", "resnet34"]
    (kd,) = [r for r in students if r.config["teacher"]]
    assert kd.config["student"]["arch"] == "resnet18" and kd_term(kd) == (0.6, 3)
    assert kd.config["loss"]["ce"]["weight"] == pytest.approx(0.4)
    assert kd.depends_on == [stage.key] and kd.config["teacher"]["arch"] == "resnet50"
    for run in plan.runs:
        _mini_imagenet(run)


def _cifar_efficientnet(run):
    c = run.config
    assert c["data"]["name"] == "cifar100" and c["data"]["batch_size"] == 32  # the code's, not the README's 128
    # B0 / B3's LR_REGIME ends at epoch 70, ex / exx's at 75 (FA-Dist-EfficientNet models/)
    assert c["epochs"] == (75 if c["student"]["arch"] in ("efficientnet_ex", "efficientnet_exx") else 70)
    assert c["optim"]["lr"] == 0.07 and c["optim"]["weight_decay"] == pytest.approx(1e-4)
    assert c["schedule"] == {"name": "multistep", "milestones": [25, 50, 65], "gamma": 0.1}
    assert c["student"]["head"] == {"name": "cosine", "s": 5.0, "m": 0.0, "hidden": 200}


def _refinery_chain(plan, names, archs):
    """Stages `names` in order, each refined from the one before (the first trained from labels)."""
    stages = plan.runs[:len(names)]
    assert [r.stage for r in stages] == names
    assert [r.config["student"]["arch"] for r in stages] == archs
    assert stages[0].config["teacher"] is None and stages[0].depends_on == []
    assert set(stages[0].config["loss"]) == {"ce"} and stages[0].config["loss"]["ce"]["weight"] == 1.0
    for prev, run in zip(stages, stages[1:], strict=False):
        assert run.depends_on == [prev.key]
        assert run.config["teacher"]["key"] == prev.key and run.config["teacher"]["run"] == prev.stage
        assert run.config["teacher"]["arch"] == prev.config["student"]["arch"]
        assert run.config["teacher"]["head"] == prev.config["student"]["head"]  # the cosine head travels
        assert set(run.config["loss"]) == {"ce", "refinery"} and run.config["loss"]["ce"]["weight"] == 0.0
        assert run.config["loss"]["refinery"]["teacher_mode"] == "eval"
    for run in plan.runs:
        _cifar_efficientnet(run)
    return stages


def check_efficientnet_fa(plan):
    """000: B3 -> B3r -> B0 (+ FA, + Fast FA), three seeds each: 2 stages + 9 students."""
    assert len(plan.runs) == 11
    _, b3r = _refinery_chain(plan, ["b3", "b3r"], ["efficientnet_cifar_b3"] * 2)
    students = _students(plan)
    assert len(students) == 9
    fa = [(r.config["loss"].get("fa") or {}).get("fast") for r in students]
    assert fa == [None] * 3 + [False] * 3 + [True] * 3
    assert [r.config["seed"] for r in students] == [0, 1, 2] * 3
    for run in students:
        assert run.config["student"]["arch"] == "efficientnet_cifar_b0"
        assert run.depends_on == [b3r.key] and run.config["teacher"]["arch"] == "efficientnet_cifar_b3"
        assert run.config["loss"]["ce"]["weight"] == 0.0 and run.config["loss"]["refinery"]["weight"] == 1.0
        if "fa" in run.config["loss"]:
            fa_cfg = run.config["loss"]["fa"]
            assert fa_cfg["student_layer"] == fa_cfg["teacher_layer"] and fa_cfg["weight"] == 1.0
            # 000's FA was refinery_loss.py's loc_fa_loss (dist 10, alpha 2); Fast FA has no local weights
            assert (fa_cfg["local_radius"], fa_cfg["local_weight"]) == ((None, 2.0) if fa_cfg["fast"] else (10, 2.0))
    # one group per seed: with and without FA share the data pass and the teacher forward
    assert len({r.group for r in students}) == 3
    assert all(len({r.group for r in students if r.config["seed"] == s}) == 1 for s in (0, 1, 2))


def check_micronet_refinery(plan):
    """001: B3 -> B3r -> B0 -> EfficientNet-ex / -exx, a depends_on chain of four links."""
    assert len(plan.runs) == 5
    archs = ["efficientnet_cifar_b3"] * 2 + ["efficientnet_cifar_b0"]
    *_, b0 = _refinery_chain(plan, ["b3", "b3r", "b0"], archs)
    students = _students(plan)
    assert [r.config["student"]["arch"] for r in students] == ["efficientnet_ex", "efficientnet_exx"]
    for run in students:
        assert run.depends_on == [b0.key] and run.config["teacher"]["arch"] == "efficientnet_cifar_b0"
        assert set(run.config["loss"]) == {"ce", "refinery"} and run.config["loss"]["ce"]["weight"] == 0.0
    if (SWEEPS / "efficientnet_fa.yaml").is_file():  # same key, same experiment, across sweeps
        other = {r.stage or r.name: r.key for r in plan_sweep(SWEEPS / "efficientnet_fa.yaml").runs}
        assert [other["b3"], other["b3r"]] == [r.key for r in plan.runs[:2]]
        assert b0.key == other["fa=none seed=0"]


def check_mobilenet_caltech_kd(plan):
    """002: pretrain (Caltech-256) -> finetune (Caltech-101, frozen features) -> MobileNets-M,
    with / without KD x constant / cosine x lr 1e-4 / 2e-4."""
    assert len(plan.runs) == 10
    pretrain, finetune, *students = plan.runs
    assert (pretrain.stage, finetune.stage) == ("pretrain", "finetune")
    c = pretrain.config
    assert c["data"]["name"] == "caltech256" and c["data"]["batch_size"] == 16 and c["epochs"] == 300
    assert c["schedule"] == {"name": "warm_restarts", "T_0": 20, "T_mult": 2, "eta_min": pytest.approx(9e-6)}
    assert c["student"]["arch"] == "mobilenet_v2" and c["teacher"] is None and set(c["loss"]) == {"ce"}
    c = finetune.config
    assert c["data"]["name"] == "caltech101" and c["epochs"] == 30 and c["student"]["freeze"] == [{"module": "features", "bn": "train"}]
    assert c["student"]["init"]["run"] == "pretrain" and c["student"]["init"]["key"] == pretrain.key
    assert finetune.depends_on == [pretrain.key] and c["teacher"] is None
    assert c["optim"]["name"] == "adamw" and c["optim"]["lr"] == pytest.approx(1e-4)
    assert c["schedule"] == {"name": "constant"}
    assert len(students) == 8
    seen = set()
    for run in students:
        c = run.config
        assert c["student"]["arch"] == "mobilenets_m" and c["data"]["name"] == "caltech101"
        assert c["epochs"] == 120 and c["optim"]["name"] == "adamw" and c["optim"]["weight_decay"] == 0.01
        kd = c["loss"].get("kd")
        if kd:
            assert kd == {"T": 5, "alpha": 0.7, "t2_scale": False}
            assert c["loss"]["ce"]["weight"] == pytest.approx(0.3)  # 002's "alpha = 0.3 on the hard loss"
            assert run.depends_on == [finetune.key] and c["teacher"]["arch"] == "mobilenet_v2"
        else:
            assert c["teacher"] is None and run.depends_on == [] and c["loss"]["ce"]["weight"] == 1.0
        if c["schedule"]["name"] == "cosine":
            assert c["schedule"]["per"] == "iter" and c["schedule"]["floor"] == 0.1
        seen.add((bool(kd), c["schedule"]["name"], c["optim"]["lr"]))
    assert seen == {(k, s, lr) for k in (True, False) for s in ("constant", "cosine") for lr in (1e-4, 2e-4)}
    table = {t["name"]: t for t in plan.sweep.tables}["kd_scheduler_lr"]
    assert len(table["reference"]) == len(students)


def check_food11_kd(plan):
    """003: simple (CE only), medium (KD T = 20, alpha 0.5), boss (+ dwpw student, strong aug, alignment)."""
    assert len(plan.runs) == 3 and not any(r.stage for r in plan.runs)
    simple, medium, boss = plan.runs
    for run in plan.runs:
        c = run.config
        assert c["data"]["name"] == "food11"
        assert c["optim"]["name"] == "adam" and c["optim"]["grad_clip"] == 10 and run.depends_on == []
    # the course's sample cfg for simple / medium; 003's printed cfg for boss
    assert [(r.config["epochs"], r.config["data"]["batch_size"], r.config["optim"]["lr"], r.config["train"]["patience"])
            for r in plan.runs] == [(10, 64, 3e-4, 300), (700, 64, 3e-4, 300), (600, 128, 1e-3, 60)]
    assert simple.config["teacher"] is None and set(simple.config["loss"]) == {"ce"}
    assert simple.config["student"]["arch"] == "food11_student"
    assert medium.config["student"]["arch"] == "food11_student" and kd_term(medium) == (0.5, 20)
    assert medium.config["loss"]["ce"]["weight"] == pytest.approx(0.5)
    assert medium.config["teacher"]["arch"] == "resnet18" and medium.config["teacher"]["checkpoint"]
    assert boss.config["student"]["arch"] == "dwpw_student" and kd_term(boss) == (0.5, 20)
    assert [(p["teacher"], p["weight"]) for p in boss.config["loss"]["hint"]["layers"]] == [
        ("layer1", 3), ("layer2", 2), ("layer3", 1)]
    assert boss.config["data"]["train_transforms"][0]["name"] == "RandomResizedCrop"
    assert [t["name"] for t in medium.config["data"]["train_transforms"]] == ["Resize", "CenterCrop",
                                                                             "RandomHorizontalFlip"]  # food11's own


EXPECT = {
    "quickstart.yaml": check_quickstart,
    "shufflenet_T_alpha.yaml": check_shufflenet_T_alpha,
    "shufflenet_sizes.yaml": check_shufflenet_sizes,
    "shufflenet_tricks.yaml": check_shufflenet_tricks,
    "resnet_kd.yaml": check_resnet_kd,
    "efficientnet_fa.yaml": check_efficientnet_fa,
    "micronet_refinery.yaml": check_micronet_refinery,
    "mobilenet_caltech_kd.yaml": check_mobilenet_caltech_kd,
    "food11_kd.yaml": check_food11_kd,
}
KNOWN = known(EXPECT)


@pytest.mark.parametrize("name", KNOWN)
def test_sweep_plans_as_its_document_says(name):
    path = SWEEPS / name
    assert path.is_file(), f"{name} is committed but missing"
    EXPECT[name](plan_sweep(path))
