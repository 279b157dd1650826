"""Smoke tests of experiments.bench_mirage and experiments.tree_frequency on MUTAG."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import compose_cfg, data_root
from omegaconf import OmegaConf

from experiments import bench_mirage, tree_frequency
from mirage.data import load_dataset
from mirage.distill.base import build_distiller

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def overrides(shared_cache: Path) -> list[str]:
    return [f"--override=data_root={data_root()}", f"--override=cache_dir={shared_cache}"]


def test_bench_mirage_mutag(tmp_path: Path, overrides: list[str]) -> None:
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
                "epoch_over_distill", "cpu_count", "torch_version", "batch_size"):
        assert col in row, col
    assert row["status"] == "ok" and row["dataset"] == "MUTAG"
    assert row["train_graphs"] == "150"  # 188 graphs, ceil 10% test and val held out
    median = float(row["distill_median_s"])
    assert 0 < float(row["distill_min_s"]) <= median <= float(row["distill_max_s"])
    assert float(row["epoch_s"]) > 0
    assert float(row["epoch_over_distill"]) == pytest.approx(float(row["epoch_s"]) / median)
    assert float(row["peak_rss_mb"]) >= float(row["rss_before_distill_mb"]) > 0
    if row["peak_rss_reset"] == "True":  # the peak is the distillation's, not the loading's
        assert float(row["distill_rss_extra_mb"]) >= 0
    assert int(row["distilled_graphs"]) >= 1
    ratio = int(row["full_bytes"]) / int(row["distilled_bytes"])
    assert float(row["compression_ratio"]) == pytest.approx(ratio) and ratio > 1
    assert int(row["cpu_count"]) >= 1 and int(row["num_threads"]) == 1
    md = out.with_suffix(".md").read_text()
    assert md.startswith("| dataset |") and "| MUTAG |" in md


def test_bench_markdown_shows_failures() -> None:
    md = bench_mirage.markdown([{"dataset": "nope", "status": "failed", "error": "exit 1"}])
    assert "| nope | failed: exit 1 |" in md


def test_tree_frequency_mutag(tmp_path: Path, shared_cache: Path) -> None:
    out = tmp_path / "figures" / "tree_frequency.png"
    code = tree_frequency.main(["--datasets", "mutag", "--out", str(out),
                                f"--override=data_root={data_root()}",
                                f"--override=cache_dir={shared_cache}"])
    assert code == 0
    blob = out.read_bytes()
    assert blob.startswith(PNG_MAGIC) and len(blob) > 5000
    rows = _read(out.with_suffix(".csv"))
    assert [r["class"] for r in rows] == ["0", "1"]
    assert set(rows[0]) == set(tree_frequency.SUMMARY_COLUMNS)
    assert sum(int(r["graphs"]) for r in rows) == 150
    for r in rows:
        assert 0 < float(r["top1_freq"]) <= 1
        assert 0 <= float(r["singleton_share"]) <= 1
        assert 1 <= int(r["trees_freq_ge_0.1"]) <= int(r["distinct_trees"])

    # The frequencies are Mirage's own one-tree supports: same distinct trees per class.
    cfg = compose_cfg(["distiller=mirage", "dataset=mutag", f"data_root={data_root()}",
                       f"cache_dir={shared_cache}"])
    data = load_dataset(cfg.dataset, data_root(), shared_cache)
    params = OmegaConf.to_container(cfg.distiller, resolve=True)
    meta = build_distiller(params.pop("name"), **params).distill(data.train_split(), 0).meta
    for r in rows:
        stats = meta["classes"][r["class"]]
        assert int(r["distinct_trees"]) == stats["distinct_trees"]
        assert int(r["graphs"]) == stats["transactions"]
        assert int(r["min_support"]) == stats["threshold"]
