"""A user's mistake: one line naming the file, the key path and what was expected; exit 2, no traceback.

Every case writes a small sweep into tmp_path and runs the real CLI entry (`kdsweep plan`).
"""

from __future__ import annotations

import pytest

PLAIN = """\
name: t
base:
  student: {arch: digits_student}
"""

# A student distilled from the stage `teacher`.
KD = """\
name: t
base:
  student: {arch: digits_student}
  teacher: {run: teacher}
  loss: {kd: {T: 4, alpha: 0.9}}
stages:
  teacher:
    student: {arch: digits_teacher}
"""


def case(id_, files, fragments, args=(), named="sweep.yaml"):
    """files: the main text (sweep.yaml) or {name: text}; fragments: all must be in the one error line."""
    if isinstance(files, str):
        files = {"sweep.yaml": files}
    return pytest.param(files, list(args), list(fragments), named, id=id_)


CASES = [
    # --- top level -------------------------------------------------------------------------------
    case("unknown-top-level-key", PLAIN + "gird: {seed: [1, 2]}\n",
         ["unknown top-level key 'gird'", "did you mean 'grid'?"]),
    case("top-level-is-a-list", "- name: t\n- base: {}\n",
         ["expected a mapping at the top level", "got list"]),
    case("top-level-is-a-scalar", "just some words\n", ["expected a mapping at the top level", "got str"]),
    case("missing-name", "base:\n  student: {arch: digits_student}\n", ["name: required", "non-empty string"]),
    case("name-not-text", "name: [a]\nbase:\n  student: {arch: digits_student}\n", ["name: required"]),
    case("base-not-a-mapping", "name: t\nbase: [1, 2]\n", ["base: expected a mapping", "got [1, 2]"]),
    case("stage-body-not-a-mapping", PLAIN + "stages:\n  big: resnet50\n",
         ["stages.big: expected a mapping", "'resnet50'"]),
    # --- YAML and files --------------------------------------------------------------------------
    case("yaml-syntax-error", "name: t\nbase:\n  student: {arch: s\n  epochs: 3\n",
         ["YAML syntax error at line 4", "expected ',' or '}'"]),
    case("yaml-tab-indent", "name: t\nbase:\n\tstudent: {arch: digits_student}\n",
         ["YAML syntax error at line 3", "'\\t'"]),
    case("yaml-control-character", "name: t\nbase: \x01\n",
         ["YAML syntax error at line 2", "special characters are not allowed"]),
    case("yaml-syntax-error-in-extended-file",
         {"sweep.yaml": "extends: parent.yaml\nname: t\n", "parent.yaml": "base:\n  - a\n  b: 1\n"},
         ["YAML syntax error at line 3"], named="parent.yaml"),
    case("missing-extends-file", "extends: nowhere/base.yaml\n" + PLAIN,
         ["extends: 'nowhere/base.yaml' not found", "relative to this file"]),
    case("extends-not-a-path", "extends: [a.yaml]\n" + PLAIN, ["extends: expected a file path"]),
    case("extends-cycle",
         {"sweep.yaml": "extends: other.yaml\n" + PLAIN, "other.yaml": "extends: sweep.yaml\n"},
         ["`extends` cycle", "sweep.yaml -> ", "other.yaml -> "]),
    # --- base values -----------------------------------------------------------------------------
    case("unknown-key-in-base-optim", PLAIN + "  optim: {lr: 0.1, momentun: 0.9}\n",
         ["optim.momentun", "unknown key 'momentun'", "did you mean 'momentum'?"]),
    case("unknown-key-in-base-data", PLAIN + "  data: {batch: 32}\n",
         ["data.batch", "did you mean 'batch_size'"]),
    case("epochs-not-an-integer", PLAIN + "  epochs: ten\n",
         ["base: epochs: expected an integer, got 'ten'"]),
    case("lr-not-a-number", PLAIN + "  optim: {lr: fast}\n", ["optim.lr: expected", "a number, got 'fast'"]),
    case("lr-in-e-notation", PLAIN + "  optim: {lr: 1e-3}\n",
         ["optim.lr: expected", "got '1e-3'", "write 1.0e-3"]),
    case("lr-in-e-notation-without-sign", PLAIN + "  optim: {lr: 1.0e6}\n",
         ["optim.lr: expected", "got '1.0e6'", "needs a dot and a signed exponent: write 1.0e+6"]),
    case("seed-not-an-integer", PLAIN + "  seed: 1.5\n", ["base: seed: expected an integer, got 1.5"]),
    case("bool-is-not-an-integer", PLAIN + "  epochs: true\n", ["epochs: expected an integer, got True"]),
    case("freeze-not-a-list", "name: t\nbase:\n  student: {arch: digits_student, freeze: features}\n",
         ["student.freeze: expected a list, got 'features'"]),
    case("student-not-a-mapping", "name: t\nbase:\n  student: resnet18\n",
         ["base: student: expected a mapping, got 'resnet18'"]),
    case("missing-student-arch", "name: t\nbase:\n  epochs: 2\n", ["base: student.arch: is required"]),
    case("epochs-zero", PLAIN + "  epochs: 0\n", ["epochs: expected at least 1, got 0"]),
    case("negative-lr", PLAIN + "  optim: {lr: -0.1}\n", ["optim.lr: expected a learning rate > 0"]),
    case("unknown-optimizer", PLAIN + "  optim: {name: sdg}\n",
         ["optim.name: 'sdg' is not one of sgd, adam, adamw"]),
    case("unknown-device", PLAIN + "  device: tpu\n", ["device: 'tpu' is not one of auto, cpu, cuda"]),
    case("unknown-amp-mode", PLAIN + "  train: {amp: fp8}\n",
         ["train.amp: 'fp8' is not one of off, bf16, fp16"]),
    # --- schedules -------------------------------------------------------------------------------
    case("unknown-schedule", PLAIN + "  schedule: {name: cosin}\n",
         ["schedule.name: unknown schedule 'cosin'", "did you mean 'cosine'?"]),
    case("schedule-name-not-text", PLAIN + "  schedule: {name: [cosine]}\n",
         ["schedule.name: unknown schedule ['cosine']", "did you mean 'cosine'?"]),
    case("multistep-without-milestones", PLAIN + "  schedule: {name: multistep}\n",
         ["schedule.milestones: is required"]),
    case("unknown-schedule-parameter", PLAIN + "  schedule: {name: step, step: 30}\n",
         ["schedule.step: unknown key 'step'", "did you mean 'step_size'?"]),
    # --- losses and teachers ---------------------------------------------------------------------
    case("unknown-loss-term", PLAIN + "  loss: {kdd: {T: 4}}\n",
         ["loss.kdd: unknown loss term 'kdd'", "did you mean 'kd'"]),
    case("kd-alpha-above-one", KD.replace("alpha: 0.9", "alpha: 1.5"),
         ["loss.kd.alpha: expected a weight in [0, 1], got 1.5"]),
    case("kd-temperature-zero", KD.replace("T: 4", "T: 0"), ["loss.kd.T: expected a temperature > 0, got 0"]),
    case("kd-T-not-a-number", KD.replace("T: 4", "T: hot"), ["loss.kd.T: expected", "got 'hot'"]),
    case("kd-not-a-mapping", KD.replace("{kd: {T: 4, alpha: 0.9}}", "{kd: 3}"),
         ["loss.kd: expected a mapping, got 3"]),
    case("kd-without-teacher", PLAIN + "  loss: {kd: {T: 4}}\n",
         ["base: teacher: loss term(s) kd need a teacher", "teacher: {run: <stage>}"]),
    case("fa-without-layers", KD.replace("{kd: {T: 4, alpha: 0.9}}", "{fa: {weight: 1}}"),
         ["loss.fa.student_layer: is required"]),
    case("hint-layer-not-a-pair", KD.replace("{kd: {T: 4, alpha: 0.9}}", "{hint: {layers: [conv1]}}"),
         ["loss.hint.layers[0]: expected {student: <module>, teacher: <module>"]),
    case("teacher-not-a-mapping", KD.replace("{run: teacher}", "teacher"),
         ["base: teacher: expected a mapping", "got 'teacher'"]),
    case("teacher-arch-without-checkpoint", KD.replace("{run: teacher}", "{arch: resnet50}"),
         ["teacher.checkpoint: a teacher given by arch needs `checkpoint: <path>`"]),
    # --- stages ----------------------------------------------------------------------------------
    case("unknown-stage-in-teacher-run", KD.replace("{run: teacher}", "{run: teachr}"),
         ["teacher.run: unknown stage 'teachr'", "did you mean 'teacher'?"]),
    case("stage-cycle", PLAIN + """\
stages:
  a: {teacher: {run: b}, loss: {kd: {}}}
  b: {teacher: {run: a}, loss: {kd: {}}}
""", ["stages.a.teacher.run: stage cycle: a -> b -> a"]),
    case("stage-names-missing-teacher-stage", PLAIN + """\
stages:
  b3: {student: {arch: efficientnet_cifar_b3}}
  b3r: {student: {arch: efficientnet_cifar_b3}, teacher: {run: b4}, loss: {refinery: {}}}
""", ["stages.b3r.teacher.run: unknown stage 'b4'", "known: b3, b3r"]),
    case("teacher-run-but-no-stages", PLAIN + "  teacher: {run: big}\n  loss: {kd: {}}\n",
         ["base: teacher.run: unknown stage 'big': this sweep declares no `stages:`"]),
    case("stage-teacher-run-not-text", PLAIN + "stages:\n  a: {teacher: {run: [b]}, loss: {kd: {}}}\n",
         ["stages.a.teacher.run: unknown stage ['b']"]),
    case("init-run-unknown-stage", KD + "points:\n  - {student.init: {run: teachr}}\n",
         ["student.init.run: unknown stage 'teachr'", "did you mean 'teacher'?"]),
    case("init-run-not-text", KD + "points:\n  - {student.init: {run: [teacher]}}\n",
         ["student.init.run: unknown stage ['teacher']"]),
    case("stage-with-kd-but-no-teacher",
         KD + "  student2:\n    student: {arch: food11_student}\n    loss: {kd: {T: 2}}\n",
         ["stages.student2: teacher: loss term(s) kd need a teacher"]),
    case("bad-value-in-stage-body",
         KD.replace("student: {arch: digits_teacher}", "student: {arch: digits_teacher}\n    optim: {lr: x}"),
         ["stages.teacher: optim.lr: expected", "got 'x'"]),
    # --- grid, zip, points, seeds ----------------------------------------------------------------
    case("empty-grid-axis", KD + "grid:\n  loss.kd.T: []\n",
         ["grid.loss.kd.T: empty list: an axis needs at least one value"]),
    case("grid-axis-not-a-list", KD + "grid:\n  loss.kd.T: 4\n",
         ["grid.loss.kd.T: expected a list of values, got 4"]),
    case("grid-not-a-mapping", KD + "grid: [1, 2]\n",
         ["grid: expected a mapping of dotted key -> list of values"]),
    case("zip-unequal-lengths", KD + "zip:\n  loss.kd.T: [1, 2, 3]\n  loss.kd.alpha: [0.5, 0.9]\n",
         ["zip: axes that vary together need equal lengths", "loss.kd.T has 3", "loss.kd.alpha has 2"]),
    case("zip-axis-also-in-grid",
         KD + "grid:\n  loss.kd.T: [1, 2]\nzip:\n  loss.kd.T: [1, 2]\n  loss.kd.alpha: [0.5, 0.6]\n",
         ["zip.loss.kd.T: also a grid axis; name each axis once"]),
    case("zip-entry-not-a-mapping", KD + "zip: [[1, 2]]\n",
         ["zip[0]: expected a mapping of dotted key -> list"]),
    case("grid-value-of-wrong-type", PLAIN + "grid:\n  epochs: [1, ten]\n",
         ["point epochs=ten: epochs: expected an integer, got 'ten'"]),
    case("grid-value-of-wrong-type-nested", KD + "grid:\n  optim.lr: [0.1, fast]\n",
         ["point lr=fast: optim.lr: expected", "got 'fast'"]),
    case("grid-axis-with-typo", PLAIN + "grid:\n  optim.lrr: [0.1, 0.2]\n",
         ["point lrr=0.1: optim.lrr: unknown key 'lrr'", "did you mean 'lr'?"]),
    case("point-with-bad-value", KD + "points:\n  - {loss.kd.alpha: 2}\n",
         ["point alpha=2: loss.kd.alpha: expected a weight in [0, 1], got 2"]),
    case("points-not-a-list", PLAIN + "points: {epochs: 2}\n",
         ["points: expected a list of mappings", "{'epochs': 2}"]),
    case("empty-point", PLAIN + "points: [{}]\n", ["points[0]: expected a non-empty mapping"]),
    case("seeds-not-integers", PLAIN + "seeds: [1, two]\n", ["seeds: expected integers, got 'two'"]),
    case("seeds-not-a-list", PLAIN + "seeds: 3\n", ["seeds: expected a list of values, got 3"]),
    case("seeds-repeated", PLAIN + "seeds: [1, 1]\n", ["seeds: repeated seed in [1, 1]"]),
    # --- tables ----------------------------------------------------------------------------------
    case("table-unknown-kind", PLAIN + "tables:\n  - {name: x, kind: pivt, rows: a, cols: b}\n",
         ["tables.x.kind: 'pivt' is not one of pivot, list"]),
    case("table-pivot-missing-rows", PLAIN + "tables:\n  - {name: x, kind: pivot, cols: loss.kd.T}\n",
         ["tables.x.rows: a pivot needs `rows: <dotted config key>`"]),
    case("table-bad-column", PLAIN + "tables:\n  - {name: x, columns: [{kye: loss.kd}]}\n",
         ["tables.x.columns[0].kye: unknown key 'kye'", "did you mean 'key'?"]),
    case("table-column-with-two-sources", PLAIN + "tables:\n  - {name: x, columns: [{key: a, metric: b}]}\n",
         ["tables.x.columns[0]: a column names exactly one of key"]),
    case("table-unknown-key", PLAIN + "tables:\n  - {name: x, columns: [{metric: a}], titel: T}\n",
         ["tables.x.titel: unknown key 'titel'", "did you mean 'title'?"]),
    case("table-without-name", PLAIN + "tables:\n  - {kind: list, columns: [{metric: a}]}\n",
         ["tables[0]: name: required"]),
    case("tables-share-a-name",
         PLAIN + "tables:\n  - {name: x, columns: [{metric: a}]}\n  - {name: x, columns: [{metric: b}]}\n",
         ["tables.x: two tables share this name"]),
    # --- -o overrides ----------------------------------------------------------------------------
    case("override-without-equals", PLAIN, ["-o 'epochs': expected KEY=VALUE"], args=["-o", "epochs"]),
    case("override-empty-key-part", PLAIN, ["-o 'data..root=/x'", "is not a dotted key path"],
         args=["-o", "data..root=/x"]),
    case("override-unknown-key", PLAIN, ["epochz: unknown key 'epochz'", "did you mean 'epochs'?"],
         args=["-o", "epochz=1"]),
    case("override-unknown-nested-key", PLAIN, ["optim.lrate: unknown key 'lrate'", "known: "],
         args=["-o", "optim.lrate=0.1"]),
    case("override-wrong-type", PLAIN, ["epochs: expected an integer, got 'ten'"], args=["-o", "epochs=ten"]),
    case("override-bad-yaml-value", PLAIN, ["-o 'optim.betas=[0.9, 0.99'", "not valid YAML"],
         args=["-o", "optim.betas=[0.9, 0.99"]),
]


