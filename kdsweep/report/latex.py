"""LaTeX output: escaping, and one `table` float per rendered table."""

from __future__ import annotations

import re

from kdsweep.report.cells import CHECK, CROSS, RenderedTable
from kdsweep.report.context import note

# pandas writes booktabs rules (\toprule ...); the marks of check columns are amssymb's.
PACKAGES = "% needs \\usepackage{booktabs} (table rules) and \\usepackage{amssymb} (\\checkmark)"

_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "±": r"$\pm$", CHECK: r"\checkmark", CROSS: r"$\times$", "Δ": r"$\Delta$", "−": "-"}


def latex_escape(text: str) -> str:
    """LaTeX-safe text; ±, ✓, ✗ and Δ become math / amssymb commands rather than raw Unicode."""
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in text)


def tabular(table: RenderedTable) -> str:
    df = table.frame("latex", latex_escape)
    return df.to_latex(index=False, escape=False, column_format="c" * max(1, len(df.columns)))


def latex_table(sweep: str, table: RenderedTable) -> str:
    label = re.sub(r"[^A-Za-z0-9:.-]+", "-", f"tab:{sweep}:{table.name}")
    lines = ["\\begin{table}[ht]", "\\centering",
             f"\\caption{{{latex_escape(table.title or table.name)}}}", f"\\label{{{label}}}",
             tabular(table).rstrip()]
    for text in ([note(table.beside)] if table.beside else []) + ([table.caption] if table.caption else []):
        lines.append(f"\\par\\smallskip{{\\footnotesize {latex_escape(text)}}}")
    lines.append("\\end{table}")
    return "\n".join(lines)
