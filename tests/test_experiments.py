"""The command lines of experiments/ on MUTAG and synthetic data: benchmarks, analyses, the
generic-rule pairing."""

from __future__ import annotations

import csv
import math
import os
from collections import Counter
from pathlib import Path

import pytest
from conftest import compose_cfg, data_root
from omegaconf import OmegaConf
from test_mirage_distiller import node_forms

from experiments.analysis import tree_frequency
from experiments.benchmarks import learned as bench_learned
from experiments.benchmarks import mirage as bench_mirage
from mirage.data import GraphDataset, load_dataset
from mirage.distill.base import DistilledSet, build_distiller, nbytes
from mirage.report import paired as generic_rule
from mirage.report.rows import load

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _mutag_mirage(cache: Path) -> tuple[GraphDataset, DistilledSet]:
    """MUTAG, and Mirage's distillation of its training split with the harness's settings."""
    cfg = compose_cfg(["distiller=mirage", "dataset=mutag", "model=gin",
                       f"data_root={data_root()}", f"cache_dir={cache}"])
    data = load_dataset(cfg.dataset, data_root(), cache)
    params = OmegaConf.to_container(cfg.distiller, resolve=True)
    distiller = build_distiller(params)
    return data, distiller.distill(data.train_split(), cfg.distill_seed)


@pytest.fixture
def overrides(shared_cache: Path) -> list[str]:
    return ["--", f"data_root={data_root()}", f"cache_dir={shared_cache}"]


@pytest.mark.slow
def test_bench_mirage_mutag(tmp_path: Path, overrides: list[str], shared_cache: Path) -> None:
    out = tmp_path / "bench" / "mirage_bench.csv"
    code = bench_mirage.main(["--datasets", "mutag", "--repeats", "1", "--epochs", "2",
                              "--out", str(out), *overrides])
    assert code == 0
    rows = _read(out)
    assert len(rows) == 1
    row = rows[0]
    for col in ("dataset", "hops", "distill_median_s", "distill_min_s", "distill_max_s",
                "phase_trees_s", "phase_mining_s", "peak_rss_mb", "distilled_graphs",
                "distilled_bytes", "full_bytes", "compression_ratio", "epoch_s",
                "epoch_over_distill", "mining_single_path_s", "cpu_count", "torch_version",
                "batch_size"):
        assert col in row, col
    assert row["status"] == "ok" and row["dataset"] == "MUTAG"
    assert row["train_graphs"] == "150"  # 188 graphs, ceil 10% test and val held out
    median = float(row["distill_median_s"])
    assert float(row["distill_min_s"]) == median == float(row["distill_max_s"])  # one repeat
    # The phases are timed inside the distillation: together no longer than its wall time
    # (up to their rounding to 0.1 ms), and not missing (0).
    phases = sum(float(row[f"phase_{p}_s"]) for p in bench_mirage.PHASES)
    assert 0 < phases <= median + 1e-3
    assert float(row["epoch_s"]) > 0
    assert float(row["epoch_over_distill"]) == pytest.approx(float(row["epoch_s"]) / median)
    assert float(row["mining_single_path_s"]) > 0
    peak, before = float(row["peak_rss_mb"]), float(row["rss_before_distill_mb"])
    assert peak >= before > 0
    extra = float(row["distill_rss_extra_mb"])
    if row["peak_rss_reset"] == "True":  # the peak is the distillation's, not the loading's
        assert extra == pytest.approx(peak - before)
    else:
        assert math.isnan(extra)
    # The reported set is Mirage's own distillation of the same training split.
    data, ds = _mutag_mirage(shared_cache)
    assert (int(row["distilled_graphs"]), int(row["distilled_nodes"])) == (ds.num_graphs,
                                                                           ds.num_nodes)
    assert int(row["distilled_bytes"]) == ds.nbytes()
    assert int(row["full_bytes"]) == nbytes(data.train)
    ratio = nbytes(data.train) / ds.nbytes()
    assert float(row["compression_ratio"]) == pytest.approx(ratio) and ratio > 10
    assert int(row["cpu_count"]) == os.cpu_count() and int(row["num_threads"]) == 1
    md = out.with_suffix(".md").read_text()
    assert md.startswith("| dataset |") and "| MUTAG |" in md
    assert "Mining, single-path worst case" in md


def test_bench_markdown_shows_failures() -> None:
    md = bench_mirage.markdown([{"dataset": "nope", "status": "failed", "error": "exit 1"}])
    assert "| nope | failed: exit 1 |" in md


