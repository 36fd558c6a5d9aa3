"""Which data path a run gets (kdsweep.spec.data_path): one decision, torch-free, shown by the plan."""

from __future__ import annotations

import json
import typing

import pytest

from kdsweep.errors import UserError
from kdsweep.spec import names
from kdsweep.spec.data_path import DECODED, TENSOR, WORKERS, choose, planned


def never() -> bool:
    raise AssertionError("fits() is asked only for auto on CUDA")


@pytest.mark.parametrize(("on_device", "files", "device", "fits", "path"), [
    ("auto", False, "cpu", never, TENSOR),
    (False, False, "cuda", never, TENSOR),  # on_device only says where the tensors are kept
    ("auto", True, "cpu", never, WORKERS),  # the CPU's default for image files
    ("auto", True, "cuda", lambda: True, DECODED),
    ("auto", True, "cuda", lambda: False, WORKERS),
    (True, True, "cpu", never, DECODED),
    ("true", True, "cpu", never, DECODED),
    ("false", True, "cuda", never, WORKERS),
])
def test_choose(on_device, files, device, fits, path):
    assert choose(on_device, files=files, device_type=device, fits=fits) == path


def test_a_bad_on_device_names_the_key():
    with pytest.raises(UserError, match="data.on_device: expected true, false or auto, got 'yes'"):
        choose("yes", files=True, device_type="cpu", fits=never)


def test_file_data_sets_are_the_loaders_returning_file_data():
    from kdsweep.engine.data import DATASETS
    from kdsweep.engine.data.raw import FileData

    files = [n for n in DATASETS.known() if typing.get_type_hints(DATASETS.get(n).load)["return"] is FileData]
    assert sorted(names.datasets_of_files()) == sorted(files)
    assert {"imagefolder", "mini_imagenet", "food11"} <= set(files) and "cifar100" not in files


def test_planned_without_a_device():
    assert planned({"name": "digits", "on_device": "auto"}) == TENSOR
    assert planned({"name": "imagefolder", "on_device": "auto"}) == "workers (CUDA: decoded if it fits)"
    assert planned({"name": "imagefolder", "on_device": True}) == DECODED
    assert planned({"name": "imagefolder", "on_device": "false"}) == WORKERS
    assert planned({"name": "imagefolder", "on_device": True, "fake": True}) == TENSOR  # a smoke run


def test_plan_shows_each_runs_path(tmp_path, capsys):
    from kdsweep.plan import plan_sweep
    from kdsweep.plan.render import print_plan

    (tmp_path / "s.yaml").write_text("name: s\nbase:\n  epochs: 1\n  student: {arch: digits_student}\n"
                                     "  data: {name: imagefolder, root: /nowhere}\n")
    shown = []
    for overrides in ([], ["data.on_device=true"]):
        print_plan(plan_sweep(tmp_path / "s.yaml", overrides), as_json=True)
        shown += [run["data_path"] for run in json.loads(capsys.readouterr().out)]
    assert shown == ["workers (CUDA: decoded if it fits)", DECODED]
