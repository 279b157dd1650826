"""A study's report: ``conf/report/<study>.yaml`` lists its tables, each a kind with its rows
and filters; :func:`build` writes them into ``results/<study>/`` (or another folder), and
:func:`sync_blocks` copies tables into the README blocks that quote them.

A spec::

    tables:
      - name: baselines            # file stem: <name>.md and <name>.csv
        kind: summary              # summary | ablation | rule_selection | rule_vs_random |
                                   # rule_lodo | rule_curve | paper_main | paper_ablation |
                                   # budget_curve
        runs: [baselines/runs.csv, mirage_paper/runs.csv]   # under results/; LABEL=PATH labels
        keep: {dataset: [NCI1, DD]}          # key columns' values
        fill: {model.jk: last}               # rows written before a setting existed
        where: {model.pool: sum}             # a column reads this value (as in the CSV)
        ignore: [dataset.]                   # columns dropped, so settings differing there pool
        column: distiller.hops               # ablation kinds: one column per value
        group_by: []                         # summary: extra grouping columns
        rules: [budget 0.02]                 # rule_vs_random: the rules shown
        rule_pattern: '(?!.*fill).*'         # rule_*: only the rules it matches in full;
                                             # ${spec:<study>,<key>} reads another spec's key
        random_draws: per_seed               # rule_*: which random draw a seed meets
        choose_seeds: [0, 1, 2]              # rule_lodo: the seeds and split seeds that
        choose_splits: [0]                   #   choose (test reads every seed and split)
        plot: false                          # rule_curve: the table without the plot
        experiment: paper_main               # paper_main: the sweep's order and reuse list
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from mirage.report import paired, paper, plots, tables
from mirage.report.arms import looks
from mirage.report.formats import markdown_table
from mirage.report.rows import current, normalize, read, where

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "conf" / "report"
RESULTS = ROOT / "results"
BLOCK = re.compile(r"(<!-- table: (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.DOTALL)


def studies() -> list[str]:
    """Every study: those with a report spec, and the folders of ``results/`` with rows."""
    return sorted({p.stem for p in SPECS.glob("*.yaml")}
                  | {p.parent.name for p in RESULTS.glob("*/runs.csv")})


def _spec_value(study: str, key: str) -> Any:
    """``${spec:<study>,<key>}`` in a spec: the value of ``key`` in ``conf/report/<study>.yaml``,
    so that two studies' tables share one definition (a rule pattern) instead of copies."""
    path = SPECS / f"{study}.yaml"
    value = OmegaConf.select(OmegaConf.load(path), key) if path.is_file() else None
    if value is None:
        raise SystemExit(f"${{spec:{study},{key}}}: {path} has no key {key!r}")
    return value


OmegaConf.register_new_resolver("spec", _spec_value, replace=True)


def load_spec(study: str) -> list[dict[str, Any]]:
    """The tables of ``conf/report/<study>.yaml`` (none for a study with rows but no spec)."""
    path = SPECS / f"{study}.yaml"
    if not path.is_file():
        if (RESULTS / study / "runs.csv").is_file():
            return []
        raise SystemExit(f"no study {study!r} (studies: {studies()})")
    return OmegaConf.to_container(OmegaConf.load(path), resolve=True)["tables"]


_RULE_KEYS = {"random_where", "random_draws", "rules", "seeds", "models", "rule_pattern"}
# The keys each kind reads beside name, kind, runs and the row filters: a key a kind does not
# read would filter nothing, silently (``datasets`` on a rule_vs_random table; ``keep`` does it).
KEYS: dict[str, set[str]] = {
    "summary": {"group_by"},
    "ablation": {"column"},
    "rule_selection": _RULE_KEYS,
    "rule_vs_random": _RULE_KEYS,
    "rule_lodo": _RULE_KEYS | {"datasets", "choose_seeds", "choose_splits", "stability"},
    "rule_curve": _RULE_KEYS | {"plot"},
    "paper_main": {"experiment", "drop_arms", "headline", "full", "reference", "published"},
    "paper_ablation": {"column"},
    "budget_curve": set(),
}
_COMMON_KEYS = {"name", "kind", "runs", "keep", "fill", "where", "ignore"}


def check_keys(spec: Mapping[str, Any]) -> None:
    """Refuse a table whose kind is unknown or that names a key its kind does not read."""
    name, kind = spec.get("name"), spec.get("kind")
    if kind not in KEYS:
        raise SystemExit(f"report spec table {name!r}: unknown kind {kind!r} (kinds: "
                         f"{sorted(KEYS)})")
    if unknown := sorted(set(spec) - _COMMON_KEYS - KEYS[kind]):
        raise SystemExit(f"report spec table {name!r}: {kind} reads no {unknown}; its keys: "
                         f"{sorted(_COMMON_KEYS | KEYS[kind])}")


