"""Benchmark 3, data pipeline: images/s of the tensor path vs torchvision's per-sample PIL path.

(a) the tensor path: uint8 images in memory (or memory-mapped from the decode-once cache),
    augmented a batch at a time by kdsweep's batched pipeline (`engine.data.batched`) on the
    training device, i.e. `build_data(..., on_device=true)` and its train batches;
(b) torchvision's classic recipe: a Dataset that opens each sample with PIL, per-sample
    transforms, a DataLoader with 2 worker processes (persistent, so worker start-up is paid
    once, not per epoch).
Both feed float32 normalised batches of the same size; one epoch each, alternating.

Cases: CIFAR-sized (32x32 uint8 arrays, RandomCrop(32, padding=4) + flip, batch 128), and an
ImageFolder of JPEGs written here at mini-ImageNet-like size (500x375, RandomResizedCrop(224) +
flip, batch 64). The JPEG case has two kdsweep sides (spec/data_path.py): "decoded", the tensor
path reading the decode-once cache (`on_device: true`; the cache is built once, timed
separately: its cost is paid once per machine, not per job or epoch), and "workers", what a CPU
run gets by default (`on_device: auto`): PIL decode and a uint8 crop-resize per sample in 2
DataLoader workers, flip and normalise batched in the main process. Run against an older
kdsweep (PYTHONPATH=<its checkout>), the same sides time what that version did with the same
configs: the before / after figures in benchmarks/README.md were taken so.

    python benchmarks/bench_data.py [--rounds 3] [--cifar 4096] [--jpegs 256] [--threads 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sidebyside import alternate, machine
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets
from torchvision import transforms as T

from kdsweep.engine.data import build_data
from kdsweep.engine.data.raw import IMAGENET_MEAN, IMAGENET_STD

CIFAR_MEAN, CIFAR_STD = (0.507, 0.487, 0.441), (0.267, 0.256, 0.276)


class ArrayImages(Dataset):
    """CIFAR's torchvision Dataset, in short: an HWC uint8 array, one PIL image per sample."""

    def __init__(self, x: np.ndarray, y: np.ndarray, transform):
        self.x, self.y, self.transform = x, y, transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.transform(Image.fromarray(self.x[i])), int(self.y[i])


def loader(dataset: Dataset, batch: int) -> DataLoader:
    return DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=2, persistent_workers=True,
                      generator=torch.Generator().manual_seed(0))


def epoch_of(batches) -> int:
    """Images in one epoch of batches: kdsweep's `Batch`es or a DataLoader's (x, y) pairs."""
    n = 0
    for batch in batches:
        n += (batch.x if hasattr(batch, "x") else batch[0]).shape[0]
    return n


