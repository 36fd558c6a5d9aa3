"""engine/data/fingerprint.py: file names and sizes per split, or the parameters of data made in code."""

from __future__ import annotations

from kdsweep.engine.data.fingerprint import as_json, fingerprint, split_of


def test_files_are_split_by_the_split_their_path_names():
    assert split_of("cifar-100-python/train") == "train"
    assert split_of("training/0_12.jpg") == "train"
    assert split_of("new_val.csv") == "val" and split_of("cifar-100-python/test") == "val"
    assert split_of("images/n01532829_1.jpg") == "shared" and split_of("constraint.txt") == "shared"


def test_a_split_digest_follows_its_file_names_and_sizes_only(tmp_path):
    for rel, size in (("train/a/1.png", 10), ("train/a/2.png", 20), ("val/a/1.png", 5)):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x" * size)
    data = {"name": "imagefolder", "root": str(tmp_path)}
    first = fingerprint(data)
    assert (first["train"].files, first["train"].bytes, first["val"].files) == (2, 30, 1)
    (tmp_path / "train/a/2.png").write_bytes(b"y" * 20)  # same name and size: the same data, by design
    assert fingerprint(data) == first
    (tmp_path / "train/a/2.png").write_bytes(b"y" * 21)
    second = fingerprint(data)
    assert second["train"].digest != first["train"].digest and second["val"] == first["val"]


def test_data_made_in_code_is_its_parameters():
    smoke = {"name": "cifar100", "root": "/nowhere", "fake": True, "limit": 48}
    assert fingerprint(smoke)["train"].source == "code"  # a smoke run reads no file
    assert as_json(fingerprint({"name": "digits", "limit": 300})) != as_json(fingerprint({"name": "digits"}))
