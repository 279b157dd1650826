"""A distiller against random at equal bytes: Mirage's generic rules, each paired run by run with
the random coreset drawn to the bytes of Mirage's own set (``distiller.budget_bytes``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from mirage.report.formats import markdown_table, pm


def _given(value: Any) -> bool:
    return pd.notna(value) and value != ""


def rule_of(row: pd.Series) -> str:
    """A Mirage row's budget rule, from its distiller columns (with its continuous bins, if
    any: another set, so never paired with the plain rule's random)."""
    budget, coverage = row.get("distiller.budget_bytes"), row.get("distiller.coverage")
    patterns, bins = row.get("distiller.max_patterns"), row.get("distiller.cont_bins")
    if _given(budget):
        rule = f"budget {float(budget):g}" if float(budget) < 1 else f"budget {int(budget)} B"
    elif _given(coverage):
        rule = f"coverage {float(coverage):g}"
    else:
        rule = f"top {int(float(patterns))}" if _given(patterns) else "all"
    return f"{rule}, {int(float(bins))} bins" if _given(bins) else rule


def paired(rows: pd.DataFrame) -> pd.DataFrame:
    """From a study's rows (:func:`mirage.report.rows.load`), the ok rows of Mirage and of random
    at Mirage's bytes, one line per (dataset, rule, model, seed): ``*_mirage`` and ``*_random``
    metric columns, bytes and compression."""
    rows = rows[rows["status"] == "ok"]
    mirage = rows[rows["distiller"] == "mirage"].copy()
    mirage["rule"] = mirage.apply(rule_of, axis=1)
    random = rows[(rows["distiller"] == "random") & (rows["distiller.budget_bytes"] != "")].copy()
    random["matched"] = random["distiller.budget_bytes"].astype(float).astype(int)
    mirage["matched"] = mirage["distilled_bytes"].astype(int)
    keys = ["dataset", "model", "seed"]
    cols = ["val_auc", "test_auc", "distilled_bytes", "compression_ratio"]
    return mirage[[*keys, "rule", "matched", *cols]].merge(
        random[[*keys, "matched", *cols]], on=[*keys, "matched"], suffixes=("_mirage", "_random"))


def _pct(values: pd.Series) -> str:
    return pm(100 * values.mean(), 100 * values.std(ddof=0), digits=1)


def select_table(pairs: pd.DataFrame) -> str:
    """Per dataset and rule: mean validation AUC of Mirage and of random at its bytes over the
    models and seeds, and Mirage's margin; then the rules ranked: those measured on every
    dataset at 20x compression or more first, then by datasets won (positive mean margin), then
    by mean margin over datasets. Markdown."""
    pairs = pairs.assign(margin=pairs["val_auc_mirage"] - pairs["val_auc_random"])
    rows = [[dataset, rule, f"{100 * g.val_auc_mirage.mean():.1f}",
             f"{100 * g.val_auc_random.mean():.1f}", f"{100 * g.margin.mean():+.1f}",
             f"{int(g.distilled_bytes_mirage.iloc[0])}",
             f"{g.compression_ratio_mirage.iloc[0]:.0f}x", f"{len(g)}"]
            for (dataset, rule), g in pairs.groupby(["dataset", "rule"], sort=True)]
    detail = markdown_table(["dataset", "rule", "Mirage val AUC", "random val AUC (same bytes)",
                             "margin", "Mirage bytes", "compression", "runs"], rows)
    margins = pairs.groupby(["rule", "dataset"])["margin"].mean()
    lowest = pairs.groupby("rule")["compression_ratio_mirage"].min()
    everywhere = pairs["dataset"].nunique()
    ranked = sorted(margins.groupby("rule"),
                    key=lambda kv: (len(kv[1]) < everywhere or lowest[kv[0]] < 20,
                                    -(kv[1] > 0).sum(), -kv[1].mean()))
    summary = markdown_table(
        ["rule", "datasets won", "mean margin over datasets", "lowest compression"],
        [[rule, f"{int((per > 0).sum())} of {len(per)}", f"{100 * per.mean():+.2f}",
          f"{lowest[rule]:.0f}x"] for rule, per in ranked])
    return f"{detail}\n\n{summary}\n"


def final_table(pairs: pd.DataFrame, rules: Sequence[str] | None = None) -> str:
    """Per dataset, rule (those named in ``rules``, as :func:`rule_of` spells them; default
    all) and model: test ROC-AUC (mean ± std over seeds) of Mirage under the rule and of random
    at the same bytes, both sizes and Mirage's compression. Markdown."""
    if rules is not None:
        pairs = pairs[pairs["rule"].isin(rules)]
    groups = pairs.groupby(["dataset", "rule", "model"], sort=True)
    rows = [[dataset, rule, model, _pct(g.test_auc_mirage), _pct(g.test_auc_random),
             f"{100 * (g.test_auc_mirage.mean() - g.test_auc_random.mean()):+.1f}",
             f"{int(g.distilled_bytes_mirage.iloc[0])}",
             f"{int(g.distilled_bytes_random.iloc[0])}",
             f"{g.compression_ratio_mirage.iloc[0]:.0f}x", f"{len(g)}"]
            for (dataset, rule, model), g in groups]
    table = markdown_table(["dataset", "rule", "model", "Mirage test AUC", "random test AUC",
                            "difference", "Mirage bytes", "random bytes", "compression", "seeds"],
                           rows)
    wins = groups.apply(lambda g: g.test_auc_mirage.mean() > g.test_auc_random.mean(),
                        include_groups=False)
    return (f"{table}\n\nMirage's mean test AUC is higher in {int(wins.sum())} of {len(wins)} "
            "(dataset, rule, model) cells.\n")
