"""Two table kinds over any rows: a summary (one line per setting) and an ablation (one column
per value of a setting). Cells are test ROC-AUC and accuracy in percent over the ok seeds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mirage.report.formats import markdown_table, num, pm
from mirage.report.published import lookup
from mirage.report.rows import KEYS, normalize, read, settings, varying
from mirage.report.stats import TOP_K, mean_std, median, top_k

LEGEND = ("Test ROC-AUC / accuracy in %, mean ± std (ddof 0) over all ok seeds; acc cal: accuracy "
          "under the decision rule fitted on validation (threshold / per-class logit offsets; "
          "blank for rows written before it existed); top-5: the paper's "
          "protocol (5 best runs by val AUC, needs n >= 5); paper: Mirage paper main table, "
          "second-hand (`paper`), or the official code's logs (`official-logs`), see "
          "mirage/report/published.py; compression, graphs, bytes: median over ok rows; "
          "best epoch: the selected one (0: the untrained model, with train.eval_at_init).")


def summarize(df: pd.DataFrame, group_by: Sequence[str] = ()) -> pd.DataFrame:
    """One row of statistics per setting: every (dataset, distiller, model, flattened setting,
    ``group_by`` column), so different settings are never averaged; the settings that vary
    within a (dataset, distiller, model) are shown. Only ``ok`` rows enter the statistics, the
    others are counted as ``failed``. Numeric, CSV-ready."""
    df = normalize(df)
    group_by = [c for c in dict.fromkeys(group_by) if c not in KEYS]
    missing = [c for c in [*KEYS, "status", *group_by] if c not in df]
    if missing:
        raise SystemExit(f"column(s) {missing} not in the results file")
    hp = settings(df)
    keys = [*KEYS, *group_by, *[c for c in hp if c not in group_by]]
    shown = [*KEYS, *group_by, *[c for c in varying(df, hp) if c not in group_by]]
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
            rec[col] = median(ok, col)
        rec["distill_time_s_median"] = median(ok, "distill_time_s")
        rec["train_time_s_median"] = median(ok, "train_time_s")
        rec["best_epoch_median"] = median(ok, "best_epoch")
        hits = g["cache_hit"].astype(str).str.lower() if "cache_hit" in g else pd.Series()
        rec["cache_hit"] = bool((hits == "true").any())
        errors = g.loc[g["status"] != "ok", "error"] if "error" in g else pd.Series()
        rec["last_error"] = str(errors.iloc[-1]) if len(errors) else ""
        out.append(rec)
    table = pd.DataFrame(out)
    for col in ("distilled_graphs", "distilled_bytes"):
        table[col] = table[col].round().astype("Int64")
    return table


def summary_markdown(table: pd.DataFrame) -> str:
    """The summary table formatted for reading, followed by the failures if any."""
    shown = list(table.columns[: table.columns.get_loc("n")])
    header = [*shown, "n", "failed", "test AUC %", "top-5 AUC %", "paper AUC %",
              "test acc %", "test acc cal %", "compression ×", "graphs", "bytes",
              "distill s (median)", "train s (median)", "best epoch (median)", "cache hit"]
    rows = [[*(r[c] for c in shown), r["n"], r["failed"],
             pm(r["test_auc_mean"], r["test_auc_std"]),
             pm(r["top5_auc_mean"], r["top5_auc_std"]), r["paper"],
             pm(r["test_acc_mean"], r["test_acc_std"]),
             pm(r["test_acc_cal_mean"], r["test_acc_cal_std"]),
             num(r["compression_ratio"], ".1f"),
             num(r["distilled_graphs"], ".0f"), num(r["distilled_bytes"], ".0f"),
             num(r["distill_time_s_median"], ".2f"), num(r["train_time_s_median"], ".2f"),
             num(r["best_epoch_median"], "g"), "yes" if r["cache_hit"] else "no"]
            for _, r in table.iterrows()]
    text = markdown_table(header, rows)
    failed = table[table["failed"] > 0]
    if not failed.empty:
        text += "\n\nFailed runs:\n\n" + "\n".join(
            f"- {r['dataset']} / {r['distiller']} / {r['model']}: {r['failed']} failed "
            f"(last error: {r['last_error'] or 'n/a'})" for _, r in failed.iterrows())
    return text


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
        raise SystemExit(f"ablation {column}: no such column in the rows")
    ok = df[df["status"] == "ok"]
    if ok.empty:
        raise SystemExit("no rows with status ok")
    axis = ok[column].astype(str).where(ok[column].notna(), "")
    # Settings that follow the ablated one (model.num_layers = ${distiller.hops}) are not row keys.
    hp = [c for c in settings(ok)
          if c != column and ok.groupby([*KEYS, column])[c].nunique().max() > 1]
    keys = [c for c in [*KEYS, *hp] if c != column]
    shown = [c for c in [*KEYS, *varying(ok, hp)] if c != column]
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


def ablation_markdown(table: pd.DataFrame, column: str, values: Sequence[str]) -> str:
    """The ablation table: one ``column=value`` column per value, cells test mean ± std (val
    mean; n, compression)."""
    keys = [c for c in table.columns if ":" not in c]
    header = [*keys, *(f"{column}={v if v != '' else '-'}" for v in values)]
    rows = []
    for _, r in table.iterrows():
        cells = [f"{pm(r[f'{v}:auc_mean'], r[f'{v}:auc_std'])} "
                 f"(val {num(r[f'{v}:val_auc_mean'], '.2f')}; n={r[f'{v}:n']}, "
                 f"{num(r[f'{v}:compression'], '.0f')}x)"
                 if r[f"{v}:n"] else "" for v in values]
        rows.append([*(r[c] for c in keys), *cells])
    return markdown_table(header, rows)


def ablation_text(table: pd.DataFrame, column: str, values: Sequence[str], name: str,
                  sources: str) -> str:
    """The ablation's Markdown file: title, what the cells are, the table."""
    return (f"# {name}: test ROC-AUC % by {column}\n\nrows: {sources}; cells: test mean ± std "
            f"(ddof 0) over ok seeds (val AUC mean, the selection criterion; n; median "
            f"compression ratio)\n\n{ablation_markdown(table, column, values)}")


