"""Mirage's generic default on datasets nobody tuned it for, against random at equal bytes.

Every dataset goes through the generic path (``dataset=tu dataset.name=X``: no tuned file, the
GNN as deep as the trees). Per dataset and budget rule, Mirage's set is distilled first (the
harness's own cache, so the sweep then hits it), and random gets ``distiller.budget_bytes`` = that
set's bytes (the smallest balanced random coreset of equal or larger size). Both are trained with
GCN, GIN and GAT.

Usage::

    python -m experiments.generic_rule select     # every rule, seeds 0-2 -> results/issue16
    python -m experiments.generic_rule final --rules budget2    # seeds 0-4, same folder
    python -m experiments.generic_rule select --datasets MUTAG --models gcn --seeds 0 \\
        --results-dir /tmp/r -- train.epochs=2

The synthetic datasets (``experiments.make_tu``) are written under ``--syn-root`` when missing;
the named ones are read from ``data_root`` (``$MIRAGE_DATA_ROOT``). Arguments after ``--`` are
extra Hydra overrides for every run. Both phases share one folder: selection reads only
validation scores, the final table only test scores of the chosen rule (its seeds 0-2 are the
selection's runs). The tables (:func:`select_table`, :func:`final_table`) are built from the
committed rows by ``python -m experiments.make_tables``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from experiments import make_tu

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
NAMED = ("MUTAG", "NCI1", "DD", "IMDB-BINARY")
DATASETS = (*NAMED, *make_tu.SPECS)
# Candidate budget rules: Hydra overrides of the mirage distiller (threshold stays 1, a floor).
RULES: dict[str, list[str]] = {
    "top10": ["distiller.max_patterns=10", "distiller.budget_bytes=null"],
    "cover90": ["distiller.coverage=0.9", "distiller.max_patterns=null",
                "distiller.budget_bytes=null"],
    "budget2": ["distiller.budget_bytes=0.02"],
    "budget5": ["distiller.budget_bytes=0.05"],
}
MODELS = ("gcn", "gin", "gat")


def dataset_overrides(name: str, syn_root: Path) -> list[str]:
    """The generic path for ``name``; synthetic datasets read from ``syn_root``."""
    extra = [f"data_root={syn_root}"] if name in make_tu.SPECS else []
    return ["dataset=tu", f"dataset.name={name}", *extra]


def mirage_bytes(overrides: Sequence[str]) -> int:
    """Bytes of Mirage's set under ``overrides``, distilled through the harness's cache."""
    from hydra import compose, initialize_config_dir

    from mirage.data import load_dataset, resolve_data_root
    from mirage.pipeline import distill_cached, validate

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=["distiller=mirage", "model=gcn", *overrides])
    plain = validate(cfg)
    data = load_dataset(cfg.dataset, resolve_data_root(cfg.data_root), Path(cfg.cache_dir))
    return distill_cached(data, plain["distiller"], cfg.distill_seed, plain["dataset"],
                          Path(cfg.cache_dir)).data.nbytes()


def split_overrides(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(arguments, Hydra overrides)``: the overrides are whatever follows ``--``."""
    argv = list(argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    return argv[:cut], argv[cut + 1:]


def sweep(overrides: Sequence[str], models: Sequence[str], seeds: Sequence[int],
          results_dir: Path) -> int:
    """One ``run.py -m`` over ``models``; returns its exit code (failed runs are rows too)."""
    cmd = [sys.executable, str(ROOT / "run.py"), "-m", *overrides, f"model={','.join(models)}",
           f"seeds=[{','.join(map(str, seeds))}]", f"results_dir={results_dir}"]
    print("+", " ".join(cmd[1:]), flush=True)
    return subprocess.call(cmd, cwd=ROOT)


def run(datasets: Sequence[str], rules: Sequence[str], models: Sequence[str],
        seeds: Sequence[int], results_dir: Path, syn_root: Path, extra: Sequence[str]) -> int:
    """Mirage under every rule, then random at its bytes, on every dataset; the worst exit code
    of the sweeps (a rule that cannot distil a dataset is reported and skipped)."""
    from mirage.errors import ConfigError

    missing = [n for n in datasets if n in make_tu.SPECS
               and not (syn_root / "TU" / n / "raw").is_dir()]
    if missing:
        make_tu.main(["--out", str(syn_root), "--names", *missing])
    worst = 0
    for name in datasets:
        for rule in rules:
            base = [*dataset_overrides(name, syn_root), *extra]
            mirage = ["distiller=mirage", *RULES[rule]]
            try:
                size = mirage_bytes([*base, *RULES[rule]])
            except ConfigError as err:
                print(f"{name} {rule}: {err}", flush=True)
                worst = max(worst, 1)
                continue
            worst = max(worst, sweep([*base, *mirage], models, seeds, results_dir))
            random = ["distiller=random", f"distiller.budget_bytes={size}"]
            worst = max(worst, sweep([*base, *random], models, seeds, results_dir))
    return worst


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


def paired(runs: Path | Sequence[Path]) -> pd.DataFrame:
    """The ok rows of Mirage and of random at Mirage's bytes, one line per (dataset, rule,
    model, seed): ``*_mirage`` and ``*_random`` metric columns, bytes and compression."""
    paths = [runs] if isinstance(runs, Path) else list(runs)
    rows = pd.concat([pd.read_csv(p, low_memory=False) for p in paths], ignore_index=True)
    rows = rows[rows["status"] == "ok"]
    mirage = rows[rows["distiller"] == "mirage"].copy()
    mirage["rule"] = mirage.apply(rule_of, axis=1)
    random = rows[(rows["distiller"] == "random") & rows["distiller.budget_bytes"].notna()].copy()
    random["matched"] = random["distiller.budget_bytes"].astype(float).astype(int)
    keys = ["dataset", "model", "seed"]
    # Newest row per configuration and seed (a forced rerun supersedes).
    mirage = mirage.sort_values("timestamp").drop_duplicates([*keys, "rule"], keep="last")
    random = random.sort_values("timestamp").drop_duplicates(
        [*keys, "matched"], keep="last")
    mirage["matched"] = mirage["distilled_bytes"].astype(int)
    cols = ["val_auc", "test_auc", "distilled_bytes", "compression_ratio"]
    return mirage[[*keys, "rule", "matched", *cols]].merge(
        random[[*keys, "matched", *cols]], on=[*keys, "matched"], suffixes=("_mirage", "_random"))


def _pct(values: pd.Series) -> str:
    return f"{100 * values.mean():.1f} ± {100 * values.std(ddof=0):.1f}"


def select_table(pairs: pd.DataFrame) -> str:
    """From :func:`paired` runs, per dataset and rule: mean validation AUC of Mirage and of
    random at its bytes over the models and seeds, and Mirage's margin; then the rules ranked:
    those measured on every dataset at 20x compression or more first, then by datasets won
    (positive mean margin), then by mean margin over datasets. Markdown."""
    pairs = pairs.assign(margin=pairs["val_auc_mirage"] - pairs["val_auc_random"])
    lines = ["| dataset | rule | Mirage val AUC | random val AUC (same bytes) | margin | "
             "Mirage bytes | compression | runs |", "|" + "---|" * 8]
    for (dataset, rule), g in pairs.groupby(["dataset", "rule"], sort=True):
        lines.append(f"| {dataset} | {rule} | {100 * g.val_auc_mirage.mean():.1f} | "
                     f"{100 * g.val_auc_random.mean():.1f} | {100 * g.margin.mean():+.1f} | "
                     f"{int(g.distilled_bytes_mirage.iloc[0])} | "
                     f"{g.compression_ratio_mirage.iloc[0]:.0f}x | {len(g)} |")
    margins = pairs.groupby(["rule", "dataset"])["margin"].mean()
    lowest = pairs.groupby("rule")["compression_ratio_mirage"].min()
    everywhere = pairs["dataset"].nunique()
    summary = ["", "| rule | datasets won | mean margin over datasets | lowest compression |",
               "|---|---|---|---|"]
    # The bar first: measured on every dataset at 20x or more, then the most datasets
    # won, then the mean margin.
    ranked = sorted(margins.groupby("rule"),
                    key=lambda kv: (len(kv[1]) < everywhere or lowest[kv[0]] < 20,
                                    -(kv[1] > 0).sum(), -kv[1].mean()))
    for rule, per in ranked:
        summary.append(f"| {rule} | {int((per > 0).sum())} of {len(per)} | "
                       f"{100 * per.mean():+.2f} | {lowest[rule]:.0f}x |")
    return "\n".join(lines + summary) + "\n"


def final_table(pairs: pd.DataFrame, rules: Sequence[str] | None = None) -> str:
    """From :func:`paired` runs, per dataset, rule (those named in ``rules``, as :func:`rule_of`
    spells them; default all) and model: test ROC-AUC (mean ± std over seeds) of Mirage under
    the rule and of random at the same bytes, both sizes and Mirage's compression. Markdown."""
    if rules is not None:
        pairs = pairs[pairs["rule"].isin(rules)]
    lines = ["| dataset | rule | model | Mirage test AUC | random test AUC | difference | "
             "Mirage bytes | random bytes | compression | seeds |", "|" + "---|" * 10]
    groups = pairs.groupby(["dataset", "rule", "model"], sort=True)
    for (dataset, rule, model), g in groups:
        diff = 100 * (g.test_auc_mirage.mean() - g.test_auc_random.mean())
        lines.append(f"| {dataset} | {rule} | {model} | {_pct(g.test_auc_mirage)} | "
                     f"{_pct(g.test_auc_random)} | {diff:+.1f} | "
                     f"{int(g.distilled_bytes_mirage.iloc[0])} | "
                     f"{int(g.distilled_bytes_random.iloc[0])} | "
                     f"{g.compression_ratio_mirage.iloc[0]:.0f}x | {len(g)} |")
    wins = groups.apply(lambda g: g.test_auc_mirage.mean() > g.test_auc_random.mean(),
                        include_groups=False)
    lines += ["", f"Mirage's mean test AUC is higher in {int(wins.sum())} of {len(wins)} "
              "(dataset, rule, model) cells."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    argv, extra = split_overrides(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("phase", choices=["select", "final"])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--rules", nargs="+", choices=list(RULES))
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--seeds", nargs="+", type=int)
    ap.add_argument("--results-dir", type=Path)
    ap.add_argument("--syn-root", type=Path, default=ROOT / "data" / "syn")
    args = ap.parse_args(argv)
    select = args.phase == "select"
    rules = args.rules or (list(RULES) if select else ap.error("final needs --rules"))
    seeds = args.seeds or ([0, 1, 2] if select else [0, 1, 2, 3, 4])
    results = args.results_dir or ROOT / "results" / "issue16"
    code = run(args.datasets, rules, args.models, seeds, results.resolve(),
               args.syn_root.resolve(), extra)
    table = (select_table if select else final_table)(paired(results / "runs.csv"))
    print(table, end="")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
