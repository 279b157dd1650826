"""Tables of any results file: a summary of every setting, or one column per value of one.

Usage::

    python -m experiments.analysis.tables                   # results/runs.csv -> results/adhoc/
    python -m experiments.analysis.tables --runs results/mirage_ablations/runs.csv \\
        --dataset ogbg-molbace --model gin --ablation distiller.hops

Summary (default): one row per (dataset, distiller, model, every flattened setting, plus
``--group-by`` columns), so different settings are never averaged; the settings that vary within
a (dataset, distiller, model) are shown. Ablation (``--ablation COLUMN``): one column per value
of COLUMN, cells test ROC-AUC mean ± std (val mean; n; compression). The rows that count, the
statistics and the formats are the report library's (:mod:`mirage.report`), as for the studies'
own tables (``python -m experiments.report``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from experiments.cli import describe, exit_with
from mirage.report import tables
from mirage.report.rows import HP_PREFIXES, KEYS, current, normalize, read, where

DEFAULT_OUT = Path("results/adhoc")  # ad-hoc tables: ignored by git, beside the default rows


def runs_argument(text: str) -> tuple[str, Path]:
    """``[LABEL=]PATH`` of ``--runs``: the label (default: the path) names the file's rows in
    column ``source``."""
    label, sep, path = text.partition("=")
    return (label, Path(path)) if sep and "/" not in label else (text, Path(text))


def pairs(option: str, items: Sequence[str], valid: Callable[[str], bool],
          what: str) -> dict[str, str]:
    """``COLUMN=VALUE`` words as a map, or exit naming the option and what is valid."""
    out = {}
    for text in items:
        column, sep, value = text.partition("=")
        if not sep or not valid(column):
            raise SystemExit(f"{option} {text!r}: expected COLUMN=VALUE with {what}")
        out[column] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=describe(__doc__))
    ap.add_argument("--runs", type=runs_argument, nargs="+",
                    default=[runs_argument("results/runs.csv")], metavar="[LABEL=]PATH",
                    help="results files, pooled (column source: the LABEL, else the path)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT,
                    help=f"output folder (default {DEFAULT_OUT}, which git ignores)")
    ap.add_argument("--name", help="file stem (default: summary, or ablation_<column>)")
    for key in KEYS:
        ap.add_argument(f"--{key}", nargs="+", help=f"keep only these {key} names")
    ap.add_argument("--fill", nargs="+", default=[], metavar="COLUMN=VALUE",
                    help="rows without COLUMN (written before that key existed) read VALUE")
    ap.add_argument("--where", nargs="+", default=[], metavar="COLUMN=VALUE",
                    help="keep only rows whose COLUMN reads VALUE (as written in the CSV)")
    ap.add_argument("--ignore", nargs="+", default=[], metavar="PREFIX",
                    help="drop the columns starting with PREFIX, so settings differing there pool")
    ap.add_argument("--group-by", nargs="+", default=[], help="extra columns to group by")
    ap.add_argument("--ablation", metavar="COLUMN", help="one column per value of COLUMN")
    args = ap.parse_args(argv)

    labels, paths = zip(*args.runs, strict=True)
    sources = ", ".join(f"`{label}`" if label == str(path) else f"{label} = `{path}`"
                        for label, path in args.runs)
    keep = {key: values for key in KEYS if (values := getattr(args, key))}
    pooled = read(paths, labels)
    fill = pairs("--fill", args.fill, lambda c: c.startswith(HP_PREFIXES),
                 f"COLUMN one of {', '.join(p + '*' for p in HP_PREFIXES)}")
    equals = pairs("--where", args.where, lambda c: c in pooled or c in fill,
                   f"a column of {sources}")
    df = where(pooled, keep=keep, fill=fill, equals=equals, ignore=args.ignore)
    df, dropped = current(df)
    if dropped:
        sources += f" ({dropped} repeated row(s) of an already measured (config, seed) dropped)"
    df = normalize(df)
    if args.ablation:
        table, values = tables.ablation(df, args.ablation)
        name = args.name or f"ablation_{args.ablation}"
        text = tables.ablation_text(table, args.ablation, values, name, sources)
    else:
        table = tables.summarize(df, args.group_by)
        name = args.name or "summary"
        text = tables.summary_text(table, name, sources)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.md").write_text(text + "\n")
    table.to_csv(args.out / f"{name}.csv", index=False)
    print(f"{text}\n\nwrote {args.out / f'{name}.md'} and {args.out / f'{name}.csv'}")
    return 0


if __name__ == "__main__":
    exit_with(main)