def write_cifar_like(root: Path, n: int) -> Path:
    """A cifar100 folder (python pickles) of n smooth random images, as the real loader reads it."""
    import pickle

    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, (n, 3, 8, 8)).astype(np.float32)
    x = torch.nn.functional.interpolate(torch.from_numpy(coarse), size=32, mode="bilinear")
    rows = x.clamp(0, 255).round().to(torch.uint8).reshape(n, -1).numpy()
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, part in (("train", rows), ("test", rows[: max(2, n // 10)])):
        labels = [int(v) for v in rng.integers(0, 100, len(part))]
        with open(folder / name, "wb") as f:
            pickle.dump({"data": part, "fine_labels": labels, "coarse_labels": labels,
                         "filenames": [f"{i}.png" for i in range(len(part))], "batch_label": name}, f)
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": [f"c{i}" for i in range(100)],
                     "coarse_label_names": [f"s{i}" for i in range(20)]}, f)
    return root


def write_jpegs(root: Path, n: int, classes: int = 8) -> Path:
    """root/{train,val}/<class>/<i>.jpg, 500x375, smooth noise (realistic JPEG sizes)."""
    rng = np.random.default_rng(0)
    for split, count in (("train", n), ("val", max(classes, n // 8))):
        for i in range(count):
            coarse = rng.integers(0, 256, (3, 24, 32)).astype(np.float32)
            img = torch.nn.functional.interpolate(torch.from_numpy(coarse)[None], size=(375, 500),
                                                  mode="bicubic")[0]
            img = (img + torch.from_numpy(rng.normal(0, 12, (3, 375, 500)).astype(np.float32))).clamp(0, 255)
            path = root / split / f"c{i % classes}" / f"{i}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img.round().to(torch.uint8).permute(1, 2, 0).numpy()).save(path, quality=90)
    return root


def cifar_sides(root: Path, n: int, batch: int, device: torch.device) -> tuple[object, Dataset]:
    """The CIFAR-sized case's two sides: kdsweep's data bundle on `device` and the PIL Dataset
    (also benchmarks/gpu_check.py's, with the device's)."""
    cifar = write_cifar_like(root / "cifar", n)
    bundle = build_data({"name": "cifar100", "root": str(cifar), "batch_size": batch, "on_device": True,
                         "train_transforms": [{"name": "RandomCrop", "size": 32, "padding": 4},
                                              {"name": "RandomHorizontalFlip"},
                                              {"name": "Normalize", "mean": CIFAR_MEAN, "std": CIFAR_STD}]},
                        seed=0, device=device)
    hwc = bundle.train.x.permute(0, 2, 3, 1).contiguous().cpu().numpy()
    pil = ArrayImages(hwc, bundle.train.y.cpu().numpy(), T.Compose([
        T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(CIFAR_MEAN, CIFAR_STD)]))
    return bundle, pil


def jpeg_sides(root: Path, n: int, batch: int, device: torch.device) -> tuple[object, Dataset, float, float]:
    """The JPEG case's two sides, and the seconds to build the decode-once cache and to map it."""
    folder = write_jpegs(root / "jpegs", n)
    cfg = {"name": "imagefolder", "root": str(folder), "batch_size": batch, "workers": 2, "on_device": True,
           "cache_dir": str(root / "cache")}
    t0 = time.perf_counter()
    bundle = build_data(cfg, seed=0, device=device)  # decodes into the cache
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    build_data(cfg, seed=0, device=device)  # a later job: maps the cache
    map_s = time.perf_counter() - t0
    pil = datasets.ImageFolder(str(folder / "train"), T.Compose([
        T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]))
    return bundle, pil, build_s, map_s


def workers_side(root: Path, batch: int, device: torch.device) -> object:
    """The JPEG case's default path on `device` (`on_device: auto`), over jpeg_sides' files."""
    cfg = {"name": "imagefolder", "root": str(root / "jpegs"), "batch_size": batch, "workers": 2}
    return build_data(cfg, seed=0, device=device)


def cifar_case(root: Path, n: int, rounds: int) -> None:
    bundle, pil = cifar_sides(root, n, 128, torch.device("cpu"))
    report("CIFAR-sized, 32x32, RandomCrop(32, 4) + flip, batch 128", n, {"tensor": bundle}, loader(pil, 128),
           rounds)


def jpeg_case(root: Path, n: int, rounds: int) -> None:
    bundle, pil, build_s, map_s = jpeg_sides(root, n, 64, torch.device("cpu"))
    print(f"  decode-once cache: built in {build_s:.1f} s ({n / build_s:.0f} images/s, 2 workers), "
          f"mapped by a later job in {map_s * 1e3:.0f} ms")
    workers = workers_side(root, 64, torch.device("cpu"))
    report("ImageFolder of 500x375 JPEGs, RandomResizedCrop(224) + flip, batch 64", n,
           {"decoded": bundle, "workers": workers}, loader(pil, 64), rounds)


def report(title: str, n: int, bundles: dict[str, object], pil_loader: DataLoader, rounds: int) -> None:
    """Every kdsweep side against the PIL DataLoader, all alternated in the same rounds."""
    epochs = {name: 0 for name in bundles}

    def side(name: str):
        def one_epoch() -> int:
            epochs[name] += 1
            return epoch_of(bundles[name].train.batches(epochs[name]))
        return one_epoch

    sides = alternate({**{name: side(name) for name in bundles}, "pil": lambda: epoch_of(pil_loader)},
                      rounds=rounds)
    rates = ", ".join(f"{name} path {n / sides.median(name):.0f}" for name in bundles)
    print(f"{title}: {rates}, PIL + DataLoader(2 workers) {n / sides.median('pil'):.0f} images/s")
    for name in bundles:  # time ratio = images/s ratio (same images per epoch)
        print(f"  speed-up of the {name} path: {sides.ratio('pil', name)}; in CPU seconds (workers included): "
              f"{sides.cpu_ratio('pil', name)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cifar", type=int, default=4096, help="CIFAR-sized images")
    ap.add_argument("--jpegs", type=int, default=256, help="JPEG files in train/")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads of the tensor path (1: on a busy machine idle OpenMP threads spin)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# 3. data pipeline ({machine()})")
    print("tensor path on the CPU (no GPU here): the batched augmentation runs on the same 2 cores "
          "as the 2 DataLoader workers")
    with tempfile.TemporaryDirectory() as tmp:
        cifar_case(Path(tmp), args.cifar, args.rounds)
        jpeg_case(Path(tmp), args.jpegs, args.rounds)


if __name__ == "__main__":
    main()
