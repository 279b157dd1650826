"""Aggregate a harness ``runs.csv`` into result tables (markdown + CSV).

Usage::

    python -m experiments.tables                      # results/runs.csv -> results/adhoc/
    python -m experiments.tables --runs results/ablations/runs.csv --out results/tables \
        --distiller mirage --ablation distiller.hops

Summary (default): one row per (dataset, distiller, model, every flattened ``distiller.*`` /
``model.*`` / ``train.*`` value, plus ``--group-by`` columns), so different settings are never
averaged; the hyperparameter columns that vary within a (dataset, distiller, model) are shown.
Only ``status == 'ok'`` rows enter the statistics; the others are counted as ``failed``.

Ablation (``--ablation COL``): rows dataset × distiller × model (plus any other varying setting),
one column per value of ``COL``, cells test ROC-AUC mean ± std (n).

Statistics: ROC-AUC and accuracy in percent; std is the population std (ddof 0, ``np.std`` as in
the official Mirage code). ``top-5`` is the paper's protocol: the 5 runs with the best val AUC
(ties: lower seed first), mean ± std of their test AUC; blank when fewer than 5 runs.
"""

from __future__ import annotations

import argparse
import math
import numbers
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from experiments.paper_numbers import lookup
from mirage.records import RUN_KEY

KEYS = ["dataset", "distiller", "model"]
HP_PREFIXES = ("dataset.", "distiller.", "model.", "train.")
NUMERIC = ["seed", "val_auc", "test_auc", "test_acc", "val_acc_cal", "test_acc_cal", "best_epoch",
           "distill_time_s",
           "train_time_s", "distilled_graphs", "distilled_bytes", "compression_ratio"]
TOP_K = 5
DDOF = 0
DEFAULT_OUT = Path("results/adhoc")  # ad-hoc tables: ignored by git, beside the default rows


def load_runs(*paths: Path, labels: Sequence[str] | None = None) -> pd.DataFrame:
    """The pooled rows of harness CSVs: numeric metric columns as floats, everything else as
    strings (a column one file lacks is ``''`` in its rows). Column ``source`` holds each row's
    file, or its label from ``labels`` (one per path)."""
    for path in paths:
        if not path.exists():
            raise SystemExit(f"no such results file: {path}")
    frames = [pd.read_csv(path, dtype=str, keep_default_na=False).assign(source=label)
              for path, label in zip(paths, labels or map(str, paths), strict=True)]
    return normalize(pd.concat(frames, ignore_index=True).fillna(""))


