"""A distiller against random at equal bytes: Mirage's generic rules, each paired run by run with
the random coreset drawn to the bytes of Mirage's own set (``distiller.budget_bytes``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from mirage.report.formats import markdown_table, pm
from mirage.report.stats import one_sample, welch


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
    # Issue 29's options, named only where they differ from the original construction.
    for key, plain, name in (("distiller.hops", 2, "{} hops"),
                             ("distiller.budget_split", "support", "{} split"),
                             ("distiller.sample", "trees", "{} samples"),
                             ("distiller.root_weight", None, "roots x {}"),
                             ("distiller.real_share", 0.0, "{} real"),
                             ("distiller.real_sample", "graph", "real {}s"),
                             ("distiller.rank", "support", "{} rank"),
                             ("distiller.fill", "prefix", "{} fill"),
                             ("distiller.frozen_norm", False, "frozen norm"),
                             ("distiller.norm_stats", "init", "norm stats of the {}"),
                             ("distiller.carry_degree", False, "source degrees"),
                             ("distiller.background", False, "background nodes"),
                             ("distiller.background_group", 1, "{} trees per background node"),
                             ("distiller.contrast_z", None, "lead z >= {}"),
                             ("distiller.contrast_fdr", None, "lead FDR {}"),
                             ("distiller.tree_balance", False, "trees balanced"),
                             ("distiller.real_draw", "uniform", "{} real graphs")):
        value = row.get(key)
        if _given(value) and value != plain and str(value) != str(plain):
            rule = f"{rule}, {name.format(value)}"
    return f"{rule}, {int(float(bins))} bins" if _given(bins) else rule


# Which random coreset a Mirage run of training seed s is paired with: "per_seed", the draw of
# distill_seed s (a new draw per seed, so the interval covers the draw), and Mirage's own draw
# of seed s where its set has one; "fixed", the draws of distill_seed 0 for every seed (the
# protocol of the tables measured before 2026-12-06).
DRAWS = ("per_seed", "fixed")


def _draw(rows: pd.DataFrame) -> pd.Series:
    """Each row's distill seed; rows older than the distill_seed column were all draw 0."""
    return pd.to_numeric(rows.get("distill_seed", pd.Series("", index=rows.index)),
                         errors="coerce").fillna(0).astype(int)


def _mirage_draws(mirage: pd.DataFrame) -> pd.DataFrame:
    """Mirage's runs that stand for each seed. A cell (dataset, rule, model, split) with runs
    whose set was drawn anew for their seed (``distill_seed`` = the seed, not 0: a set that
    draws real graphs or nodes, :func:`experiments.studies.generic_default.draws_per_seed`) keeps
    those only; a cell without any keeps its draw-0 runs for every seed (its set does not depend
    on the draw, or it was measured before 2026-12-07, when every seed used draw 0)."""
    draw = _draw(mirage)
    cell = ["dataset", "rule", "model", *(c for c in ("dataset.split.seed", "split_hash")
                                          if c in mirage)]
    per_seed = (draw != 0).groupby([mirage[c] for c in cell], dropna=False).transform("any")
    seed = mirage["seed"].astype(int)
    return mirage[(per_seed & (draw == seed)) | (~per_seed & (draw == 0))]


