"""Benchmark Mirage distillation: wall time, memory, output size, against one epoch of training.

Usage::

    python -m experiments.benchmarks.mirage          # all seven datasets -> results/distill_cost/
    python -m experiments.benchmarks.mirage --datasets nci1 --repeats 3 --out /tmp/b.csv

Every dataset runs in a fresh child process, so the peak RSS is that dataset's alone. The settings
are the harness's own: ``distiller=mirage dataset=<ds> model=gin`` composed with Hydra, so the
per-dataset ``conf/tuned`` (hops, threshold) and ``conf/tuned_model`` files apply when present and
the generic defaults otherwise. Extra Hydra overrides (``cache_dir=...``, ``data_root=...``)
come last, after ``--`` (:mod:`experiments.cli`).

Per dataset the child

1. loads the dataset with :func:`mirage.data.load_dataset` (processed cache under the config's
   ``cache_dir``), then resets the kernel's peak-RSS mark (``/proc/self/clear_refs``), so the
   peak excludes loading (which can exceed distillation: DD);
2. distils the training split ``--repeats`` times (median / min / max wall seconds, and the median
   of every phase of ``meta['timings']``), then reads the peak RSS (``ru_maxrss``): the resident
   dataset plus the distillation's own peak (``distill_rss_extra_mb``);
3. trains a fresh GIN for ``--epochs`` epochs on the full training split (Adam, the config's lr
   and batch size) and takes the median epoch time.

The row's ``epoch_over_distill`` is ``epoch_s / distill_median_s``: how many distillations one
epoch of full-data training pays for. ``mining_single_path_s`` times the miner's worst case of
``tests/test_mining.py::test_single_path_does_not_explode`` (one 25-item transaction 25 times,
where only the size and pattern caps stop 2**25 - 1 itemsets); the test checks the results, the
benchmark the time (a few milliseconds; seconds mean the caps no longer prune).

One CSV row per dataset goes to ``--out`` and a markdown table to ``--out`` with suffix ``.md``
(and to stdout).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from experiments.benchmarks import common
from experiments.cli import CONF, describe, exit_with, parse
from mirage.report.formats import markdown_table

PHASES = ("union", "trees", "mining", "filter", "samples")
MD_COLUMNS = {  # CSV column -> markdown header
    "dataset": "dataset", "hops": "hops", "train_graphs": "train graphs",
    "distill_median_s": "distill s (median)", "distill_min_s": "min", "distill_max_s": "max",
    "phase_trees_s": "trees s", "phase_mining_s": "mining s", "peak_rss_mb": "peak RSS MB",
    "distill_rss_extra_mb": "distill +MB",
    "distilled_graphs": "distilled graphs", "distilled_bytes": "bytes",
    "compression_ratio": "compression", "epoch_s": "GIN epoch s",
    "epoch_over_distill": "epoch / distill",
}


def time_single_path_mining(items: int = 25, repeats: int = 5) -> float:
    """Median seconds to mine ``items`` copies of one ``items``-item transaction at support 1:
    every itemset of up to 3 items, then the 100 best with no size cap (the tested case)."""
    from mirage.distill.mining import frequent_itemsets

    transactions = [set(range(items))] * items
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        frequent_itemsets(transactions, 1, max_size=3)
        frequent_itemsets(transactions, 1, max_patterns=100)
        seconds.append(time.perf_counter() - t0)
    return statistics.median(seconds)


def measure(dataset: str, repeats: int, epochs: int, device_name: str,
            overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Everything one CSV row reports about ``dataset``; run it in a fresh process."""
    import torch
    from omegaconf import OmegaConf

    from mirage.data import load_dataset, resolve_data_root
    from mirage.distill.base import DistilledSet, build_distiller, nbytes
    from mirage.models import build_model
    from mirage.study import one_draw
    from mirage.train import train_epoch
    from mirage.validation import resolve_device

    cfg = common.config(dataset, overrides)
    torch.set_num_threads(cfg.num_threads)
    device = resolve_device(device_name)
    data = load_dataset(cfg.dataset, resolve_data_root(cfg.data_root), Path(cfg.cache_dir))
    _, rss_load = common.rss_mb()
    params = OmegaConf.to_container(cfg.distiller, resolve=True)
    distiller, draw = build_distiller(params), one_draw(cfg)

    gc.collect()
    reset = common.reset_peak_rss()
    rss_before, _ = common.rss_mb()
    seconds, timings, ds = [], [], None
    for _ in range(repeats):
        ds = None
        gc.collect()
        t0 = time.perf_counter()
        ds = distiller.distill(data.train_split(), draw)
        seconds.append(time.perf_counter() - t0)
        timings.append(ds.meta["timings"])
    _, rss_peak = common.rss_mb()
    assert ds is not None
    full_bytes = nbytes(data.train)

    torch.manual_seed(0)
    model = build_model(cfg.model, data.features, data.num_classes).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.train.lr,
                                 weight_decay=cfg.train.weight_decay)
    full = DistilledSet(list(data.train))
    generator = torch.Generator().manual_seed(0)
    epoch_s = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        train_epoch(model, full, optimizer, cfg.train.batch_size, generator, device)
        epoch_s.append(time.perf_counter() - t0)

    median = statistics.median(seconds)
    row: dict[str, Any] = {
        "dataset": cfg.dataset.name, "config": dataset, "status": "ok",
        "tuned": (CONF / "tuned" / f"mirage_{dataset}.yaml").exists(),
        "hops": cfg.distiller.hops,
        "threshold": json.dumps(params["threshold"]), "max_patterns": params["max_patterns"],
        "train_graphs": len(data.train), "repeats": repeats,
        "distill_median_s": median, "distill_min_s": min(seconds), "distill_max_s": max(seconds),
        **{f"phase_{p}_s": statistics.median(t.get(p, 0.0) for t in timings) for p in PHASES},
        "rss_after_load_mb": rss_load, "rss_before_distill_mb": rss_before,
        "peak_rss_mb": rss_peak, "peak_rss_reset": reset,
        "distill_rss_extra_mb": rss_peak - rss_before if reset else float("nan"),
        "distilled_graphs": ds.num_graphs, "distilled_nodes": ds.num_nodes,
        "distilled_bytes": ds.nbytes(), "full_bytes": full_bytes,
        "compression_ratio": full_bytes / max(ds.nbytes(), 1),
        "model_layers": cfg.model.num_layers, "model_hidden": cfg.model.hidden,
        "batch_size": cfg.train.batch_size, "lr": cfg.train.lr, "epochs_timed": epochs,
        "epoch_s": statistics.median(epoch_s),
        "epoch_over_distill": statistics.median(epoch_s) / median,
        "mining_single_path_s": time_single_path_mining(),
        "device": str(device), **common.machine_info(),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return row


def run_dataset(dataset: str, repeats: int, epochs: int, device: str,
                overrides: Sequence[str]) -> dict[str, Any]:
    """Measure ``dataset`` in a child process; a ``status='failed'`` row if it fails."""
    return common.in_child("experiments.benchmarks.mirage",
                    ["--worker", dataset, "--repeats", str(repeats), "--epochs", str(epochs),
                     "--device", device], overrides, {"dataset": dataset, "config": dataset})


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10000:
        return f"{value:,}"
    return str(value)


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """A markdown table of the main columns of ``rows`` (failed rows show their error)."""
    cells = []
    for row in rows:
        if row.get("status") != "ok":
            cells.append([row["dataset"], f"failed: {row.get('error', '')}"]
                         + [""] * (len(MD_COLUMNS) - 2))
        else:
            cells.append([_fmt(row.get(col, "")) for col in MD_COLUMNS])
    lines = [markdown_table(list(MD_COLUMNS.values()), cells, empty="")]
    ok = [r for r in rows if r.get("status") == "ok"]
    if ok:
        info = ok[0]
        lines.append("")
        lines.append(f"Machine: {info['cpu_model']}, {info['cpu_count']} CPUs "
                     f"({info['cpu_affinity']} usable), torch {info['torch_version']}, "
                     f"{info['num_threads']} torch thread(s), device {info['device']}; "
                     f"{info['repeats']} distillation(s), median of {info['epochs_timed']} "
                     "GIN epoch(s) on the full training split.")
        if "mining_single_path_s" in info:
            lines.append("")
            lines.append("Mining, single-path worst case (25 x one 25-item transaction, "
                         f"capped): {_fmt(info['mining_single_path_s'])} s (median of 5).")
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=describe(__doc__))
    p.add_argument("--datasets", nargs="+",
                   default=["mutag", "nci1", "dd", "imdb_b", "ogbg_molbace", "ogbg_molbbbp",
                            "ogbg_molhiv"], help="conf/dataset names")
    p.add_argument("--repeats", type=int, default=5, help="distillations per dataset")
    p.add_argument("--epochs", type=int, default=3, help="timed full-data GIN epochs")
    p.add_argument("--device", default="cpu", help="device of the GIN epochs (cpu, cuda, auto)")
    p.add_argument("--out", type=Path, default=Path("results/distill_cost/mirage_bench.csv"))
    p.add_argument("--worker", metavar="DATASET", help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parse(p, argv)
    if args.repeats < 1 or args.epochs < 1:
        p.error("--repeats and --epochs must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (1 when a dataset failed)."""
    args = parse_args(argv)
    if args.worker:  # child: measure one dataset
        row = measure(args.worker, args.repeats, args.epochs, args.device, args.overrides)
        args.result.write_text(json.dumps(row))
        return 0
    rows = []
    for ds in args.datasets:
        print(f"[benchmarks.mirage] {ds} ...", file=sys.stderr, flush=True)
        rows.append(run_dataset(ds, args.repeats, args.epochs, args.device, args.overrides))
    print(common.write(rows, args.out, markdown))
    print(f"rows written to {args.out} and {args.out.with_suffix('.md')}", file=sys.stderr)
    return int(any(r["status"] != "ok" for r in rows))


if __name__ == "__main__":
    exit_with(main)