def latest_per_run(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One row per measurement (file, config_hash, distill_seed, seed): the newest ``ok`` row, or
    the newest row when none is ok (a retried failure no longer counts). Rows without a
    ``config_hash`` cannot be matched and are all kept. Returns the rows, in file order, and how
    many were dropped."""
    key = ["source", *RUN_KEY]
    d = df.assign(_ok=df["status"] == "ok", _order=range(len(df)))
    for col in [*key, "timestamp"]:
        d[col] = d[col].astype(str) if col in d else ""
    d["distill_seed"] = d["distill_seed"].replace({"": "0", "nan": "0"})
    d["seed"] = d["seed"].str.removesuffix(".0")
    d.loc[d["config_hash"] == "", "config_hash"] = "row" + d["_order"].astype(str)
    kept = d.sort_values(["_ok", "timestamp", "_order"]).drop_duplicates(key, keep="last")
    return df.loc[kept.sort_values("_order").index], len(df) - len(kept)


def runs_argument(text: str) -> tuple[str, Path]:
    """``[LABEL=]PATH`` of ``--runs``: the label (default: the path) names the file's rows in
    column ``source``."""
    label, sep, path = text.partition("=")
    return (label, Path(path)) if sep and "/" not in label else (text, Path(text))


def normalize(df: pd.DataFrame) -> pd.DataFrame:
    """Metrics to floats (``''`` -> NaN); key and hyperparameter columns to strings, NaN -> ``''``.

    A hyperparameter a row's distiller does not have is ``''``: a value of its own for grouping.
    """
    df = df.copy()
    for col in NUMERIC:
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    for col in [*KEYS, "status", *hyperparameter_columns(df)]:
        if col in df:
            df[col] = df[col].astype(object).where(df[col].notna(), "").astype(str)
    return df


def hyperparameter_columns(df: pd.DataFrame) -> list[str]:
    """The flattened ``distiller.*``, ``model.*`` and ``train.*`` columns, in file order."""
    return [c for c in df.columns if c.startswith(HP_PREFIXES)]


def varying_columns(df: pd.DataFrame, cols: Sequence[str]) -> list[str]:
    """Those of ``cols`` with more than one value within some (dataset, distiller, model)."""
    if df.empty:
        return []
    counts = df.groupby(KEYS)[list(cols)].nunique() if cols else pd.DataFrame()
    return [c for c in cols if (counts[c] > 1).any()]


def mean_std(values: pd.Series, scale: float = 100.0) -> tuple[float, float]:
    """Mean and population std of the non-missing ``values`` times ``scale``; NaN when none."""
    v = values.dropna() * scale
    if v.empty:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=DDOF))


def top_k(ok: pd.DataFrame, k: int = TOP_K) -> pd.DataFrame:
    """The paper's selection: the ``k`` runs with the highest val AUC (ties: lower seed first)."""
    return ok.sort_values(["val_auc", "seed"], ascending=[False, True],
                          na_position="last", kind="stable").head(k)


def _median(g: pd.DataFrame, col: str) -> float:
    return float(g[col].median()) if col in g and g[col].notna().any() else math.nan


def summarize(df: pd.DataFrame, group_by: Sequence[str] = ()) -> pd.DataFrame:
    """One row of statistics per setting (see the module docstring); numeric, CSV-ready."""
    df = normalize(df)
    group_by = [c for c in dict.fromkeys(group_by) if c not in KEYS]
    missing = [c for c in [*KEYS, "status", *group_by] if c not in df]
    if missing:
        raise SystemExit(f"column(s) {missing} not in the results file")
    hp = hyperparameter_columns(df)
    keys = [*KEYS, *group_by, *[c for c in hp if c not in group_by]]
    shown = [*KEYS, *group_by, *[c for c in varying_columns(df, hp) if c not in group_by]]
    out = []
    for key, g in df.groupby(keys, sort=True, dropna=False):
        ok = g[g["status"] == "ok"]
        first = dict(zip(keys, key, strict=True))
        rec: dict[str, object] = {c: first[c] for c in shown}
        rec["n"] = len(ok)
        rec["failed"] = int((g["status"] != "ok").sum())
        rec["test_auc_mean"], rec["test_auc_std"] = mean_std(ok["test_auc"])
        top = top_k(ok)["test_auc"] if len(ok) >= TOP_K else pd.Series(dtype=float)
        rec["top5_auc_mean"], rec["top5_auc_std"] = mean_std(top)
        paper = lookup(first["dataset"], first["distiller"], first["model"],
                       pool=first.get("model.pool"))
        rec["paper"] = "; ".join(p.label() for p in paper)
        rec["test_acc_mean"], rec["test_acc_std"] = mean_std(ok["test_acc"])
        rec["test_acc_cal_mean"], rec["test_acc_cal_std"] = mean_std(
            ok["test_acc_cal"] if "test_acc_cal" in ok else pd.Series(dtype=float))
        for col in ("compression_ratio", "distilled_graphs", "distilled_bytes"):
            rec[col] = _median(ok, col)
        rec["distill_time_s_median"] = _median(ok, "distill_time_s")
        rec["train_time_s_median"] = _median(ok, "train_time_s")
        rec["best_epoch_median"] = _median(ok, "best_epoch")
        hits = g["cache_hit"].astype(str).str.lower() if "cache_hit" in g else pd.Series()
        rec["cache_hit"] = bool((hits == "true").any())
        errors = g.loc[g["status"] != "ok", "error"] if "error" in g else pd.Series()
        rec["last_error"] = str(errors.iloc[-1]) if len(errors) else ""
        out.append(rec)
    table = pd.DataFrame(out)
    for col in ("distilled_graphs", "distilled_bytes"):
        table[col] = table[col].round().astype("Int64")
    return table


def _value_order(values: Sequence[str]) -> list[str]:
    """Numeric values in numeric order, then the others alphabetically."""
    def key(v: str) -> tuple[int, float, str]:
        try:
            return 0, float(v), ""
        except ValueError:
            return 1, 0.0, v
    return sorted(set(values), key=key)


def ablation(df: pd.DataFrame, column: str) -> tuple[pd.DataFrame, list[str]]:
    """Test AUC per value of ``column`` (wide: ``<v>:auc_mean``, ``<v>:auc_std``, ``<v>:n``,
    ``<v>:val_auc_mean``, ``<v>:compression`` = median compression ratio).

    Rows: dataset, distiller, model and every other setting that varies independently of
    ``column``; returns the table and the values of ``column`` in column order.
    """
    df = normalize(df)
    if column not in df:
        raise SystemExit(f"--ablation {column}: no such column in the results file")
    ok = df[df["status"] == "ok"]
    if ok.empty:
        raise SystemExit("no rows with status ok")
    axis = ok[column].astype(str).where(ok[column].notna(), "")
    # Settings that follow the ablated one (model.num_layers = ${distiller.hops}) are not row keys.
    hp = [c for c in hyperparameter_columns(ok)
          if c != column and ok.groupby([*KEYS, column])[c].nunique().max() > 1]
    keys = [c for c in [*KEYS, *hp] if c != column]
    shown = [c for c in [*KEYS, *varying_columns(ok, hp)] if c != column]
    values = _value_order(axis.tolist())
    out = []
    for key, g in ok.groupby(keys, sort=True, dropna=False):
        first = dict(zip(keys, key, strict=True))
        rec: dict[str, object] = {c: first[c] for c in shown}
        for v in values:
            cell = g[axis.loc[g.index] == v]
            rec[f"{v}:auc_mean"], rec[f"{v}:auc_std"] = mean_std(cell["test_auc"])
            rec[f"{v}:n"] = len(cell)
            rec[f"{v}:val_auc_mean"] = mean_std(cell["val_auc"])[0]
            rec[f"{v}:compression"] = cell["compression_ratio"].median()
        out.append(rec)
    return pd.DataFrame(out), values


def _pm(mean: object, std: object, digits: int = 2) -> str:
    if not isinstance(mean, numbers.Real) or math.isnan(mean):
        return ""
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _num(x: object, fmt: str) -> str:
    return "" if not isinstance(x, numbers.Real) or math.isnan(x) else format(x, fmt)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; ``''`` cells of settings print as ``-``."""
    def cell(v: object) -> str:
        return str(v).replace("|", "\\|") if v != "" else "-"
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_markdown(table: pd.DataFrame) -> str:
    """The summary table formatted for reading, followed by the failures if any."""
    settings = list(table.columns[: table.columns.get_loc("n")])
    header = [*settings, "n", "failed", "test AUC %", "top-5 AUC %", "paper AUC %",
              "test acc %", "test acc cal %", "compression ×", "graphs", "bytes",
              "distill s (median)", "train s (median)", "best epoch (median)", "cache hit"]
    rows = [[*(r[c] for c in settings), r["n"], r["failed"],
             _pm(r["test_auc_mean"], r["test_auc_std"]),
             _pm(r["top5_auc_mean"], r["top5_auc_std"]), r["paper"],
             _pm(r["test_acc_mean"], r["test_acc_std"]),
             _pm(r["test_acc_cal_mean"], r["test_acc_cal_std"]),
             _num(r["compression_ratio"], ".1f"),
             _num(r["distilled_graphs"], ".0f"), _num(r["distilled_bytes"], ".0f"),
             _num(r["distill_time_s_median"], ".2f"), _num(r["train_time_s_median"], ".2f"),
             _num(r["best_epoch_median"], "g"), "yes" if r["cache_hit"] else "no"]
            for _, r in table.iterrows()]
    text = markdown_table(header, rows)
    failed = table[table["failed"] > 0]
    if not failed.empty:
        text += "\n\nFailed runs:\n\n" + "\n".join(
            f"- {r['dataset']} / {r['distiller']} / {r['model']}: {r['failed']} failed "
            f"(last error: {r['last_error'] or 'n/a'})" for _, r in failed.iterrows())
    return text


def ablation_markdown(table: pd.DataFrame, column: str, values: Sequence[str]) -> str:
    """The ablation table: one ``column=value`` column per value, cells test mean ± std (val
    mean; n, compression)."""
    keys = [c for c in table.columns if ":" not in c]
    header = [*keys, *(f"{column}={v if v != '' else '-'}" for v in values)]
    rows = []
    for _, r in table.iterrows():
        cells = [f"{_pm(r[f'{v}:auc_mean'], r[f'{v}:auc_std'])} "
                 f"(val {_num(r[f'{v}:val_auc_mean'], '.2f')}; n={r[f'{v}:n']}, "
                 f"{_num(r[f'{v}:compression'], '.0f')}x)"
                 if r[f"{v}:n"] else "" for v in values]
        rows.append([*(r[c] for c in keys), *cells])
    return markdown_table(header, rows)


LEGEND = ("Test ROC-AUC / accuracy in %, mean ± std (ddof 0) over all ok seeds; acc cal: accuracy "
          "under the decision rule fitted on validation (threshold / per-class logit offsets; "
          "blank for rows written before it existed); top-5: the paper's "
          "protocol (5 best runs by val AUC, needs n >= 5); paper: Mirage paper main table, "
          "second-hand (`paper`), or the official code's logs (`official-logs`), see "
          "experiments/paper_numbers.py; compression, graphs, bytes: median over ok rows; "
          "best epoch: the selected one (0: the untrained model, with train.eval_at_init).")


def column_value(option: str, text: str, valid: Callable[[str], bool],
                 what: str) -> tuple[str, str]:
    """``COLUMN=VALUE`` of a command-line option, or exit naming the option and what is valid."""
    column, sep, value = text.partition("=")
    if not sep or not valid(column):
        raise SystemExit(f"{option} {text!r}: expected COLUMN=VALUE with {what}")
    return column, value


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: write ``<out>/<name>.md`` and ``<out>/<name>.csv``."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=runs_argument, nargs="+",
                    default=[runs_argument("results/runs.csv")], metavar="[LABEL=]PATH",
                    help="one or more runs.csv files; their rows are pooled (column source: the "
                         "LABEL, else the path)")
    ap.add_argument("--ignore", nargs="+", default=[], metavar="PREFIX",
                    help="after filtering, drop the columns starting with PREFIX: settings that "
                         "differ only there are pooled (e.g. dataset. for rows written before it "
                         "was recorded)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT,
                    help=f"output folder (default {DEFAULT_OUT}, which git ignores)")
    ap.add_argument("--name", default=None,
                    help="file stem (default: summary, or ablation_<column> with --ablation)")
    ap.add_argument("--distiller", nargs="+", help="keep only these distillers")
    ap.add_argument("--dataset", nargs="+", help="keep only these datasets (names as in rows)")
    ap.add_argument("--model", nargs="+", help="keep only these models")
    ap.add_argument("--where", nargs="+", default=[], metavar="COLUMN=VALUE",
                    help="keep only rows whose COLUMN reads VALUE (as written in the CSV)")
    ap.add_argument("--fill", nargs="+", default=[], metavar="COLUMN=VALUE",
                    help="rows without COLUMN (written before that key existed) read VALUE: the "
                         "setting their code ran; applied before --where")
    ap.add_argument("--group-by", nargs="+", default=[],
                    help="extra columns to group by and show (e.g. device git_sha)")
    ap.add_argument("--ablation", metavar="COLUMN",
                    help="one column per value of COLUMN (e.g. distiller.hops)")
    args = ap.parse_args(argv)

    labels, paths = zip(*args.runs, strict=True)
    df = load_runs(*paths, labels=labels)
    sources = ", ".join(f"`{label}`" if label == str(path) else f"{label} = `{path}`"
                        for label, path in args.runs)
    for key in KEYS:
        if keep := getattr(args, key):
            df = df[df[key].isin(keep)]
    for fill in args.fill:
        column, value = column_value("--fill", fill, lambda c: c.startswith(HP_PREFIXES),
                                     f"COLUMN one of {', '.join(p + '*' for p in HP_PREFIXES)}")
        df[column] = df[column].where(df[column] != "", value) if column in df else value
    columns = set(df.columns)
    for condition in args.where:
        column, value = column_value("--where", condition, columns.__contains__,
                                     f"a column of {sources}")
        df = df[df[column].astype(str) == value]
    if df.empty:
        raise SystemExit(f"no rows left in {sources} after filtering")
    df, dropped = latest_per_run(df)
    if dropped:
        sources += (f" ({dropped} repeated row(s) of an already measured (config, seed) dropped; "
                    "the newest kept)")
    df = df.drop(columns=[c for c in df.columns if c.startswith(tuple(args.ignore))])
    if args.ablation:
        table, values = ablation(df, args.ablation)
        name = args.name or f"ablation_{args.ablation}"
        body = ablation_markdown(table, args.ablation, values)
        text = (f"# {name}: test ROC-AUC % by {args.ablation}\n\nrows: {sources}; cells: test "
                f"mean ± std (ddof 0) over ok seeds (val AUC mean, the selection criterion; n; "
                f"median compression ratio)\n\n{body}")
    else:
        table = summarize(df, args.group_by)
        name = args.name or "summary"
        text = f"# {name}\n\nrows: {sources}. {LEGEND}\n\n{summary_markdown(table)}"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.md").write_text(text + "\n")
    table.to_csv(args.out / f"{name}.csv", index=False)
    print(text)
    print(f"\nwrote {args.out / f'{name}.md'} and {args.out / f'{name}.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