def paired(rows: pd.DataFrame, draws: str = "per_seed") -> pd.DataFrame:
    """From a study's rows (:func:`mirage.report.rows.load`), the ok rows of Mirage (each seed's
    own draw where its set has one, :func:`_mirage_draws`) and of random at Mirage's bytes (the
    draw :data:`DRAWS` names), one line per (dataset, rule, model,
    split, seed): ``*_mirage`` and ``*_random`` metric columns, bytes and compression; ``split``
    is the split's seed as written (``''`` where rows have none), and runs meet only on the same
    split (``split_hash``)."""
    if draws not in DRAWS:
        raise ValueError(f"random_draws must be one of {list(DRAWS)}, got {draws!r}")
    rows = rows[rows["status"] == "ok"]
    mirage = rows[rows["distiller"] == "mirage"].copy()
    mirage["rule"] = mirage.apply(rule_of, axis=1)
    random = rows[(rows["distiller"] == "random") & (rows["distiller.budget_bytes"] != "")].copy()
    if draws == "per_seed":
        random = random[_draw(random) == random["seed"].astype(int)]
        mirage = _mirage_draws(mirage)
    else:
        random, mirage = random[_draw(random) == 0], mirage[_draw(mirage) == 0]
    random["matched"] = random["distiller.budget_bytes"].astype(float).astype(int)
    mirage["matched"] = mirage["distilled_bytes"].astype(int)
    for frame in (mirage, random):
        for col, source in (("split", "dataset.split.seed"), ("split_hash", "split_hash")):
            frame[col] = frame[source].astype(str) if source in frame else ""
    keys = ["dataset", "model", "split", "split_hash", "seed"]
    cols = ["val_auc", "test_auc", "distilled_bytes", "compression_ratio",
            *(["best_epoch"] if "best_epoch" in rows else [])]
    out = mirage[[*keys, "rule", "matched", *cols]].merge(
        random[[*keys, "matched", *cols]], on=[*keys, "matched"], suffixes=("_mirage", "_random"))
    if (twice := out.duplicated([*keys, "rule", "matched"], keep=False)).any():
        first = out[twice].iloc[0]
        raise ValueError(f"several random runs meet Mirage's {first['rule']!r} on "
                         f"{first['dataset']} / {first['model']} / seed {first['seed']} (random "
                         "runs of different settings pooled); keep one kind (random_where)")
    return out


def _interval(lo: float, hi: float) -> str:
    return "" if pd.isna(lo) else f"[{lo:+.1f}, {hi:+.1f}]"


def _pct(values: pd.Series) -> str:
    return pm(100 * values.mean(), 100 * values.std(ddof=0), digits=1)


def _median(values: pd.Series) -> str:
    return f"{pd.to_numeric(values, errors='coerce').median():g}"


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


def final_table(pairs: pd.DataFrame) -> str:
    """Per dataset, rule (as :func:`rule_of` spells it) and model: test ROC-AUC (mean ± std over
    seeds) of Mirage under the rule and of random at the same bytes, both sizes and Mirage's
    compression; where rows have it, the median epoch validation chose for each (an epoch of 1
    or 2 is a model chosen before it fit its set). Markdown."""
    epochs = "best_epoch_mirage" in pairs
    groups = pairs.groupby(["dataset", "rule", "model"], sort=True)
    rows = [[dataset, rule, model, _pct(g.test_auc_mirage), _pct(g.test_auc_random),
             f"{100 * (g.test_auc_mirage.mean() - g.test_auc_random.mean()):+.1f}",
             f"{int(g.distilled_bytes_mirage.iloc[0])}",
             f"{int(g.distilled_bytes_random.median())}",
             f"{g.compression_ratio_mirage.iloc[0]:.0f}x", f"{len(g)}",
             *([f"{_median(g.best_epoch_mirage)} / {_median(g.best_epoch_random)}"]
               if epochs else [])]
            for (dataset, rule, model), g in groups]
    table = markdown_table(["dataset", "rule", "model", "Mirage test AUC", "random test AUC",
                            "difference", "Mirage bytes", "random bytes", "compression", "seeds",
                            *(["epoch chosen (Mirage / random, median)"] if epochs else [])],
                           rows)
    wins = groups.apply(lambda g: g.test_auc_mirage.mean() > g.test_auc_random.mean(),
                        include_groups=False)
    return (f"{table}\n\nMirage's mean test AUC is higher in {int(wins.sum())} of {len(wins)} "
            "(dataset, rule, model) cells.\n")


