"""Installing kdsweep prints no setuptools deprecation (issue 12.13): the license is an SPDX string."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_license_is_an_spdx_string_and_setuptools_can_read_it():
    text = (REPO / "pyproject.toml").read_text()  # (tomllib is 3.11+; kdsweep supports 3.10)
    assert re.search(r'^license = "MIT"$', text, re.M)
    assert re.search(r'^requires = \["setuptools>=77"\]', text, re.M)  # older setuptools reject the string form


def test_building_the_metadata_warns_about_nothing(tmp_path):
    """What `pip install -e .` runs first, without pip or the network: setuptools' PEP 517 hook."""
    import setuptools

    if tuple(int(p) for p in setuptools.__version__.split(".")[:2]) < (77, 0):
        pytest.skip(f"setuptools {setuptools.__version__} here; the build isolates a >=77 one")
    code = ("import sys, warnings; warnings.simplefilter('always'); from setuptools import build_meta; "
            f"print(build_meta.prepare_metadata_for_build_wheel({str(tmp_path)!r}))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Deprecat" not in proc.stdout + proc.stderr
    dist_info = tmp_path / proc.stdout.strip().splitlines()[-1]
    assert "License-Expression: MIT" in (dist_info / "METADATA").read_text()
