"""Numbers as text, and tables as Markdown and LaTeX."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence


def pm(mean: object, std: object, digits: int = 2) -> str:
    """``'71.20 ± 1.30'``; ``''`` when the mean is missing."""
    if not isinstance(mean, numbers.Real) or math.isnan(mean):
        return ""
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def num(x: object, fmt: str) -> str:
    """``format(x, fmt)``; ``''`` when ``x`` is missing."""
    return "" if not isinstance(x, numbers.Real) or math.isnan(x) else format(x, fmt)


def size(n: float) -> str:
    """Bytes as ``'2.5 MB'``, ``'84.2 kB'`` or ``'902 B'``."""
    if math.isnan(n):
        return ""
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]],
                   bold: Sequence[Sequence[bool]] | None = None, empty: str = "-") -> str:
    """A GitHub Markdown table; ``''`` cells print as ``empty``; ``bold`` marks cells ``**x**``."""
    def cell(v: object, strong: bool) -> str:
        text = str(v).replace("|", "\\|") if v != "" else empty
        return f"**{text}**" if strong and v != "" else text
    flags = bold or [[False] * len(r) for r in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v, b) for v, b in zip(row, f, strict=True)) + " |"
              for row, f in zip(rows, flags, strict=True)]
    return "\n".join(lines)


def latex_table(header: Sequence[str], rows: Sequence[Sequence[str]],
                bold: Sequence[Sequence[bool]], caption: str) -> str:
    """A booktabs ``table`` environment; ``±`` as ``$\\pm$``, bold as ``\\textbf``."""
    def tex(v: str, b: bool = False) -> str:
        v = (v.replace("\\", "\\textbackslash{}").replace("&", "\\&").replace("%", "\\%")
             .replace("_", "\\_").replace("#", "\\#").replace("×", "$\\times$")
             .replace("±", "$\\pm$").replace("Δ", "$\\Delta$"))
        return f"\\textbf{{{v}}}" if b and v else (v or "--")
    lines = ["\\begin{table}[ht]", "\\centering", "\\small",
             f"\\caption{{{tex(caption)}}}",
             "\\begin{tabular}{l" + "r" * (len(header) - 1) + "}", "\\toprule",
             " & ".join(tex(h) for h in header) + " \\\\", "\\midrule"]
    lines += [" & ".join(tex(v, b) for v, b in zip(r, f, strict=True)) + " \\\\"
              for r, f in zip(rows, bold, strict=True)]
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines)
