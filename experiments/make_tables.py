"""Regenerate every table the README reports from the committed rows under ``results/``.

Usage: ``python -m experiments.make_tables`` (writes ``results/tables/*.md`` and ``*.csv``, then
copies each table into the README block that names it). ``tests/test_tables.py`` runs
:func:`build` into a temporary folder and fails when a committed table or README block differs.

``--fill K=V`` below: rows written before key ``K`` existed ran what is now its default ``V``;
``--ignore dataset.``: rows written before the dataset config was recorded pool with later ones.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

from experiments import generic_rule, readme_tables, tables

ROOT = Path(__file__).resolve().parents[1]
PAPER = ["results/mirage_paper/runs.csv", "results/mirage_paper_molhiv/runs.csv"]
# Rows of the tuned OGB settings from before OGB's encoder initialisation became their default.
PYTORCH_INIT = "results/mirage_paper_pytorch_init/runs.csv"
ABLATIONS = "results/ablations/runs.csv"
OFFICIAL = "results/mirage_official/runs.csv"
# The ogbg-molhiv GIN/GAT studies pool rows written before the readout, layer-dropout, MLP-width,
# embedding-init and eval-at-init keys existed: those rows ran each key's default.
MOLHIV = ["--dataset", "ogbg-molhiv", "--model", "gin", "gat", "--fill", "model.jk=last",
          "model.layer_dropout=0.0", "model.mlp_ratio=1", "model.embedding_init=normal",
          "train.eval_at_init=False", "--ignore", "dataset."]
MOLHIV_ROWS = [ABLATIONS, PYTORCH_INIT, "results/mirage_paper_molhiv/runs.csv"]
SUPERSEDED = "results/superseded_split"
BASELINES = "results/issue14/runs.csv"
KIDD = "results/issue15/runs.csv"
STUDIES = ["mirage_paper", "mirage_official", "ablations", "issue2"]

TABLES: list[list[str]] = [
    ["--runs", "results/issue2/runs.csv", "--name", "issue2"],
    ["--runs", *PAPER, "--name", "mirage_paper"],
    ["--runs", OFFICIAL, "--name", "mirage_official"],
    ["--runs", PYTORCH_INIT, *PAPER, OFFICIAL, "--dataset", "ogbg-molbace", "ogbg-molbbbp",
     "ogbg-molhiv", "--fill", "model.embedding_init=normal", "model.jk=last",
     "--ignore", "dataset.", "--ablation", "model.embedding_init",
     "--name", "ablation_embedding_init_ogb"],
    ["--runs", ABLATIONS, "--dataset", "ogbg-molbace", "--model", "gin",
     "--ablation", "distiller.hops", "--name", "ablation_hops_molbace"],
    ["--runs", ABLATIONS, "--dataset", "NCI1", "--where", "model.pool=sum",
     "--ablation", "distiller.threshold", "--name", "ablation_threshold_nci1"],
    ["--runs", ABLATIONS, *PAPER[:1], PYTORCH_INIT, OFFICIAL, "--dataset", "DD", "ogbg-molbace",
     "--model", "gcn", "--where", "model.pool=sum", "model.embedding_init=normal",
     "dataset.keep_node_labels=", "--fill", "model.jk=last", "model.embedding_init=normal",
     "--ignore", "dataset.", "--ablation", "distiller.carry_degree",
     "--name", "ablation_carry_degree"],
    [*MOLHIV, "--runs", *MOLHIV_ROWS, "--ablation", "model.jk", "--where",
     "model.layer_dropout=0.0", "model.mlp_ratio=1", "model.num_layers=3",
     "--name", "ablation_jk_molhiv"],
    [*MOLHIV, "--runs", *MOLHIV_ROWS, "--where", "model.mlp_ratio=1",
     "model.embedding_init=normal", "--ablation", "model.layer_dropout",
     "--name", "ablation_layer_dropout_molhiv"],
    [*MOLHIV, "--runs", *MOLHIV_ROWS, "--model", "gin", "--ablation", "model.mlp_ratio",
     "--where", "model.jk=sum", "model.layer_dropout=0.0", "--name", "ablation_mlp_ratio_molhiv"],
    ["--runs", ABLATIONS, PAPER[0], "--dataset", "NCI1", "--model", "gcn",
     "--where", "train.epochs=300", "--ablation", "model.pool", "--name", "ablation_pool_nci1"],
    ["--runs", ABLATIONS, PAPER[0], "--dataset", "DD", "--model", "gcn",
     "--where", "distiller.carry_degree=False", "dataset.keep_node_labels=",
     "--ablation", "model.pool", "--name", "ablation_pool_dd"],
    ["--runs", ABLATIONS, PAPER[0], "--dataset", "DD", "--where", "distiller.carry_degree=False",
     "model.pool=sum", "--ablation", "dataset.keep_node_labels", "--name", "ablation_labels_dd"],
    ["--runs", ABLATIONS, "--dataset", "IMDB-BINARY", "--ablation", "distiller.threshold.0",
     "--name", "ablation_threshold_imdb"],
    # The TU studies on the old split (our own shuffle) against the same commands now; dataset.*
    # was not recorded then, and the label option is compared in ablation_labels_dd instead.
    ["--runs", *(f"before={SUPERSEDED}/{study}/runs.csv" for study in STUDIES),
     *(f"now=results/{study}/runs.csv" for study in STUDIES), "--dataset", "MUTAG", "NCI1", "DD",
     "--fill", "model.jk=last", "model.layer_dropout=0.0", "model.mlp_ratio=1",
     "model.embedding_init=normal", "train.eval_at_init=False",
     "--where", "dataset.keep_node_labels=", "--ignore", "dataset.", "--ablation", "source",
     "--name", "split_before_now"],
    [*MOLHIV, "--runs", "results/eval_at_init/runs.csv", PYTORCH_INIT,
     "--name", "eval_at_init_molhiv"],
    [*MOLHIV, "--runs", *MOLHIV_ROWS, "--name", "molhiv_variants"],
    # Issues 14 and 15: Mirage (paper protocol, 10 seeds) against DosCond, herding, random and
    # KiDD (3 seeds, gpc 1 and 10); DosCond's synthetic bonds on ogbg-molbace, zeros against the
    # mean one-hot; DosCond's gpc 10 and 50 settings chosen on NCI1's validation split.
    ["--runs", BASELINES, KIDD, PAPER[0], "--dataset", "NCI1", "DD", "ogbg-molbace",
     "--name", "baselines"],
    ["--runs", "results/issue14_select/runs.csv", "--ablation", "distiller.lr_adj",
     "--name", "select_doscond_nci1"],
    # Issue 15: KiDD's step count on NCI1 validation (the distiller sees only the training split).
    ["--runs", "results/issue15_select/runs.csv", "--dataset", "NCI1",
     "--ablation", "distiller.steps", "--name", "select_kidd_nci1"],
    ["--runs", "results/issue15_select/runs.csv", "--dataset", "ogbg-molbace",
     "--ablation", "distiller.steps", "--name", "select_kidd_molbace"],
    ["--runs", "results/issue15_select/runs.csv", "--dataset", "DD",
     "--ablation", "distiller.steps", "--name", "select_kidd_dd"],
    ["--runs", BASELINES, "--dataset", "ogbg-molbace", "--distiller", "doscond",
     "--model", "gin", "gat", "--ablation", "distiller.edge_features",
     "--name", "ablation_edge_features_doscond"],
]


# Issue 16: Mirage's generic rules against random at equal bytes (selection on validation), and
# the chosen default (test, 5 seeds).
GENERIC = ROOT / "results" / "issue16" / "runs.csv"
GENERIC_RULE = "budget 0.02"


def generic_tables(out: Path) -> list[Path]:
    """Issue 16's tables: every rule on validation, and the chosen rule on test, each with the
    paired runs behind it as CSV; returns the Markdown files."""
    pairs = generic_rule.paired(GENERIC).sort_values(["dataset", "rule", "model", "seed"])
    made = {"generic_select": (generic_rule.select_table(pairs), pairs),
            "generic_vs_random": (generic_rule.final_table(pairs, rules=[GENERIC_RULE]),
                                  pairs[pairs["rule"] == GENERIC_RULE])}
    for name, (markdown, rows) in made.items():
        (out / f"{name}.md").write_text(markdown)
        rows.to_csv(out / f"{name}.csv", index=False, float_format="%.6g")
    return [out / f"{name}.md" for name in made]


def build(out: Path) -> list[Path]:
    """Write every table of :data:`TABLES` and :func:`generic_tables` into ``out`` (rows read
    relative to the repository root); returns the Markdown files written."""
    written = []
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(io.StringIO()):
        for args in TABLES:
            tables.main([*args, "--out", str(out)])
            name = args[args.index("--name") + 1]
            written.append(out / f"{name}.md")
    return written + generic_tables(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "tables")
    args = ap.parse_args(argv)
    for path in build(args.out.resolve()):
        print(f"wrote {path}")
    return readme_tables.main(["--readme", str(ROOT / "README.md")])


if __name__ == "__main__":
    raise SystemExit(main())
