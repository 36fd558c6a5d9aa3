"""Runs record the data they saw; a finished run whose data changed since is not skipped silently.

Through the CLI: an image-folder sweep trains once; an image added to its train split stops the next
`kdsweep run` in one line naming the run and what changed; `status` shows it; `--accept-data` keeps the
run and records the new data; `--rerun-changed` trains it again in a fresh MLflow run."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from execute_helpers import children, store_uri
from PIL import Image

SWEEP = """\
name: tiny_folder
base:
  epochs: 1
  data: {name: imagefolder, root: images, batch_size: 4, workers: 0, input_size: 16}
  student: {arch: digits_student}
"""


def add_image(path, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


@pytest.fixture
def sweep(workdir):
    for split in ("train", "val"):
        for label in ("cat", "dog"):
            for i in range(3):
                add_image(workdir / "images" / split / label / f"{i}.png", hash((split, label, i)) % 1000)
    path = workdir / "tiny_folder.yaml"
    path.write_text(textwrap.dedent(SWEEP))
    return path


@pytest.mark.slow  # ~20 s: four trainings of one epoch
def test_a_data_change_under_a_finished_run_stops_the_next_run_until_told(sweep, workdir, cli):
    uri = store_uri(workdir)
    store = ["--inline", "--no-system-metrics", "--tracking-uri", uri]
    assert cli("run", sweep, *store)[0] == 0
    (run,) = children(uri, "tiny_folder")
    inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}  # the run page's Datasets section
    assert sorted(inputs) == ["imagefolder train", "imagefolder val"]
    assert json.loads(inputs["imagefolder train"].dataset.profile)["files"] == 6
    assert {t.value for t in inputs["imagefolder val"].tags} == {"validation"}
    recorded = json.loads(run.data.tags["kdsweep.data"])
    assert recorded["train"] == inputs["imagefolder train"].dataset.digest

    rc, out, _ = cli("run", sweep, *store)  # nothing changed: skipped as finished
    assert rc == 0 and "all 1 runs already finished" in out + _

    add_image(workdir / "images" / "train" / "cat" / "3.png", 7)
    rc, _, err = cli("run", sweep, *store)
    assert rc == 2
    (line,) = err.strip().splitlines()
    assert "the data changed since 1 finished run(s) trained (base): imagefolder under images: train now 7 files" in line
    assert "--rerun-changed trains them again, --accept-data keeps their results" in line

    rc, out, _ = cli("status", sweep, "--tracking-uri", uri)
    assert "data changed since: imagefolder under images: train now 7 files" in out

    rc, _, err = cli("run", sweep, *store, "--accept-data")
    assert rc == 0 and "kept 1 finished run(s) on the new data" in err
    (run,) = children(uri, "tiny_folder")
    assert json.loads(run.data.tags["kdsweep.data_accepted"]) == recorded
    assert "data changed" not in cli("status", sweep, "--tracking-uri", uri)[1]

    add_image(workdir / "images" / "val" / "dog" / "3.png", 8)
    rc, _, err = cli("run", sweep, *store, "--rerun-changed")
    assert rc == 0, err
    runs = children(uri, "tiny_folder")
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}  # a fresh child beside the old
