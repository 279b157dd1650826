"""The Mirage paper's main table and ablation tables, from a study of arms (``arm`` column):
per dataset one row per arm, per GNN one column, the published value beside ours."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mirage.report.arms import Look, default_color
from mirage.report.formats import latex_table, markdown_table, num, pm, size
from mirage.report.published import lookup
from mirage.report.stats import CONFIDENCE, ci_halfwidth, mean_std, top_k, welch
from mirage.report.tables import ablation, ablation_markdown

PAPER_VIEW_SEEDS = 10
METRICS = {"auc": "test_auc", "acc_cal": "test_acc_cal"}


@dataclass(frozen=True)
class Roles:
    """What a study's report needs to know of its arms, from its spec (never from code):
    ``full`` the whole training split (a reference, not a contender); ``reference`` the arm
    whose distillation time the others are divided by; ``published`` arm -> the published
    method (and pooling) its number describes (:mod:`mirage.report.published`); ``looks`` the
    label, colour and equal-size counterpart of each arm (:mod:`mirage.report.arms`)."""

    looks: Mapping[str, Look]
    full: str | None = None
    reference: str | None = None
    published: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def label(self, arm: str) -> str:
        return self.looks[arm].label if arm in self.looks else arm


def _values(ok: pd.DataFrame, column: str) -> list[float]:
    return pd.to_numeric(ok[column], errors="coerce").dropna().tolist()


def cell_stats(df: pd.DataFrame, roles: Roles) -> pd.DataFrame:
    """One line per (dataset, arm, model): n, failed, test AUC / calibrated accuracy mean, std
    and 95 % interval half-width (``*_ci``), the top-5-of-10 AUC, bytes, compression,
    distillation and distillation + training time (medians over ok rows), the best set per
    (dataset, model) and those tied with it (``*_best``, ``*_tie``, ``*_p_best``: Welch's test),
    and the difference from the arm's ``versus`` counterpart with its interval and p-value."""
    out, values = [], {}
    for (dataset, arm, model), g in df.groupby(["dataset", "arm", "model"], sort=False):
        ok = g[g["status"] == "ok"]
        rec: dict[str, object] = {"dataset": dataset, "arm": arm, "model": model,
                                  "label": roles.label(arm),
                                  "family": str(g["distiller"].iloc[0]), "n": len(ok),
                                  "infeasible": int((g["status"] == "infeasible").sum()),
                                  "failed": int((g["status"] == "failed").sum())}
        for metric, column in METRICS.items():
            values[(dataset, arm, model, metric)] = _values(ok, column)
            rec[f"{metric}_mean"], rec[f"{metric}_std"] = mean_std(ok[column])
            rec[f"{metric}_ci"] = ci_halfwidth(ok[column])
        top = top_k(ok)["test_auc"] if len(ok) >= PAPER_VIEW_SEEDS else pd.Series()
        rec["top5_mean"], rec["top5_std"] = mean_std(top.astype(float))
        for col in ("distilled_bytes", "compression_ratio", "distill_time_s", "train_time_s"):
            rec[col] = float(pd.to_numeric(ok[col]).median()) if len(ok) else math.nan
        rec["cost_s"] = float((pd.to_numeric(ok["distill_time_s"])
                               + pd.to_numeric(ok["train_time_s"])).median()) \
            if len(ok) else math.nan
        rec["error"] = str(g.loc[g["status"] != "ok", "error"].iloc[-1]) if len(ok) < len(g) else ""
        first = g.iloc[0]  # settings the plots mark: graphs per class, a byte budget, pooling
        rec["gpc"] = str(first.get("distiller.gpc", "") or "")
        rec["budgeted"] = bool(str(first.get("distiller.budget_bytes", "") or ""))
        rec["pool"] = str(first.get("model.pool", "") or "")
        out.append(rec)
    cells = pd.DataFrame(out)
    cells["color"] = [roles.looks[a].color if a in roles.looks else default_color(f)
                      for a, f in zip(cells["arm"], cells["family"], strict=True)]
    ref = cells[cells["arm"] == roles.reference].groupby("dataset")["distill_time_s"].median()
    cells["time_vs_reference"] = (cells["distill_time_s"] / cells["dataset"].map(ref)).where(
        ~cells["arm"].isin([roles.full, roles.reference]))
    for metric in METRICS:
        _mark_best_and_ties(cells, values, metric, roles.full)
    _versus(cells, values, roles)
    _published(cells, roles)
    return cells


def _mark_best_and_ties(cells: pd.DataFrame, values: dict, metric: str,
                        full: str | None) -> None:
    """``<metric>_best``: the highest mean per (dataset, model) among the distilled sets;
    ``<metric>_tie``: a set Welch's two-sided test at 5 % cannot separate from it."""
    mean = f"{metric}_mean"
    cells[f"{metric}_best"], cells[f"{metric}_tie"] = False, False
    cells[f"{metric}_p_best"] = math.nan
    contenders = cells[(cells["arm"] != full) & cells[mean].notna()]
    for (dataset, model), g in contenders.groupby(["dataset", "model"]):
        best = g[mean].idxmax()
        cells.loc[best, f"{metric}_best"] = True
        top = values[(dataset, cells.loc[best, "arm"], model, metric)]
        for i in g.index.drop(best):
            p = welch(values[(dataset, cells.loc[i, "arm"], model, metric)], top, scale=1)[3]
            cells.loc[i, f"{metric}_p_best"] = p
            cells.loc[i, f"{metric}_tie"] = bool(p >= 1 - CONFIDENCE)


def _versus(cells: pd.DataFrame, values: dict, roles: Roles) -> None:
    """AUC difference (percentage points) from the arm's equal-size counterpart."""
    cells["versus"] = [roles.looks[a].versus if a in roles.looks else None
                       for a in cells["arm"]]
    for col in ("auc_diff", "auc_diff_lo", "auc_diff_hi", "auc_diff_p"):
        cells[col] = math.nan
    for i, r in cells.iterrows():
        other = (r["dataset"], r["versus"], r["model"], "auc")
        if r["versus"] and other in values:
            cells.loc[i, ["auc_diff", "auc_diff_lo", "auc_diff_hi", "auc_diff_p"]] = welch(
                values[(r["dataset"], r["arm"], r["model"], "auc")], values[other])


def _published(cells: pd.DataFrame, roles: Roles) -> None:
    cells["paper"], cells["paper_source"] = math.nan, ""
    for i, r in cells.iterrows():
        if method := roles.published.get(r["arm"]):
            found = lookup(r["dataset"], method["method"], r["model"], pool=method.get("pool"))
            if found:
                cells.loc[i, ["paper", "paper_source"]] = found[0].auc, found[0].source
    ours = cells["top5_mean"].where(cells["top5_mean"].notna(), cells["auc_mean"])
    cells["paper_diff"] = ours - cells["paper"]


def in_order(order: Sequence[str], present: pd.Series) -> list[str]:
    """The values of ``present`` in the sweep's ``order``, then any the sweep does not list."""
    seen = list(present.unique())
    return [x for x in order if x in seen] + [x for x in seen if x not in order]


def _pm1(mean: float, std: float) -> str:
    return pm(mean, std, digits=1)


def interval_text(cell: pd.Series, metric: str) -> str:
    """``'75.3 ± 2.1'`` (± the 95 % interval's half-width), ``'75.3 (n=2)'`` below 3 seeds,
    ``'75.3 ± 2.1 ≈'`` when tied with the best; ``''`` when nothing was measured."""
    mean, ci = cell[f"{metric}_mean"], cell[f"{metric}_ci"]
    if math.isnan(mean):
        return ""
    text = _pm1(mean, ci) if not math.isnan(ci) else f"{mean:.1f} (n={cell['n']})"
    return text + (" ≈" if cell[f"{metric}_tie"] else "")


def dataset_rows(cells: pd.DataFrame, dataset: str, arms: Sequence[str], models: Sequence[str],
                 metric: str, roles: Roles) -> tuple[list[str], list[list[str]], list[list[bool]]]:
    """Header, text cells and bold flags of one dataset's table of ``metric`` (auc | acc_cal)."""
    header = ["method", "bytes", "compression ×", "distill s",
              f"÷ {roles.label(roles.reference)} s" if roles.reference else "÷ reference s",
              "distill + train s"]
    for m in models:
        header += [m.upper()] + ([f"{m.upper()} top-5 of 10"] if metric == "auc" else [])
    rows, bold = [], []
    d = cells[cells["dataset"] == dataset].set_index(["arm", "model"])
    for arm in arms:
        if arm not in d.index.get_level_values(0):
            continue
        a = d.loc[arm]
        row = [roles.label(arm), size(a["distilled_bytes"].median()),
               num(a["compression_ratio"].median(), ".0f"),
               num(a["distill_time_s"].median(), ".3g"),
               num(a["time_vs_reference"].median(), ".3g"), num(a["cost_s"].median(), ".3g")]
        flags = [False] * len(row)
        for m in models:
            if m not in a.index:
                row += ["not run"] + ([""] if metric == "auc" else [])
                flags += [False] * (2 if metric == "auc" else 1)
                continue
            c = a.loc[m]
            text = interval_text(c, metric) or _not_measured(c)
            if metric == "auc" and not math.isnan(c["paper"]):
                text += f" [{c['paper_source']} {c['paper']:.1f}, Δ {c['paper_diff']:+.1f}]"
            row.append(text)
            flags.append(bool(c[f"{metric}_best"]))
            if metric == "auc":
                row.append(_pm1(c["top5_mean"], c["top5_std"]))
                flags.append(False)
        rows.append(row)
        bold.append(flags)
    return header, rows, bold


def _not_measured(cell: pd.Series) -> str:
    return "infeasible" if cell["infeasible"] else f"failed ({cell['failed']})"


def unmeasured_notes(cells: pd.DataFrame, dataset: str, roles: Roles) -> str:
    """One line per (arm, reason) of the dataset's cells without an ok row."""
    d = cells[(cells["dataset"] == dataset) & (cells["n"] == 0)]
    notes = {f"- {roles.label(r['arm'])}: {_not_measured(r)}: {r['error']}"
             for _, r in d.iterrows()}
    return "\n".join(sorted(notes))


LEGEND = {
    "auc": "Test ROC-AUC %, mean ± the half-width of its 95 % confidence interval (Student's t, "
           "n - 1 degrees of freedom) over the seeds run, or the mean and (n=k) below 3 seeds; "
           "bold: the best distilled set per dataset and GNN; ≈: a set Welch's two-sided t-test "
           "at 5 % over the seeds cannot separate from the bold one; top-5 of 10: the paper's "
           "view (mean ± std, ddof 0, of the 5 seeds of best validation AUC), blank below 10 "
           "seeds; [paper x, Δ d]: the published value (mirage/report/published.py) and ours "
           "minus it (ours: top-5 of 10 where filled, else the mean); bytes, compression, "
           "distill s: medians over the arm's rows; ÷ reference s: the arm's distillation time "
           "over the reference arm's on the same dataset, both measured by these rows on one "
           "machine; distill + train s: the whole cost of a run (median over its rows and GNNs), "
           "beside the full training split's training time in its own row; not run: a cell the "
           "study skips on this machine; infeasible: settings the data cannot meet (the reason "
           "is listed under the table). pairs.md: each arm against its equal-size counterpart.",
    "acc_cal": "Calibrated test accuracy %: the decision rule (threshold / per-class logit "
               "offsets) fitted on the validation graphs of the selected epoch, applied to test; "
               "mean ± 95 % interval half-width over the seeds run; bold: best distilled set per "
               "dataset and GNN; ≈: not separable from it (Welch's t-test, 5 %).",
}


def main_tables(cells: pd.DataFrame, order: tuple[Sequence[str], Sequence[str], Sequence[str]],
                out: Path, source: str, roles: Roles) -> list[Path]:
    """``main`` (ROC-AUC) and ``acc_cal`` as Markdown and LaTeX, and ``pairs`` (Markdown);
    ``order``: the sweep's arms, datasets and GNNs. Returns the files written."""
    arms, datasets, models = order
    arms, datasets = in_order(arms, cells["arm"]), in_order(datasets, cells["dataset"])
    written = []
    for name, metric, title in (("main", "auc", "test ROC-AUC %"),
                                ("acc_cal", "acc_cal", "calibrated test accuracy %")):
        md = [f"# Paper main table: {title}\n\n{LEGEND[metric]}"]
        tex = [f"% {title}; generated by python -m experiments.report from {source}. "
               "Needs \\usepackage{booktabs}."]
        for dataset in datasets:
            header, rows, bold = dataset_rows(cells, dataset, arms, models, metric, roles)
            notes = unmeasured_notes(cells, dataset, roles)
            md.append(f"## {dataset}\n\n{markdown_table(header, rows, bold)}"
                      + (f"\n\nNot measured:\n\n{notes}" if notes else ""))
            tex.append(latex_table(header, rows, bold, f"{dataset}: {title}"))
        for path, parts in ((out / f"{name}.md", md), (out / f"{name}.tex", tex)):
            path.write_text("\n\n".join(parts) + "\n")
            written.append(path)
    (out / "pairs.md").write_text(pairs_text(cells, (arms, datasets, models), roles))
    return [*written, out / "pairs.md"]


def pairs_text(cells: pd.DataFrame, order: tuple[Sequence[str], Sequence[str], Sequence[str]],
               roles: Roles) -> str:
    """Each arm against its equal-size counterpart (``versus``): the difference of mean test
    ROC-AUC in points with its 95 % interval (Welch) and p-value, per dataset and GNN."""
    arms, datasets, models = order
    d = cells[cells["versus"].notna() & cells["auc_diff"].notna()]
    header = ["dataset", "arm", "against", *(m.upper() for m in models)]
    rows = []
    for dataset in datasets:
        for arm in arms:
            g = d[(d["dataset"] == dataset) & (d["arm"] == arm)].set_index("model")
            if g.empty:
                continue
            row = [dataset, roles.label(arm), roles.label(g["versus"].iloc[0])]
            for m in models:
                c = g.loc[m] if m in g.index else None
                row.append("" if c is None else f"{c['auc_diff']:+.1f} [{c['auc_diff_lo']:+.1f}, "
                           f"{c['auc_diff_hi']:+.1f}] p={c['auc_diff_p']:.2g}")
            rows.append(row)
    table = markdown_table(header, rows) if rows else "No pair has 3 seeds on both sides yet."
    return ("# Equal-size pairs: test ROC-AUC difference (points), arm minus the arm it is "
            "measured against, with its 95 % interval and p-value (Welch's t-test over seeds; "
            "-: fewer than 3 seeds on a side)\n\n" + table + "\n")


def ablation_tables(df: pd.DataFrame, column: str, name: str, out: Path) -> list[Path]:
    """Test ROC-AUC per value of ``column`` (rows: dataset, GNN) as Markdown, LaTeX and CSV."""
    table, values = ablation(df.drop(columns=["arm"]), column)
    (out / f"{name}.csv").write_text(table.to_csv(index=False))
    md = (f"# {name}: test ROC-AUC % by {column}\n\ncells: test mean ± std (ddof 0) over the "
          f"seeds (validation mean; n; median compression ratio)\n\n"
          f"{ablation_markdown(table, column, values)}")
    keys = [c for c in table.columns if ":" not in c]
    header = [*keys, *(f"{column.split('.')[-1]}={v}" for v in values)]
    rows = [[*(str(r[k]) for k in keys),
             *(f"{_pm1(r[f'{v}:auc_mean'], r[f'{v}:auc_std'])} ({r[f'{v}:compression']:.0f}×)"
               if r[f"{v}:n"] else "" for v in values)] for _, r in table.iterrows()]
    tex = latex_table(header, rows, [[False] * len(header) for _ in rows],
                      f"Mirage test ROC-AUC % by {column} (compression ×)")
    (out / f"{name}.md").write_text(md + "\n")
    (out / f"{name}.tex").write_text(tex + "\n")
    return [out / f"{name}.{ext}" for ext in ("md", "tex", "csv")]


def headline(cells: pd.DataFrame, arms: Sequence[str], datasets: Sequence[str],
             model: str, roles: Roles) -> tuple[list[str], list[list[str]], list[list[bool]]]:
    """One line per dataset, one column per arm: test ROC-AUC % (mean ± 95 % interval over its
    seeds, ≈ where tied with the best) of ``model`` and the set's bytes; bold: the best
    distilled set of the line."""
    d = cells[cells["model"] == model].set_index(["dataset", "arm"])
    header = ["dataset", *(roles.label(a) for a in arms)]
    rows, bold = [], []
    for dataset in in_order(datasets, cells["dataset"]):
        row, flags = [dataset], [False]
        for a in arms:
            if (dataset, a) not in d.index:
                row.append("not run")
                flags.append(False)
                continue
            c = d.loc[(dataset, a)]
            row.append(f"{interval_text(c, 'auc') or _not_measured(c)}"
                       + (f" ({size(c['distilled_bytes'])})" if a != roles.full
                          and not math.isnan(c["distilled_bytes"]) else ""))
            flags.append(bool(c["auc_best"]))
        rows.append(row)
        bold.append(flags)
    return header, rows, bold