@pytest.mark.slow
def test_tree_frequency_mutag(tmp_path: Path, shared_cache: Path) -> None:
    out = tmp_path / "figures" / "tree_frequency.png"
    code = tree_frequency.main(["--datasets", "mutag", "--out", str(out), "--",
                                f"data_root={data_root()}", f"cache_dir={shared_cache}"])
    assert code == 0
    blob = out.read_bytes()
    assert blob.startswith(PNG_MAGIC) and len(blob) > 5000
    rows = _read(out.with_suffix(".csv"))
    assert [r["class"] for r in rows] == ["0", "1"]
    assert set(rows[0]) == set(tree_frequency.SUMMARY_COLUMNS)
    assert sum(int(r["graphs"]) for r in rows) == 150

    # The frequencies are Mirage's own one-tree supports: same distinct trees per class ...
    data, distilled = _mutag_mirage(shared_cache)
    meta = distilled.meta
    for r in rows:
        stats = meta["classes"][r["class"]]
        assert int(r["distinct_trees"]) == stats["distinct_trees"]
        assert int(r["graphs"]) == stats["transactions"]
        assert int(r["min_support"]) == stats["threshold"]
    # ... and every summary agrees with graph counts of trees written out directly.
    hops = compose_cfg(["distiller=mirage", "dataset=mutag"]).distiller.hops
    for r in rows:
        assert int(r["hops"]) == hops
        graphs = [g for g in data.train if int(g.y) == int(r["class"])]
        counts = sorted(Counter(f for g in graphs for f in node_forms(g, hops)).values(),
                        reverse=True)
        assert int(r["graphs"]) == len(graphs) and int(r["distinct_trees"]) == len(counts)
        assert float(r["top1_freq"]) == pytest.approx(counts[0] / len(graphs))
        assert int(r["trees_freq_ge_0.1"]) == sum(c / len(graphs) >= 0.1 for c in counts)
        assert float(r["singleton_share"]) == pytest.approx(counts.count(1) / len(counts))
        assert int(r["trees_ge_min_support"]) == sum(c >= int(r["min_support"]) for c in counts)


@pytest.mark.parametrize("name,count", [("doscond", 1000), ("kidd", 300)])
@pytest.mark.slow
def test_bench_learned_mutag(tmp_path: Path, overrides: list[str], name: str,
                             count: int) -> None:
    out = tmp_path / "bench" / f"{name}_bench.csv"
    code = bench_learned.main([name, "--cases", "mutag:2", "--iterations", "4", "--threads", "1",
                               "--out", str(out), *overrides])
    assert code == 0
    (row,) = _read(out)
    assert row["status"] == "ok" and row["dataset"] == "MUTAG" and row["gpc"] == "2"
    per_it, setup = float(row["s_per_iteration"]), float(row["setup_s"])
    assert 4 * per_it <= float(row["distill_s"]) * 1.5  # the median of the timed iterations
    at_official = float(row["distill_official_s"])
    assert at_official == pytest.approx(setup + count * per_it)
    assert float(row["speedup"]) == pytest.approx(at_official / float(row["mirage_s"]))
    assert "| MUTAG | 2 | 4 |" in out.with_suffix(".md").read_text()


def test_mirage_budget_table_regenerates_on_mutag(tmp_path: Path) -> None:
    """The committed budget-landing rows of MUTAG are what the script makes now (deterministic:
    no timing in it), and every budget that ran fits."""
    from experiments.benchmarks import budget_fit

    committed = [r for r in csv.DictReader(
        (Path(__file__).resolve().parents[1] / "results" / "budget_fit" / "mirage_budget.csv")
        .open()) if r["dataset"] == "MUTAG"]
    fresh = budget_fit.measure("mutag", [int(r["budget_bytes"]) for r in committed],
                                  [f"data_root={data_root()}", f"cache_dir={tmp_path}"])
    assert [{k: str(v) for k, v in r.items()} for r in fresh] == committed
    assert all(int(r["bytes"]) <= int(r["budget_bytes"]) for r in committed if r["bytes"] != "-")


