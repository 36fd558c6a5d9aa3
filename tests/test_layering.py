"""The house's layering rules (DESIGN.md), enforced: spec and plan import no torch; the engine
imports no Ray, MLflow, rich, CLI, execute, tracking or report code; report imports no engine
or torch. Every import statement is checked (also the ones inside functions), and a fresh
interpreter shows what planning and reporting really load."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "kdsweep"

FORBIDDEN = {
    "spec": ("torch", "torchvision", "kdsweep.engine", "kdsweep.execute", "kdsweep.tracking", "kdsweep.report"),
    "plan": ("torch", "torchvision", "kdsweep.engine", "kdsweep.execute", "kdsweep.tracking", "kdsweep.report"),
    "engine": ("ray", "mlflow", "rich", "kdsweep.cli", "kdsweep.execute", "kdsweep.tracking", "kdsweep.report"),
    "report": ("torch", "torchvision", "kdsweep.engine"),
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_forbidden_import_statement(layer):
    bad = [f"{path.relative_to(REPO)}:{line}: {module}"
           for path in sorted((PACKAGE / layer).rglob("*.py"))
           for line, module in imported_modules(path) if _under(module, FORBIDDEN[layer])]
    assert not bad, "\n".join(bad)


def test_the_checker_sees_imports_inside_functions(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    import torch.nn\n    from mlflow import MlflowClient\n")
    assert [m for _, m in imported_modules(sample)] == ["torch.nn", "mlflow"]
    assert _under("torch.nn", FORBIDDEN["spec"]) and not _under("torchmetrics_free", ("torch",))


def _loaded_after(code: str) -> set[str]:
    probe = code + "\nimport sys; print('\\n'.join(sys.modules))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split())


def test_planning_every_component_loads_no_torch():
    """Planning reads every registry entry (spec blocks in the engine's files) without torch."""
    loaded = _loaded_after(
        "from kdsweep.plan import plan_sweep\n"
        "from kdsweep.spec.entries import LOSSES, OPTIMIZERS, SCHEDULES\n"
        "assert LOSSES.known() and OPTIMIZERS.known() and SCHEDULES.known()\n"
        "plan_sweep('sweeps/quickstart.yaml')")
    assert not {m for m in loaded if _under(m, ("torch", "kdsweep.engine"))}


def test_report_loads_no_engine_or_torch():
    loaded = _loaded_after("import kdsweep.report, kdsweep.report.tables, kdsweep.report.plots")
    assert not {m for m in loaded if _under(m, ("torch", "kdsweep.engine"))}
