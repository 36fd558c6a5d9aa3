"""`kdsweep keys` and docs/keys.md: the reference of every key a sweep takes, generated from the
declarations, answers for every key of every shipped sweep, and the committed file is not stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kdsweep.spec.defaults import FREE_FORM
from kdsweep.spec.key_reference import TOP_LEVEL_HELP, render_markdown, sections
from kdsweep.spec.load import TOP_LEVEL_KEYS, load_sweep

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "plan"))
from sweep_files import REL, SWEEPS  # noqa: E402

DOCUMENTED = {d.key for _, _, docs in sections() for d in docs}


def documented(key: str) -> bool:
    """A dotted run key as a sweep writes it is in the reference (component options under their name)."""
    if key in DOCUMENTED or any(key.startswith(f + ".") for f in FREE_FORM):
        return True
    section, _, rest = key.partition(".")
    if section == "loss":  # loss.<term> or loss.<term>.<option>
        return (f"loss.{rest}" if "." in rest else f"loss.{rest}") in DOCUMENTED
    if section in ("optim", "schedule"):  # optim.<option>: an option of some optimiser
        return any(k.startswith(f"{section}.") and k.endswith(f".{rest}") for k in DOCUMENTED)
    return False


def dotted(tree: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v and key not in FREE_FORM and not (key.startswith("loss.") and key.count(".") >= 2):
            out += dotted(v, key + ".")
        else:
            out.append(key)
    return out


def sweep_keys(rel: str) -> list[str]:
    sweep = load_sweep(SWEEPS / rel)
    keys = dotted(sweep.base)
    for body in sweep.stages.values():
        keys += dotted(body)
    axes = list(sweep.grid) + [k for z in sweep.zips for k in z] + [k for p in sweep.points for k in p]
    for axis in axes:
        keys.append(axis)
    if sweep.search is not None:
        keys += [str(k) for k in getattr(sweep.search, "space", {})]
    return sorted(set(keys))


@pytest.mark.parametrize("rel", REL)
def test_every_key_of_every_shipped_sweep_is_in_the_reference(rel):
    missing = [k for k in sweep_keys(rel) if not documented(k)]
    assert not missing, f"{rel}: not in `kdsweep keys`: {missing}"


def test_the_checker_is_not_a_rubber_stamp():
    assert documented("loss.dkd.beta") and documented("optim.lr") and documented("student.kwargs.widths")
    assert not documented("loss.dkd.betta") and not documented("optim.lrr") and not documented("data.nmae")


def test_top_level_keys_each_have_a_line():
    assert list(TOP_LEVEL_HELP) == list(TOP_LEVEL_KEYS)


def test_docs_keys_md_is_the_generated_reference():
    path = REPO / "docs" / "keys.md"
    assert path.read_text().rstrip("\n") == render_markdown().rstrip("\n"), \
        "docs/keys.md is stale: regenerate it with `kdsweep keys --markdown > docs/keys.md`"


def test_kdsweep_keys_prefix_through_the_cli_without_torch():
    code = ("import sys; from kdsweep.cli import main; rc = main(sys.argv[1:]); "
            "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, "keys", "loss.dkd"], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "loss.dkd.beta" in proc.stdout and "= 8.0" in proc.stdout and "loss.kd.T" not in proc.stdout
    bad = subprocess.run([sys.executable, "-c", code, "keys", "lossx"], capture_output=True, text=True,
                         cwd=REPO, timeout=60)
    assert bad.returncode == 2 and "lossx" in bad.stderr