def summary_text(table: pd.DataFrame, name: str, sources: str) -> str:
    """The summary's Markdown file: title, sources and legend, the table."""
    return f"# {name}\n\nrows: {sources}. {LEGEND}\n\n{summary_markdown(table)}"


def provenance(df: pd.DataFrame, reused_from: Sequence[Path] = ()) -> pd.DataFrame:
    """Where a study's rows (those that count) come from: their statuses, how many were copied
    from the ``reused_from`` studies (``study.reuse``: the same configuration hash and seed),
    when the others were measured (their timestamps), at what cost (distillation once per set
    that was not a cache hit, plus training and evaluation per seed, in process-hours) and by
    which code (``git_sha``). One row, CSV-ready."""
    earlier = {(r["config_hash"], str(r["seed"])) for path in reused_from if path.exists()
               for _, r in read([path]).iterrows()}
    seeds = df["seed"].astype(str).str.removesuffix(".0")
    reused = pd.Series([k in earlier for k in zip(df["config_hash"], seeds, strict=True)],
                       index=df.index, dtype=bool)
    mine = df[~reused]
    ran = mine[mine["status"] == "ok"]
    seconds = (_fresh_distill_s(ran) + ran["train_time_s"].sum()
               + pd.to_numeric(ran["eval_time_s"], errors="coerce").sum())
    status = df["status"].value_counts()
    return pd.DataFrame([{
        "rows": len(df), **{s: int(status.get(s, 0)) for s in ("ok", "infeasible", "failed")},
        "copied from other studies": int(reused.sum()),
        "measured from": mine["timestamp"].min(), "measured to": mine["timestamp"].max(),
        "process-hours": round(seconds / 3600, 2),
        "commits": " ".join(sorted(mine["git_sha"].unique()))}])


def _fresh_distill_s(ok: pd.DataFrame) -> float:
    """Distillation seconds of the sets these rows made (not cache hits), once per config."""
    fresh = ok[ok["cache_hit"].astype(str) != "True"].drop_duplicates("config_hash")
    return float(fresh["distill_time_s"].sum())


def cost(df: pd.DataFrame, seeds: int, arm_seeds: dict[str, int]) -> pd.DataFrame:
    """What a study's grid costs on the machine that measured it, per dataset and in total: the
    process-hours of its ok rows (every row that counts, copied ones included: a fresh clone
    measures them too), and the same grid at ``seeds`` seeds per cell (``arm_seeds``: an arm's
    own count), each cell's median training + evaluation seconds per seed times its seeds, plus
    the same distillations (a set is distilled once, whatever the seeds). CSV-ready."""
    ok = df[df["status"] == "ok"].assign(
        run_s=lambda d: pd.to_numeric(d["train_time_s"]) + pd.to_numeric(
            d["eval_time_s"], errors="coerce").fillna(0.0))
    out = []
    for dataset, g in [*ok.groupby("dataset", sort=False), ("all", ok)]:
        per_seed = g.groupby(["dataset", "arm", "model"])["run_s"].median()
        counts = per_seed.index.get_level_values("arm").map(lambda a: arm_seeds.get(a, seeds))
        distill = _fresh_distill_s(g)
        out.append({"dataset": dataset, "cells": len(per_seed), "rows": len(g),
                    "process-hours measured": round((distill + g["run_s"].sum()) / 3600, 2),
                    f"process-hours at {seeds} seeds":
                        round((distill + float((per_seed * counts).sum())) / 3600, 2)})
    return pd.DataFrame(out)


def cost_text(table: pd.DataFrame, experiment: str, seeds: int,
              arm_seeds: dict[str, int]) -> str:
    """:func:`cost`'s Markdown file."""
    own = "".join(f", `{arm}` {n}" for arm, n in arm_seeds.items())
    return (f"# {experiment}: what the grid costs on the machine that measured it\n\n"
            "process-hours: distillation (each set once) + training + evaluation of every ok row "
            "that counts, copied ones included; at the study's own seeds (`profile=none`: "
            f"{seeds} per cell{own}): each cell's median training + evaluation per seed times "
            "its seeds, plus the same distillations\n\n"
            + markdown_table(list(table.columns),
                             [[str(v) for v in r] for r in table.itertuples(index=False)]))


def provenance_text(table: pd.DataFrame, study: str) -> str:
    """The provenance Markdown file of a study."""
    rows = [[str(v) for v in r] for r in table.itertuples(index=False)]
    return (f"# {study}: where the rows come from\n\nprocess-hours: distillation (sets that were "
            "not cache hits) + training + evaluation of the rows measured by this study\n\n"
            + markdown_table(list(table.columns), rows))
