"""Stages: base deep-merged with the stage body (never the students' teacher or distillation terms),
planned in dependency order, their model copied into the students' teacher; `null` removes a key."""

from __future__ import annotations

from kdsweep.plan import plan_sweep

BASE = """\
name: st
base:
  seed: 4
  epochs: 12
  data: {name: digits, batch_size: 32}
  student: {arch: dwpw_student, cifar: true}
  teacher: {run: big}
  optim: {name: sgd, lr: 0.05, weight_decay: 5.0e-4}
  schedule: {name: cosine, warmup_epochs: 1}
  train: {amp: bf16}
  loss:
    ce: {label_smoothing: 0.1}
    kd: {T: 4, alpha: 0.9}
    hint: {layers: [{student: a, teacher: b}]}
"""


def test_stage_is_base_merged_with_body_without_teacher_or_distillation(write_yaml):
    plan = plan_sweep(write_yaml(BASE + """\
stages:
  big:
    epochs: 20
    student: {arch: resnet18, head: {name: cosine, s: 5}}
    optim: {lr: 0.1}
"""))
    stage, student = plan.runs
    c = stage.config
    assert stage.stage == "big" and stage.point == {} and stage.depends_on == []
    assert c["epochs"] == 20 and c["seed"] == 4
    assert c["data"]["batch_size"] == 32 and c["train"]["amp"] == "bf16"
    assert c["student"]["arch"] == "resnet18" and c["student"]["cifar"] is True  # deep merge keeps cifar
    assert c["student"]["head"] == {"name": "cosine", "s": 5}
    assert c["optim"] == {**student.config["optim"], "lr": 0.1}
    assert c["schedule"] == student.config["schedule"]
    assert c["teacher"] is None
    assert c["loss"] == {"ce": {"weight": 1.0, "label_smoothing": 0.1}}  # ce inherited, kd and hint not
    # the student's teacher is the stage's model
    t = student.config["teacher"]
    assert (t["arch"], t["cifar"], t["head"]) == ("resnet18", True, {"name": "cosine", "s": 5})
    assert t["key"] == stage.key and t["run"] == "big" and student.depends_on == [stage.key]
    assert student.config["loss"]["ce"]["weight"] == 0.1
    assert set(student.config["loss"]) == {"ce", "hint", "kd"}


def test_teacher_model_fields_come_from_the_stage_not_the_student_section(write_yaml):
    plan = plan_sweep(write_yaml(BASE.replace("{run: big}", "{run: big, arch: wrong, cifar: false}") + """\
stages:
  big:
    student: {arch: resnet18, num_classes: 7, kwargs: {width: 2}}
"""))
    t = plan.runs[1].config["teacher"]
    assert (t["arch"], t["cifar"], t["num_classes"], t["kwargs"]) == ("resnet18", True, 7, {"width": 2})


def test_teacher_num_classes_falls_back_to_the_stage_data(write_yaml):
    text = BASE.replace("{name: digits, batch_size: 32}", "{name: fake, num_classes: 5}")
    plan = plan_sweep(write_yaml(text + "stages:\n  big:\n    student: {arch: resnet18}\n"))
    assert plan.runs[1].config["teacher"]["num_classes"] == 5


def test_stage_body_may_name_its_own_teacher_and_loss(write_yaml):
    plan = plan_sweep(write_yaml(BASE + """\
stages:
  root: {student: {arch: digits_teacher}}
  big:
    student: {arch: resnet18}
    teacher: {run: root}
    loss: {refinery: {teacher_mode: train}}
"""))
    root, big, student = plan.runs
    assert big.config["teacher"]["arch"] == "digits_teacher" and big.depends_on == [root.key]
    assert set(big.config["loss"]) == {"ce", "refinery"} and big.config["loss"]["ce"]["weight"] == 0.0
    assert big.config["loss"]["ce"]["label_smoothing"] == 0.1
    assert big.config["loss"]["refinery"]["teacher_mode"] == "train"
    assert student.depends_on == [big.key]


def test_refinery_chain_is_a_depends_on_chain_in_dependency_order(write_yaml):
    """001: b3 -> b3r -> b0 -> ex, declared out of order; planned parents first."""
    plan = plan_sweep(write_yaml("""\
name: chain
base:
  student: {arch: efficientnet_ex}
  teacher: {run: b0}
  loss: {refinery: {}}
stages:
  b0: {student: {arch: efficientnet_cifar_b0}, teacher: {run: b3r}, loss: {refinery: {}}}
  b3r: {student: {arch: efficientnet_cifar_b3}, teacher: {run: b3}, loss: {refinery: {}}}
  b3: {student: {arch: efficientnet_cifar_b3}}
grid:
  student.arch: [efficientnet_ex, efficientnet_exx]
"""))
    assert [r.stage for r in plan.runs] == ["b3", "b3r", "b0", None, None]
    b3, b3r, b0, ex, exx = plan.runs
    assert b3.depends_on == [] and b3r.depends_on == [b3.key] and b0.depends_on == [b3r.key]
    assert ex.depends_on == exx.depends_on == [b0.key]
    assert [r.config["teacher"]["arch"] for r in (b3r, b0, ex)] == ["efficientnet_cifar_b3", "efficientnet_cifar_b3", "efficientnet_cifar_b0"]
    assert b3.key != b3r.key  # the same model, trained on other targets


