"""Installing kdsweep prints no setuptools deprecation (issue 12.13): the license is an SPDX string."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def setuptools_77():
    """These tests run setuptools' hooks in this environment; `pip install` builds in an isolated one
    with setuptools>=77 (pyproject.toml), so an older one here says nothing about the install."""
    import setuptools

    if tuple(int(p) for p in setuptools.__version__.split(".")[:2]) < (77, 0):
        pytest.skip(f"setuptools {setuptools.__version__} here; the build isolates a >=77 one")


def test_license_is_an_spdx_string_and_setuptools_can_read_it():
    text = (REPO / "pyproject.toml").read_text()  # (tomllib is 3.11+; kdsweep supports 3.10)
    assert re.search(r'^license = "MIT"$', text, re.M)
    assert re.search(r'^requires = \["setuptools>=77"\]', text, re.M)  # older setuptools reject the string form


def test_building_the_metadata_warns_about_nothing(tmp_path, setuptools_77):
    """What `pip install -e .` runs first, without pip or the network: setuptools' PEP 517 hook."""
    code = ("import sys, warnings; warnings.simplefilter('always'); from setuptools import build_meta; "
            f"print(build_meta.prepare_metadata_for_build_wheel({str(tmp_path)!r}))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Deprecat" not in proc.stdout + proc.stderr
    dist_info = tmp_path / proc.stdout.strip().splitlines()[-1]
    assert "License-Expression: MIT" in (dist_info / "METADATA").read_text()


def test_the_editable_install_prints_no_warning(tmp_path, setuptools_77):
    """`make setup`'s `pip install -e`: setuptools' PEP 517 editable hook under the Makefile's
    PYTHONWARNINGS filter prints nothing; without it, setuptools' caution about folders named like
    the package (here the folder is the package) is what it prints."""
    makefile = (REPO / "Makefile").read_text()
    quiet = re.search(r"^EDITABLE_QUIET := (.+)$", makefile, re.M).group(1)
    assert re.search(r'^\tPYTHONWARNINGS="\$\(EDITABLE_QUIET\)" \$\(BIN\)/pip install -q -e', makefile, re.M)

    def build(*filters: str) -> str:
        code = f"from setuptools import build_meta; build_meta.build_editable({str(tmp_path)!r})"
        proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONWARNINGS": ",".join(("always", *filters))})
        assert proc.returncode == 0, proc.stderr[-3000:]
        # pip forwards the hook's warnings (as BuildBackendWarning); its logging it keeps to itself
        return "\n".join(line for line in proc.stderr.splitlines() if "Warning" in line or ": Editable" in line)

    assert "Editable installation" in build()
    assert build(quiet) == ""


def test_the_readme_and_make_demo_say_how_kdsweep_gets_on_the_path():
    """Every hint writes `kdsweep ...`; after `make demo` it lives in .venv/bin, not on the PATH (issue 20)."""
    first_block = (REPO / "README.md").read_text().split("```")[1]
    assert "source .venv/bin/activate" in first_block
    demo = re.search(r"^demo:.*?(?=^\S)", (REPO / "Makefile").read_text(), re.S | re.M).group()
    assert "source $(BIN)/activate" in demo.splitlines()[-2]  # its last word, after the table