def _runs(spec: Mapping[str, Any], results: Path) -> tuple[list[Path], list[str], str]:
    """The spec's results files, their labels and how the tables name them."""
    paths, labels, names = [], [], []
    for entry in spec["runs"]:
        label, sep, rel = entry.partition("=")
        rel = rel if sep else entry
        paths.append(results / rel)
        labels.append(label if sep else f"results/{rel}")
        names.append(f"{label} = `results/{rel}`" if sep else f"`results/{rel}`")
    return paths, labels, ", ".join(names)


def rows_of(spec: Mapping[str, Any], results: Path) -> tuple[pd.DataFrame, str]:
    """The rows a table reads: pooled, filtered (keep, fill, where, ignore), then the rows that
    count (one per measurement); and the text naming their files."""
    paths, labels, sources = _runs(spec, results)
    df = where(read(paths, labels), keep=spec.get("keep"),
               fill={k: str(v) for k, v in (spec.get("fill") or {}).items()},
               equals={k: "" if v is None else str(v) for k, v in (spec.get("where") or {})
                       .items()},
               ignore=spec.get("ignore") or ())
    df, dropped = current(df)
    if dropped:
        sources += (f" ({dropped} repeated row(s) of an already measured (config, seed) dropped; "
                    "the newest kept)")
    return normalize(df), sources


def _experiment(name: str) -> DictConfig:
    """An experiment file over the experiments it extends (the plain entries of its defaults
    list, e.g. ``- paper_main``), without a machine profile: the study at its own size."""
    cfg = OmegaConf.load(ROOT / "conf" / "experiment" / f"{name}.yaml")
    parents = [_experiment(entry) for entry in cfg.get("defaults") or []
               if isinstance(entry, str) and entry != "_self_" and not entry.startswith("/")]
    return OmegaConf.merge(*parents, cfg)


def sweep_params(experiment: str) -> dict[str, Any]:
    """An experiment's ``hydra.sweeper.params``, over those of the experiments it extends."""
    params = OmegaConf.select(_experiment(experiment), "hydra.sweeper.params", default=None)
    return OmegaConf.to_container(params or OmegaConf.create({}))


def sweep_order(experiment: str) -> tuple[list[str], list[str], list[str]]:
    """The arms, dataset names (as rows write them) and GNNs of an experiment's sweep."""
    conf = ROOT / "conf"
    params = OmegaConf.create(sweep_params(experiment))
    names = [OmegaConf.load(conf / "dataset" / f"{d}.yaml").name
             for d in str(params.dataset).split(",")]
    return str(params.arm).split(","), names, str(params.model).split(",")


def study_seeds(experiment: str) -> tuple[int, dict[str, int]]:
    """How many seeds an experiment runs per cell at its own size (``profile=none``: its
    ``seeds``, before a machine profile), and the arms with their own count."""
    cfg = _experiment(experiment)
    arms = OmegaConf.select(cfg, "study.arm_seeds", default=None) or {}
    return len(cfg.seeds), {arm: len(seeds) for arm, seeds in arms.items()}


def reuse_list(experiment: str) -> list[Path]:
    return [ROOT / p for p in OmegaConf.select(_experiment(experiment), "study.reuse",
                                               default=None) or []]