@pytest.mark.parametrize("files, args, fragments, named", CASES)
def test_user_error_is_one_line_exit_2(files, args, fragments, named, tmp_path, cli):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    rc, out, err = cli("plan", tmp_path / "sweep.yaml", *args)
    assert rc == 2, err
    assert out == ""
    assert "Traceback" not in err
    assert err.startswith("kdsweep: error: ") and err.endswith("\n") and err.count("\n") == 1, repr(err)
    assert str(tmp_path / named) in err, err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"


def test_at_least_twenty_five_cases():
    assert len(CASES) >= 25


def test_missing_sweep_file(tmp_path, cli):
    rc, out, err = cli("plan", tmp_path / "nope.yaml")
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"sweep file '{tmp_path / 'nope.yaml'}' not found" in err


def test_not_utf8(tmp_path, cli):
    path = tmp_path / "sweep.yaml"
    path.write_bytes(b"name: t\nbase: {student: {arch: \xff}}\n")
    rc, _, err = cli("plan", path)
    assert rc == 2 and err.count("\n") == 1
    assert f"{path}: not UTF-8 text" in err and "line 2" in err


def test_error_in_extends_chain_names_the_sweep(tmp_path, cli):
    """A bad value inherited from an `extends` file is reported against the sweep being planned."""
    (tmp_path / "parent.yaml").write_text("base:\n  optim: {momentun: 0.9}\n")
    (tmp_path / "sweep.yaml").write_text("extends: parent.yaml\n" + PLAIN)
    rc, _, err = cli("plan", tmp_path / "sweep.yaml")
    assert rc == 2 and err.count("\n") == 1
    assert str(tmp_path / "sweep.yaml") in err and "optim.momentun" in err and "'momentum'" in err


def test_usage_error_exits_2(cli, capsys):
    with pytest.raises(SystemExit) as exc:
        cli("plan")
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err