def _scores(pairs: pd.DataFrame, datasets: Sequence[str], everywhere: Sequence[str],
            seeds: Sequence[int]) -> dict[str, tuple[float, int]]:
    """Per rule, its mean validation margin (Mirage minus random at its bytes, AUC) over the
    (dataset, model) cells of ``datasets`` and the cells it wins there; only rules measured with
    every model on every dataset of ``everywhere`` (so that a left-out one can be scored), on
    every one of ``seeds`` in every split of ``pairs`` (a mean of fewer runs is noisier, and
    noise wins a maximum; with every run there, each split weighs the same), at 20x compression
    or more."""
    seen = pairs[pairs["dataset"].isin(everywhere)]
    models = seen["model"].nunique()
    runs = seen["split"].nunique() * len(set(seeds))  # (split, seed) pairs each cell needs
    out = {}
    for rule, g in seen.groupby("rule", sort=True):
        cells = g.groupby(["dataset", "model"])
        margins = cells.apply(lambda c: (c.val_auc_mirage - c.val_auc_random).mean(),
                              include_groups=False)
        short = (cells.apply(lambda c: len(set(zip(c.split, c.seed, strict=True))),
                             include_groups=False) < runs).any()
        if (len(margins) < len(everywhere) * models or short
                or g.compression_ratio_mirage.min() < 20):
            continue
        voting = margins[margins.index.get_level_values("dataset").isin(datasets)]
        out[rule] = (float(voting.mean()), int((voting > 0).sum()))
    return out


def _choose(pairs: pd.DataFrame, datasets: Sequence[str], everywhere: Sequence[str],
            seeds: Sequence[int]) -> tuple[str | None, float]:
    """The rule with the highest mean validation margin over the cells of ``datasets``, then the
    most cells won, among :func:`_scores`' rules, and that margin; ``(None, nan)`` when no rule
    qualifies.

    The mean, not a count of wins, ranks first: validation sets of 19 to 47 graphs make small
    margins a coin flip, and a count would weigh a 30-point loss like a 0.1-point one."""
    scores = _scores(pairs, datasets, everywhere, seeds)
    if not scores:
        return None, float("nan")
    best = max(sorted(scores), key=scores.__getitem__)  # ties: the first by name
    return best, scores[best][0]


def _voters(pairs: pd.DataFrame, choose_seeds: Sequence[int] | None,
            choose_splits: Sequence[int] | None = None) -> tuple[pd.DataFrame, list[int]]:
    """The pairs a choice reads and their seeds: ``choose_seeds``, default every seed of
    ``pairs``, so that every rule is chosen on the same seeds; on the splits of
    ``choose_splits`` (split seeds), default every split."""
    if choose_splits is not None:
        pairs = pairs[pairs["split"].isin([str(s) for s in choose_splits])]
    seeds = pairs["seed"].astype(int)
    chosen = sorted(seeds.unique()) if choose_seeds is None else list(choose_seeds)
    return pairs[seeds.isin(chosen)], chosen


def candidates(pairs: pd.DataFrame, datasets: Sequence[str],
               choose_seeds: Sequence[int] | None = None,
               choose_splits: Sequence[int] | None = None) -> str:
    """Every rule that can be chosen, by its mean validation margin (points) over all of
    ``datasets`` (the default's choice, no dataset left out) and cells won (Markdown); seeds and
    splits as :func:`lodo` chooses on them."""
    voters, choose_seeds = _voters(pairs, choose_seeds, choose_splits)
    scores = _scores(voters, datasets, datasets, choose_seeds)
    cells = len(datasets) * voters["model"].nunique()
    rows = [[rule, f"{100 * mean:+.2f}", f"{won} of {cells}"]
            for rule, (mean, won) in sorted(scores.items(), key=lambda kv: kv[1], reverse=True)]
    return markdown_table(["rule", "validation mean margin", "cells won"], rows) + "\n"


