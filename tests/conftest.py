"""Shared test helpers: write a sweep file into tmp_path, run the real `kdsweep` CLI (in process or not)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kdsweep.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def private_decode_cache(tmp_path_factory, monkeypatch):
    """Decoded file data sets go to a per-test directory, never to the user's ~/.cache."""
    monkeypatch.setenv("KDSWEEP_CACHE_DIR", str(tmp_path_factory.mktemp("decoded")))


@pytest.fixture
def write_yaml(tmp_path):
    """write_yaml(text, name="sweep.yaml") -> path; the text is dedented."""

    def write(text: str, name: str = "sweep.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def cli(capsys):
    """cli(*argv) -> (exit code, stdout, stderr) of `kdsweep.cli.main`."""

    def run(*argv) -> tuple[int, str, str]:
        rc = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return rc, out, err

    return run


@pytest.fixture
def kdsweep(tmp_path):
    """kdsweep(*argv, cwd=tmp_path, timeout=120) -> CompletedProcess of `python -m kdsweep.cli` in a
    fresh process: what a user sees (exit code, stdout, stderr with any warnings), from this tree."""
    def run(*argv, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        return subprocess.run([sys.executable, "-m", "kdsweep.cli", *map(str, argv)], capture_output=True,
                              text=True, cwd=cwd or tmp_path, env=env, timeout=timeout)

    return run
