import pytest

from kdsweep.engine.data.layout import missing, require_root, split_root
from kdsweep.errors import UserError


def test_split_root_prefers_the_root_then_a_named_child(tmp_path):
    for split in ("train", "val"):
        (tmp_path / "a" / split).mkdir(parents=True)
        (tmp_path / "b" / "Caltech_101" / split).mkdir(parents=True)
    (tmp_path / "b" / "other" / "train").mkdir(parents=True)
    assert split_root(tmp_path / "a", ["caltech101"], ["train", "val"]) == tmp_path / "a"
    assert split_root(tmp_path / "b", ["caltech101"], ["train", "val"]) == tmp_path / "b" / "Caltech_101"
    assert split_root(tmp_path / "b", ["food11"], ["train", "val"]) == tmp_path / "b"


def test_messages_follow_the_one_line_form(tmp_path):
    err = missing(tmp_path / "x", "food11", "<root>/training", "kaggle")
    assert (
        str(err)
        == f"data.root: {tmp_path / 'x'} does not exist; food11 expects <root>/training; get it from kaggle"
    )
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match="file does not exist; d expects L; get it from S"):
        require_root({"root": str(tmp_path / "file")}, "d", "L", "S")  # a file is not a data root
