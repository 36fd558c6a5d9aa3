"""Writers of tiny data sets in each data set's real on-disk format, for the real loaders."""

from __future__ import annotations

import io
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_jpeg(
    path: Path, rng: np.random.Generator, size: tuple[int, int] = (20, 16), value: int | None = None
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    if value is None:
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    else:
        pixels = np.full((h, w, 3), value, dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=95)


class Python2Pickler(pickle._Pickler):  # the pure-Python pickler, whose dispatch table can be extended
    """Writes text and bytes as Python 2 `str` (BINSTRING opcodes), protocol 2, as the CIFAR-100 python
    archive was written (cPickle): keys, names and the numpy array's raw data all come back as Python 3
    `str` under `encoding="latin1"`, which is why torchvision and our loader unpickle with it."""

    def save_py2_str(self, obj: str | bytes) -> None:
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch = {**pickle._Pickler.dispatch, str: save_py2_str, bytes: save_py2_str}


def dump_python2(obj: object, path: Path) -> None:
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(obj)
    path.write_bytes(buffer.getvalue())


def write_cifar100(root: Path, n_train: int = 30, n_test: int = 10, seed: int = 0) -> Path:
    """root/cifar-100-python/{train,test,meta} as the real archive's Python 2 pickles (rows of 3072
    uint8 in a numpy array, fine and coarse labels as lists of int)."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, n in (("train", n_train), ("test", n_test)):
        part = {
            "filenames": [f"img_{i}.png" for i in range(n)],
            "batch_label": f"{name} batch",
            "fine_labels": [int(v) for v in rng.integers(0, 100, n)],
            "coarse_labels": [int(v) for v in rng.integers(0, 20, n)],
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        }
        dump_python2(part, folder / name)
    meta = {
        "fine_label_names": [f"class_{i}" for i in range(100)],
        "coarse_label_names": [f"super_{i}" for i in range(20)],
    }
    dump_python2(meta, folder / "meta")
    return root


WNIDS = ["n01532829", "n01558993", "n01704323"]


def write_mini_imagenet(root: Path, per_class: int = 4, seed: int = 0) -> Path:
    """004's layout; classes_name.json indexes the wnids in reverse sorted order on purpose."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    table = {wnid: [len(WNIDS) - 1 - k, f"name of {wnid}"] for k, wnid in enumerate(WNIDS)}
    (root / "classes_name.json").write_text(json.dumps(table))
    rows = {"new_train.csv": [], "new_val.csv": []}
    for wnid in WNIDS:
        for i in range(per_class):
            filename = f"{wnid}{i:08d}.jpg"
            write_jpeg(root / "images" / filename, rng)
            rows["new_val.csv" if i == 0 else "new_train.csv"].append((filename, wnid))
    for name, items in rows.items():  # pandas' to_csv: an unnamed index column first
        lines = [",filename,label"] + [f"{i},{fn},{label}" for i, (fn, label) in enumerate(items)]
        (root / name).write_text("\n".join(lines) + "\n")
    return root


def write_tree(
    root: Path,
    classes: tuple[str, ...] = ("ant", "bee", "cat"),
    n_train: int = 3,
    n_val: int = 1,
    seed: int = 0,
) -> Path:
    """An ImageFolder pair root/{train,val}/<class>/<n>.jpg."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for cls in classes:
            for i in range(n):
                write_jpeg(root / split / cls / f"{i}.jpg", rng)
    return root


def write_food11(root: Path, labels: tuple[int, ...] = (0, 3, 10), n: int = 2, seed: int = 0) -> Path:
    """root/{training,validation,evaluation}/<label>_<n>.jpg (evaluation: <n>.jpg, no label)."""
    rng = np.random.default_rng(seed)
    for split in ("training", "validation"):
        for label in labels:
            for i in range(n):
                write_jpeg(root / split / f"{label}_{i}.jpg", rng)
    for i in range(2):
        write_jpeg(root / "evaluation" / f"{i}.jpg", rng)
    return root


@pytest.fixture(autouse=True)
def _every_data_test_on_one_thread(one_thread):
    """Tiny tensors: intra-op threads only contend on the shared 2-core test machine
    (`one_thread` is tests/engine/conftest.py's)."""


@pytest.fixture
def cifar_root(tmp_path: Path) -> Path:
    return write_cifar100(tmp_path / "cifar")


@pytest.fixture
def mini_root(tmp_path: Path) -> Path:
    return write_mini_imagenet(tmp_path / "mini")


@pytest.fixture
def tree_root(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "tree")


@pytest.fixture
def food_root(tmp_path: Path) -> Path:
    return write_food11(tmp_path / "food")


@pytest.fixture
def writers():
    """The writers themselves, for tests that need another layout or size."""
    from types import SimpleNamespace

    return SimpleNamespace(
        jpeg=write_jpeg,
        cifar100=write_cifar100,
        mini_imagenet=write_mini_imagenet,
        tree=write_tree,
        food11=write_food11,
        wnids=WNIDS,
    )