@pytest.mark.slow
def test_bench_scaling_writes_table_and_plot(tmp_path: Path) -> None:
    from experiments.benchmarks import scaling as bench_scaling

    out = tmp_path / "scaling.csv"
    assert bench_scaling.main(["--sizes", "300", "3000", "--no-molhiv", "--repeats", "1",
                               "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["graphs"] for r in rows] == ["300", "3000"]
    assert all(r["status"] == "ok" and float(r["distill_median_s"]) > 0 for r in rows)
    assert out.with_suffix(".md").read_text().count("\n") == 4
    assert out.with_suffix(".png").stat().st_size > 1000


def _generic_rows(path: Path) -> Path:
    """A runs.csv with Mirage under two rules and random at each rule's bytes (and one random
    run at other bytes, which must pair with nothing); Mirage's chosen epochs 1 and 3, random's
    30."""
    header = ["dataset", "distiller", "model", "seed", "status", "val_auc", "test_auc",
              "distilled_bytes", "compression_ratio", "timestamp", "config_hash",
              "distiller.budget_bytes", "distiller.coverage", "distiller.max_patterns",
              "best_epoch"]
    rows = []
    for seed in (0, 1):
        epoch = 1 + 2 * seed
        rows += [["D", "mirage", "gcn", seed, "ok", 0.8, 0.7, 1000, 50.0, "t1", "m1", "", "", 10,
                  epoch],
                 ["D", "mirage", "gcn", seed, "ok", 0.6, 0.5, 2000, 25.0, "t1", "m2", 0.05, "",
                  10, epoch],
                 ["D", "random", "gcn", seed, "ok", 0.7, 0.6, 1100, 45.0, "t2", "r1", 1000, "",
                  "", 30],
                 ["D", "random", "gcn", seed, "ok", 0.9, 0.9, 2100, 24.0, "t2", "r2", 2000, "",
                  "", 30],
                 ["D", "random", "gcn", seed, "ok", 0.1, 0.1, 3100, 20.0, "t2", "r3", 3000, "",
                  "", 30]]
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def test_generic_rule_pairs_mirage_with_random_at_its_own_bytes(tmp_path: Path) -> None:
    runs = _generic_rows(tmp_path / "runs.csv")
    # rows without a distill_seed column are one draw (seed 0): seed 1 meets it only if fixed
    assert set(generic_rule.paired(load([runs]))["seed"].astype(int)) == {0}
    pairs = generic_rule.paired(load([runs]), "fixed")
    assert sorted(pairs["rule"].unique()) == ["budget 0.05", "top 10"]
    assert len(pairs) == 4  # 2 rules x 2 seeds; the 3000-byte random run pairs with nothing
    top = pairs[pairs["rule"] == "top 10"]
    assert (top["val_auc_random"] == 0.7).all() and (top["distilled_bytes_random"] == 1100).all()
    table = generic_rule.select_table(pairs)
    assert "| D | top 10 | 80.0 | 70.0 | +10.0 | 1000 | 50x | 2 |" in table
    assert "| D | budget 0.05 | 60.0 | 90.0 | -30.0 | 2000 | 25x | 2 |" in table
    # The summary ranks rules by datasets won, then mean margin: top 10 first.
    summary = table.split("| rule | datasets won")[1].splitlines()
    assert summary[2].startswith("| top 10 | 1 of 1 | +10.00 | 50x |")
    final = generic_rule.final_table(pairs)
    # ... and the median epoch validation chose for each
    assert ("| D | top 10 | gcn | 70.0 ± 0.0 | 60.0 ± 0.0 | +10.0 | 1000 | 1100 | 50x | 2 "
            "| 2 / 30 |") in final
    assert "higher in 1 of 2" in final


@pytest.mark.parametrize("override, named", [("arm=nosuch", "mirage_at_kidd_1"),
                                             ("distiller.bogus=1", "distiller.bogus")])
def test_bad_override_is_one_error_line(override: str, named: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """An experiments/ command line given an override Hydra cannot compose exits 2 with one
    ``error:`` line naming the key (and, for a group, its valid options), not a traceback."""
    from experiments.analysis import set_sizes
    from experiments.cli import exit_with

    with pytest.raises(SystemExit) as stop:
        exit_with(set_sizes.main, [override])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and named in err


def test_size_cue_reads_a_score_that_sorts_by_size() -> None:
    """A model whose class-1 score is its graph's node count: correlation +1 with size, and
    the same AUC as the node count alone; a label that sorts the other way gives AUC 0."""
    import torch
    from torch_geometric.data import Data
    from torch_geometric.utils import degree

    from experiments.analysis.size_cue import size_cue

    class Counts(torch.nn.Module):
        def forward(self, data: Data) -> torch.Tensor:
            n = degree(data.batch, int(data.num_graphs))
            return torch.stack([torch.zeros_like(n), n], dim=1)

    graphs = [Data(x=torch.zeros(n, 1), edge_index=torch.empty(2, 0, dtype=torch.long),
                   y=torch.tensor([int(n > 3)]), num_nodes=n) for n in range(1, 7)]
    cue = size_cue(Counts(), graphs)
    assert cue["corr"] == pytest.approx(1.0) and cue["auc"] == cue["size_auc"] == 1.0
    for g in graphs:
        g.y = 1 - g.y
    assert size_cue(Counts(), graphs)["auc"] == 0.0


def test_fit_gap_trains_as_run_does(run_cfg, shared_cache: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """fit_gap's chosen epoch and its validation and test AUC are those run.py records for the
    same seed (the same training), and its last-epoch AUCs are of the three splits."""
    from experiments.analysis import fit_gap
    from experiments.cli import exit_with
    from mirage.pipeline import run

    args = ["dataset=tu", "dataset.name=MUTAG", "distiller=mirage", "model=gcn",
            "train.epochs=4", "seeds=[1]"]
    row = run(run_cfg(*args))[0]
    with pytest.raises(SystemExit) as stop:
        exit_with(fit_gap.main, [*args, f"data_root={data_root()}", f"cache_dir={shared_cache}"])
    assert stop.value.code == 0
    cells = [c.strip() for c in capsys.readouterr().out.splitlines()[-1].strip("|").split("|")]
    assert cells[0] == "1" and int(cells[4]) == row["best_epoch"]
    assert [float(c) for c in cells[5:]] == [round(100 * row["val_auc"], 1),
                                             round(100 * row["test_auc"], 1)]
    assert all(0 <= float(c) <= 100 for c in cells[1:4])