def test_stage_inherits_overrides(write_yaml, cli):
    path = write_yaml(BASE + "stages:\n  big: {student: {arch: resnet18}}\n")
    plan = plan_sweep(path, ["epochs=1", "data.root=/x", "loss.ce.label_smoothing=0.0"])
    for run in plan.runs:
        assert run.config["epochs"] == 1 and run.config["data"]["root"] == "/x"
        assert run.config["loss"]["ce"]["label_smoothing"] == 0.0
    assert plan.runs[1].config["teacher"]["key"] == plan.runs[0].key


def test_null_removes_kd_and_drops_the_teacher(write_yaml):
    plan = plan_sweep(write_yaml(BASE + """\
stages:
  big: {student: {arch: resnet18}}
grid:
  loss.kd: [null, {T: 2, alpha: 0.5}]
  loss.hint: [null]
"""))
    big, without, with_kd = plan.runs
    assert without.config["teacher"] is None and without.depends_on == []
    assert set(without.config["loss"]) == {"ce"} and without.config["loss"]["ce"]["weight"] == 1.0
    assert without.point == {"loss.kd": None, "loss.hint": None} and without.name == "kd=none hint=none"
    assert with_kd.config["loss"]["kd"] == {"T": 2, "alpha": 0.5, "t2_scale": True}  # a mapping replaces
    assert with_kd.config["loss"]["ce"]["weight"] == 0.5 and with_kd.depends_on == [big.key]
    assert big.stage == "big"  # the stage stays planned


def test_null_removes_a_nested_value(write_yaml):
    plan = plan_sweep(write_yaml(BASE + "stages:\n  big: {student: {arch: resnet18}}\n"
                                        "points:\n  - {train.amp: null, loss.ce: null}\n"))
    c = plan.runs[1].config
    assert c["train"]["amp"] == "off" and c["loss"]["ce"] == {"weight": 0.1, "label_smoothing": 0.0}


def test_stage_with_point_of_its_own_model_is_reused(write_yaml):
    """A sweep point that trains exactly the stage (the big model alone) is that stage, not a second run."""
    point = "points:\n  - {student.arch: resnet18, loss.kd: null, loss.hint: null}\n"
    plan = plan_sweep(write_yaml(BASE + "stages:\n  big: {student: {arch: resnet18}}\n" + point))
    assert len(plan.runs) == 1 and plan.runs[0].stage == "big"
    assert plan.runs[0].point == {"student.arch": "resnet18", "loss.kd": None, "loss.hint": None}


def test_overrides_reach_stages_but_not_their_teacher_or_kd(tmp_path):
    """`-o epochs=1` shortens a 300-epoch stage too; `-o loss.kd.T=2` leaves the stages alone."""
    from kdsweep.plan import plan_sweep

    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\n"
        "base: {epochs: 50, student: {arch: digits_student}, teacher: {run: big}, loss: {kd: {T: 4}}}\n"
        "stages: {big: {epochs: 300, data: {name: digits}, student: {arch: digits_teacher}}}\n"
    )
    plan = plan_sweep(path, ["epochs=1", "data.name=fake", "loss.kd.T=2"])
    stage, student = plan.runs
    assert stage.config["epochs"] == 1 and stage.config["data"]["name"] == "fake"
    assert "kd" not in stage.config["loss"] and stage.config["teacher"] is None
    assert student.config["epochs"] == 1 and student.config["loss"]["kd"]["T"] == 2


CE_ONLY = """\
name: ce
base:
  epochs: 1
  data: {name: digits}
  student: {arch: digits_student}
  teacher: {run: nope}
"""


def test_unknown_teacher_stage_is_an_error_even_when_no_loss_term_uses_it(write_yaml, cli):
    """`teacher: {run: nope}` with CE only used to be dropped silently (plan and run exit 0)."""
    path = write_yaml(CE_ONLY)
    rc, out, err = cli("plan", path)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and str(path) in err and "teacher.run" in err
    assert "unknown stage 'nope': this sweep declares no `stages:`" in err
    # ... in a grid point too, and with stages declared (the message offers the known names)
    path = write_yaml(CE_ONLY.replace("{run: nope}", "{run: big}")
                      + "stages: {big: {student: {arch: digits_teacher}}}\ngrid: {teacher.run: [big, bgi]}\n")
    rc, _, err = cli("plan", path)
    assert rc == 2 and "unknown stage 'bgi'" in err and "big" in err and err.count("\n") == 1


def test_teacher_that_no_loss_term_uses_is_a_warning(write_yaml, cli):
    path = write_yaml(CE_ONLY.replace("{run: nope}", "{run: big}") + "stages: {big: {student: {arch: digits_teacher}}}\n")
    rc, out, err = cli("plan", path)
    assert rc == 0 and "big" in out
    assert err.startswith("kdsweep: warning: ") and "no loss term of any run uses the teacher" in err
    assert err.count("\n") == 1
    # A no-KD baseline beside KD points is a normal sweep: no warning.
    path = write_yaml(CE_ONLY.replace("{run: nope}", "{run: big}") + "  loss: {kd: {T: 4, alpha: 0.9}}\n"
                      "stages: {big: {student: {arch: digits_teacher}}}\ngrid: {loss.kd.T: [2, 4]}\npoints: [{loss.kd: null}]\n")
    rc, _, err = cli("plan", path)
    assert rc == 0 and err == ""