def build_table(spec: Mapping[str, Any], out: Path, results: Path = RESULTS) -> list[Path]:
    """Write one table of a spec into ``out``; returns the files written."""
    check_keys(spec)
    name, kind = spec["name"], spec["kind"]
    df, sources = rows_of(spec, results)
    if kind == "summary":
        table = tables.summarize(df, spec.get("group_by") or ())
        text = tables.summary_text(table, name, sources)
        return _write(out, name, text, table)
    if kind == "ablation":
        table, values = tables.ablation(df, spec["column"])
        return _write(out, name, tables.ablation_text(table, spec["column"], values, name,
                                                       sources), table)
    if kind in ("rule_selection", "rule_vs_random", "rule_lodo", "rule_curve"):
        # random_where: which random runs Mirage meets, where a table pools several kinds.
        for column, value in (spec.get("random_where") or {}).items():
            df = df[(df["distiller"] != "random") | (df[column].astype(str) == str(value))]
        try:
            pairs = paired.paired(df, spec.get("random_draws", "per_seed"))
        except ValueError as err:  # paired checks the draw and that one random run meets each
            raise SystemExit(f"report spec table {name!r}: {err}") from None
        pairs = pairs.sort_values(["dataset", "rule", "model", "seed"])
        # A rule spelled in a YAML flow list ([a, b]) splits at its commas: name it exactly.
        if unknown := sorted(set(spec.get("rules") or []) - set(pairs["rule"])):
            raise SystemExit(f"report spec table {name!r}: rules {unknown} are in none of its "
                             f"rows; known: {sorted(set(pairs['rule']))}")
        if rules := spec.get("rules"):
            pairs = pairs[pairs["rule"].isin(rules)]
        if seeds := spec.get("seeds"):
            pairs = pairs[pairs["seed"].astype(int).isin(seeds)]
        if models := spec.get("models"):
            pairs = pairs[pairs["model"].isin(models)]
        if pattern := spec.get("rule_pattern"):  # e.g. one rule across its budgets
            pairs = pairs[pairs["rule"].str.fullmatch(pattern)]
        if kind == "rule_curve":
            table = paired.curve(pairs)
            written = _write(out, name, paired.curve_table(table), table, fmt="%.6g", raw=True)
            if not spec.get("plot", True):  # one budget per dataset: a table, no curve
                return written
            long = pd.concat([table.assign(distiller=who, bytes=table[f"{who}_bytes"],
                                           auc=table[f"{who}_auc"] / 100,
                                           std=table[f"{who}_std"] / 100)
                              for who in ("mirage", "random")])
            plots.budget_curve_plot(long, out / f"{name}.png")
            return [*written, out / f"{name}.png"]
        if kind == "rule_lodo":
            choose, splits = spec.get("choose_seeds"), spec.get("choose_splits")
            table = paired.lodo(pairs, spec["datasets"], choose, splits)
            (out / f"{name}_summary.md").write_text(paired.lodo_summary(table))
            (out / f"{name}_candidates.md").write_text(
                paired.candidates(pairs, spec["datasets"], choose, splits))
            extra = [out / f"{name}_summary.md", out / f"{name}_candidates.md"]
            if spec.get("stability"):  # how the choice moves with the seeds that choose
                if not choose:
                    raise SystemExit(f"report spec table {name!r}: stability needs "
                                     "choose_seeds (the seeds that choose, one at a time)")
                (out / f"{name}_stability.md").write_text(
                    paired.lodo_stability(pairs, spec["datasets"], choose, splits))
                extra.append(out / f"{name}_stability.md")
            return [*_write(out, name, paired.lodo_table(table), table, fmt="%.6g", raw=True),
                    *extra]
        if kind == "rule_selection":
            return _write(out, name, paired.select_table(pairs), pairs, fmt="%.6g", raw=True)
        return _write(out, name, paired.final_table(pairs), pairs, fmt="%.6g", raw=True)
    if kind == "paper_main":
        arms, datasets, models = sweep_order(spec["experiment"])
        df = df[~df["arm"].isin(spec.get("drop_arms") or [])]  # arms that left the grid
        family = dict(zip(df["arm"], df["distiller"], strict=True))
        shown = dict.fromkeys([*arms, *family, *(spec.get("headline") or {}).get("arms", [])])
        roles = paper.Roles(looks((arm, family.get(arm, arm)) for arm in shown),
                            spec.get("full"), spec.get("reference"), spec.get("published") or {})
        cells = paper.cell_stats(df, roles)
        cells.to_csv(out / "cells.csv", index=False, float_format="%.6g")
        written = [out / "cells.csv",
                   *paper.main_tables(cells, (arms, datasets, models), out,
                                      f"results/{spec['runs'][0]}", roles)]
        if headline := spec.get("headline"):
            header, rows, bold = paper.headline(cells, headline["arms"], datasets,
                                                headline["model"], roles)
            (out / "headline.md").write_text(
                f"# Test ROC-AUC %, {headline['model'].upper()}, mean ± 95 % interval over the "
                "seeds (the set's bytes); bold: the best distilled set of the dataset; ≈: not "
                "separable from it (Welch's t-test, 5 %)\n\n"
                + markdown_table(header, rows, bold) + "\n")
            written.append(out / "headline.md")
        seeds, arm_seeds = study_seeds(spec["experiment"])
        costs = tables.cost(df, seeds, arm_seeds)
        written += _write(out, "cost", tables.cost_text(costs, spec["experiment"], seeds,
                                                        arm_seeds), costs)
        plots.auc_vs_bytes(cells, datasets, out / "auc_vs_bytes.png")
        plots.distill_time(cells, arms, datasets, out / "distill_time.png", roles.full)
        return [*written, out / "auc_vs_bytes.png", out / "distill_time.png"]
    if kind == "paper_ablation":
        written = paper.ablation_tables(df, spec["column"], name, out)
        plots.ablation(df, spec["column"], out / f"{name}.png")
        return [*written, out / f"{name}.png"]
    if kind == "budget_curve":
        curve = plots.budget_curve(df)
        curve.to_csv(out / f"{name}.csv", index=False, float_format="%.6g")
        plots.budget_curve_plot(curve, out / f"{name}.png")
        return [out / f"{name}.csv", out / f"{name}.png"]
    raise AssertionError(f"kind {kind!r} is in KEYS but not built")