def _test_scores(g: pd.DataFrame) -> dict[str, float]:
    """Mirage's and random's mean test AUC over ``g``'s pairs and the difference with its 95 %
    interval: over seeds (Welch) on one split; over several, each split weighs the same and the
    interval is Student's over the per-split differences, since the seeds of a split share its
    test set."""
    splits = g.groupby("split")
    if splits.ngroups > 1:
        mirage, random = splits.test_auc_mirage.mean(), splits.test_auc_random.mean()
        diff, lo, hi, p = one_sample(mirage - random)
        mirage, random = mirage.mean(), random.mean()
    else:
        mirage, random = g.test_auc_mirage.mean(), g.test_auc_random.mean()
        diff, lo, hi, p = welch(g.test_auc_mirage, g.test_auc_random)
    return {"mirage": 100 * mirage, "random": 100 * random,
            "diff": diff if pd.notna(diff) else 100 * (mirage - random),
            "diff_lo": lo, "diff_hi": hi, "p": p}


def lodo(pairs: pd.DataFrame, datasets: Sequence[str],
         choose_seeds: Sequence[int] | None = None,
         choose_splits: Sequence[int] | None = None) -> pd.DataFrame:
    """Leave one dataset out: for each of ``datasets``, the rule :func:`_choose` picks on the
    validation scores of the others (of the seeds in ``choose_seeds``, default every seed of
    ``pairs``, so that every rule is chosen on the same seeds, and of the splits in
    ``choose_splits``, default every split), among the rules measured on all of ``datasets`` and
    all of ``choose_seeds``, and that rule's test scores on the left-out one (every seed, every
    split) against random at the same bytes, per model (:func:`_test_scores`), the median bytes
    and the lowest compression. Test scores never enter a choice."""
    voters, choose_seeds = _voters(pairs, choose_seeds, choose_splits)
    out = []
    for left in datasets:
        rule, chosen_on = _choose(voters, [d for d in datasets if d != left], datasets,
                                  choose_seeds)
        mine = pairs[(pairs["dataset"] == left) & (pairs["rule"] == rule)]
        for model, g in mine.groupby("model", sort=True):
            out.append({"dataset": left, "rule": rule, "chosen_on": 100 * chosen_on,
                        "model": model, **_test_scores(g), "seeds": len(g),
                        "splits": g["split"].nunique(),
                        "bytes": int(g.distilled_bytes_mirage.median()),
                        "random_bytes": int(g.distilled_bytes_random.median()),
                        "compression": float(g.compression_ratio_mirage.min())})
    return pd.DataFrame(out)


NO_RULE = "No rule is measured with every model on every dataset and every choosing seed.\n"


def lodo_table(table: pd.DataFrame) -> str:
    """:func:`lodo`'s rows as Markdown, then per model the left-out cells won, the mean margin
    and the lowest compression: the estimate of how the default does on a new dataset."""
    if table.empty:
        return NO_RULE
    rows = [[r.dataset, r.rule, f"{r.chosen_on:+.2f}", r.model, f"{r.mirage:.1f}",
             f"{r.random:.1f}", f"{r.diff:+.1f}",
             _interval(r.diff_lo, r.diff_hi),
             f"{r.bytes}", f"{r.random_bytes}", f"{r.compression:.0f}x", f"{r.seeds}",
             f"{r.splits}"]
            for r in table.itertuples()]
    detail = markdown_table(["left out", "rule chosen on the others",
                             "its validation margin on them", "model", "Mirage test AUC",
                             "random test AUC", "difference", "95 % interval",
                             "Mirage bytes (median)", "random bytes (median)", "compression",
                             "runs", "splits"], rows)
    return f"{detail}\n\n{lodo_summary(table)}"


def _won(diff: pd.Series) -> str:
    """Cells won, as the tables show them (a difference that shows as +0.0 is a tie)."""
    shown = diff.round(1)
    ties = int((shown == 0).sum())
    return f"{int((shown > 0).sum())} of {len(diff)}" + (f" ({ties} tied)" if ties else "")


