"""Warnings raised in jobs reach the driver's console once per reason, with a count, and the runs' tags."""

from __future__ import annotations

import logging
import textwrap
import warnings

from execute_helpers import children, store_uri

from kdsweep.execute.notices import Notices, collected

SWEEP = """\
name: tiny_crd
base:
  epochs: 1
  data: {name: fake, batch_size: 16, limit: 48, val_limit: 16, workers: 0, num_classes: 4}
  student: {arch: digits_student}
  teacher: {run: teacher}
  loss: {crd: {weight: 0.8}}
stages:
  teacher:
    student: {arch: digits_teacher}
grid:
  loss.crd.nce_t: [0.07, 0.1]
"""


def test_crd_clamping_nce_k_is_said_once_on_the_console_and_tagged_on_its_runs(workdir, cli):
    path = workdir / "tiny_crd.yaml"
    path.write_text(textwrap.dedent(SWEEP))
    uri = store_uri(workdir)
    rc, _, err = cli("run", path, "--inline", "--no-fuse", "--no-system-metrics", "--tracking-uri", uri)
    assert rc == 0, err
    said = [line for line in err.splitlines() if line.startswith("kdsweep: warning from")]
    # Two jobs (--no-fuse) raise it: one line, counted; it states what it computed (4 classes of 12).
    assert said == ["kdsweep: warning from 2 jobs: loss.crd.nce_k 16384 is more than the 36 samples of other "
                    "classes beside the train split's largest class (12 of its 48 samples); drawing 36 negatives"]
    tags = {r.data.tags["mlflow.runName"]: r.data.tags.get("kdsweep.warnings", "") for r in children(uri, "tiny_crd")}
    assert tags["teacher"] == ""
    assert all(t.startswith("loss.crd.nce_k 16384 is more than") for n, t in tags.items() if n != "teacher")


def test_collected_keeps_each_text_once_and_notices_count_jobs_per_reason():
    with collected() as raised:
        for _ in range(3):
            warnings.warn("lr 0.5 is large", UserWarning, stacklevel=1)
            logging.getLogger("kdsweep.engine.test").warning("drawing %d negatives", 63)
    assert raised == ["drawing 63 negatives", "UserWarning: lr 0.5 is large"]
    notices = Notices()
    notices.add(raised)
    notices.add(["drawing 7 negatives"])  # the same reason with other numbers
    assert notices.lines() == ["warning from 2 jobs: drawing 63 negatives", "warning from 1 job: UserWarning: lr 0.5 "
                               "is large"]
