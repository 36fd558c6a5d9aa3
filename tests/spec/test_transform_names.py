"""Transforms are checked by the plan, torch-free: `kdsweep plan` refuses a misspelt transform or
argument in one line (exit 2, the key as written, a did-you-mean) before any job starts; before,
`RandomCorp` passed the plan and a fake-data smoke run, and 9 runs then failed on real data."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from kdsweep.errors import UserError
from kdsweep.spec.transform_names import check_data_transforms, parse_transforms, torchvision_transforms

REPO = Path(__file__).resolve().parents[2]


def test_the_transforms_read_from_source_are_torchvisions_with_their_parameters():
    from torchvision.transforms import v2

    from kdsweep.engine.data.transforms import known_names

    read = torchvision_transforms()
    assert sorted(read) == known_names()
    for name, sig in read.items():
        params = inspect.signature(getattr(v2, name)).parameters
        named = [p for p, v in params.items() if v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)]
        assert list(sig.params) == named, name
        assert sig.any_keyword == any(v.kind == v.VAR_KEYWORD for v in params.values()), name


@pytest.mark.parametrize(("specs", "where", "message"), [
    (["RandomCorp"], "data.train_transforms[0].name", "did you mean 'RandomCrop'"),
    ([{"name": "RandomCrop", "sise": 32}], "data.train_transforms[0].sise", "did you mean 'size'"),
    ([{"name": "RandomCrop", "padding": 4}], "data.train_transforms[0]", "RandomCrop needs size"),
    (["ToTensor", {"name": "RandomApply", "transforms": ["ColorJiter"]}],
     "data.train_transforms[1].transforms[0].name", "did you mean 'ColorJitter'"),
    ({"name": "Resize"}, "data.train_transforms", "expected a list of transforms"),
])
def test_bad_lists_name_the_key(specs, where, message):
    with pytest.raises(UserError) as err:
        check_data_transforms({"train_transforms": specs})
    assert err.value.where == where and message in str(err.value)


def test_good_lists_parse_and_each_copy_is_checked():
    good = [{"name": "RandomCrop", "size": 32, "padding": 4}, "RandomHorizontalFlip", "ToTensor",
            {"name": "Normalize", "mean": [0.5] * 3, "std": [0.2] * 3}]
    assert parse_transforms(good, "x")[0] == ("RandomCrop", {"size": 32, "padding": 4})
    with pytest.raises(UserError) as err:
        check_data_transforms({"copies": [good, ["RandomHorizontalFlp"]]})
    assert err.value.where == "data.copies[1][0].name"


def test_plan_refuses_a_misspelt_transform_in_one_line_without_torch(tmp_path):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("name: t\nbase:\n  data: {name: digits, train_transforms: [RandomCorp]}\n"
                     "  student: {arch: digits_student}\n")
    code = ("import sys; from kdsweep.cli import main; rc = main(sys.argv[1:]); "
            "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, "plan", str(sweep)], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "data.train_transforms[0].name" in lines[0] and "RandomCrop" in lines[0], lines