def _write(out: Path, name: str, text: str, table: pd.DataFrame, fmt: str | None = None,
           raw: bool = False) -> list[Path]:
    """``<name>.md`` (``text``, newline-terminated) and ``<name>.csv``."""
    (out / f"{name}.md").write_text(text if raw else text + "\n")
    table.to_csv(out / f"{name}.csv", index=False, float_format=fmt)
    return [out / f"{name}.md", out / f"{name}.csv"]


def build(study: str, out: Path | None = None, results: Path = RESULTS) -> list[Path]:
    """Every table of ``study``'s spec into ``out`` (default ``results/<study>/``), and, for a
    study with rows of its own, where they come from (``provenance.md``, ``.csv``)."""
    out = out or results / study
    specs = load_spec(study)
    if not any(p.is_file() for spec in specs for p in _runs(spec, results)[0]):
        return []  # no rows yet (e.g. the smoke study before its sweep): nothing to report
    out.mkdir(parents=True, exist_ok=True)
    written = [path for spec in specs for path in build_table(spec, out, results)]
    own = results / study / "runs.csv"
    if own.is_file():
        reused = reuse_list(study) if (ROOT / "conf" / "experiment" / f"{study}.yaml").is_file() \
            else []
        table = tables.provenance(rows_of({"runs": [f"{study}/runs.csv"]}, results)[0], reused)
        written += _write(out, "provenance", tables.provenance_text(table, study), table)
    return written


def table_lines(path: Path) -> str:
    """The lines of a generated Markdown file that belong to its table(s), newline-terminated,
    with a blank line between two tables (without it Markdown renders them as one)."""
    if not path.is_file():
        raise FileNotFoundError(f"a README table block names {path}, which does not exist")
    tables: list[list[str]] = []
    previous = False
    for line in path.read_text().splitlines():
        row = line.startswith("|")
        if row and not previous:
            tables.append([])
        if row:
            tables[-1].append(line + "\n")
        previous = row
    return "\n".join("".join(table) for table in tables)


def sync_blocks(readme: Path, check: bool, sources: Mapping[str, Path] | None = None) -> list[str]:
    """Fill (or with ``check``, compare) every ``<!-- table: PATH -->`` block of ``readme`` with
    the table lines of PATH (relative to the repository root), or of ``sources[PATH]`` (freshly
    generated tables: a PATH missing there is an error, since nothing builds it). Returns the
    stale blocks' paths."""
    text = readme.read_text()
    stale: list[str] = []

    def source(name: str) -> Path:
        if sources is None:
            return ROOT / name
        if name not in sources:
            raise FileNotFoundError(f"{readme}: a table block names {name}, which no report builds")
        return sources[name]

    def fill(match: re.Match[str]) -> str:
        fresh = table_lines(source(match["path"]))
        if match["body"] != fresh:
            stale.append(match["path"])
        return match.group(1) + fresh + match.group(4)

    new_text = BLOCK.sub(fill, text)
    if not check and new_text != text:
        readme.write_text(new_text)
    return stale


def readmes() -> list[Path]:
    """The files that may quote tables: the front page, docs, and each study's README and
    HISTORY (its dated readings)."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
            *sorted(RESULTS.glob("*/README.md")), *sorted(RESULTS.glob("*/HISTORY.md"))]


def blocks_stale(sources: Mapping[str, Path] | None = None,
                 files: Sequence[Path] | None = None) -> list[str]:
    """``README:PATH`` of every block that differs from its table."""
    return [f"{readme.relative_to(ROOT)}:{path}" for readme in (files or readmes())
            for path in sync_blocks(readme, check=True, sources=sources)]