def lodo_summary(table: pd.DataFrame) -> str:
    """Per model: the left-out cells won, those won and lost beyond their interval, the mean
    margin and the lowest compression (Markdown)."""
    if table.empty:
        return NO_RULE
    summary = markdown_table(
        ["model", "left-out datasets won", "significant wins / losses", "mean margin",
         "lowest compression"],
        [[model, _won(g["diff"]),
          f"{int((g['diff_lo'] > 0).sum())} / {int((g['diff_hi'] < 0).sum())}",
          f"{g['diff'].mean():+.2f}", f"{g['compression'].min():.0f}x"]
         for model, g in table.groupby("model", sort=True)])
    return f"{summary}\n"


def lodo_stability(pairs: pd.DataFrame, datasets: Sequence[str],
                   choose_seeds: Sequence[int],
                   choose_splits: Sequence[int] | None = None) -> str:
    """How much :func:`lodo` hangs on which validation seeds choose (Markdown): the choice and
    its left-out summary per model when each of ``choose_seeds`` alone chooses, then all of
    them; rules named by letter (a second table names them). Test scores are every seed's, as in
    :func:`lodo`."""
    runs = [[s] for s in choose_seeds] + [list(choose_seeds)]
    tables = [lodo(pairs, datasets, seeds, choose_splits) for seeds in runs]
    names = sorted({r for t in tables for r in t["rule"]})
    letter = {rule: chr(ord("A") + i) for i, rule in enumerate(names)}
    models = sorted(tables[0]["model"].unique())
    rows = []
    for seeds, t in zip(runs, tables, strict=True):
        chosen = t.drop_duplicates("dataset").set_index("dataset")["rule"]
        rows.append([", ".join(map(str, seeds)), *(letter[chosen[d]] for d in datasets),
                     *(f"{_won(g['diff'])}, {g['diff'].mean():+.2f}"
                       for _, g in t.groupby("model", sort=True))])
    legend = markdown_table(["letter", "rule"], [[letter[rule], rule] for rule in names])
    return (markdown_table(["choosing seeds", *datasets,
                            *(f"{m}: won, mean margin" for m in models)], rows)
            + f"\n\n{legend}\n")


def curve(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, model and budget rule: Mirage's and random's bytes, mean and std (ddof 0)
    test AUC, and the difference with its 95 % Welch interval, in order of Mirage's bytes."""
    out = []
    for (dataset, model, rule), g in pairs.groupby(["dataset", "model", "rule"], sort=True):
        diff, lo, hi, _ = welch(g.test_auc_mirage, g.test_auc_random)
        out.append({"dataset": dataset, "model": model, "rule": rule,
                    "mirage_bytes": int(g.distilled_bytes_mirage.iloc[0]),
                    "random_bytes": int(g.distilled_bytes_random.median()),
                    "mirage_auc": 100 * g.test_auc_mirage.mean(),
                    "mirage_std": 100 * g.test_auc_mirage.std(ddof=0),
                    "random_auc": 100 * g.test_auc_random.mean(),
                    "random_std": 100 * g.test_auc_random.std(ddof=0),
                    "diff": diff, "diff_lo": lo, "diff_hi": hi, "seeds": len(g)})
    table = pd.DataFrame(out)
    return table.sort_values(["dataset", "model", "mirage_bytes"]) if out else table


def curve_table(table: pd.DataFrame) -> str:
    """:func:`curve` as Markdown: one line per budget, with whether Mirage is at least random
    within the interval of the difference (upper end >= 0) and above chance."""
    rows = [[r.dataset, r.model, r.rule, f"{r.mirage_bytes}", f"{r.random_bytes}",
             pm(r.mirage_auc, r.mirage_std, digits=1), pm(r.random_auc, r.random_std, digits=1),
             f"{r.diff:+.1f}", _interval(r.diff_lo, r.diff_hi),
             "yes" if r.diff_hi >= 0 and r.mirage_auc >= 50 else "no", f"{r.seeds}"]
            for r in table.itertuples()]
    return markdown_table(["dataset", "model", "rule", "Mirage bytes", "random bytes (median)",
                           "Mirage test AUC", "random test AUC", "difference", "95 % interval",
                           "at least random, above 50", "seeds"], rows) + "\n"
