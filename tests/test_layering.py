"""The house's layering rules (docs/design.md, "Layers"), enforced: spec and plan import no torch; the
engine imports no Ray, MLflow, rich, CLI, execute, tracking or report code; tracking no engine; execute no
report or CLI; report no engine or torch. Every import statement is checked (also the ones inside functions), and a fresh
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
    "tracking": ("torch", "torchvision", "kdsweep.engine", "kdsweep.execute", "kdsweep.report", "kdsweep.cli"),
    "execute": ("kdsweep.report", "kdsweep.cli"),
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


# No import circles --------------------------------------------------------------------------------
# A circle hidden by an import inside a function still ties two modules into one unit (neither can be
# read, tested or moved alone), so every import statement counts, as above.


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (a `from pkg import name` edge goes to the
    submodule `pkg.name` when there is one, else to `pkg`); relative imports resolved."""
    modules = {_module_name(p, root): p for p in root.rglob("*.py")}

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(owner(a.name) for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([node.module] if node.module else []))
                targets.update(owner(f"{base}.{a.name}") if f"{base}.{a.name}" in modules else owner(base)
                               for a in node.names)
        graph[name] = {t for t in targets if t and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_kdsweep_has_no_import_cycles():
    assert cycles(import_graph(PACKAGE)) == []


def test_the_cycle_finder_sees_a_circle_through_a_function_and_a_relative_import(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..c import g\n")
    (pkg / "c.py").write_text("import pkg.a\n")
    (pkg / "d.py").write_text("from pkg import a\n")  # imports into the circle, is not part of it
    assert cycles(import_graph(pkg)) == [["pkg.a", "pkg.c", "pkg.sub.b"]]


def test_every_citation_of_the_design_document_names_one_of_its_sections():
    """Source cites `docs/design.md, "<section>"`; the section must exist (the file once went missing)."""
    import re

    headings = {line.lstrip("#").strip() for line in (REPO / "docs" / "design.md").read_text().splitlines()
                if line.startswith("## ")}
    cited = {(path.relative_to(REPO), m) for path in [*PACKAGE.rglob("*.py"), *(REPO / "tests").rglob("*.py")]
             for m in re.findall(r'docs/design\.md, "([^"<]+)"', path.read_text())}
    assert cited and all(section in headings for _, section in cited), (headings, cited)
