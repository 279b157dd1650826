"""Benchmark Mirage distillation: wall time, memory, output size, against one epoch of training.

Usage::

    python -m experiments.bench_mirage                 # all seven datasets -> results/bench/
    python -m experiments.bench_mirage --datasets nci1 --repeats 3 --out /tmp/bench.csv

Every dataset runs in a fresh child process, so the peak RSS is that dataset's alone. The settings
are the harness's own: ``distiller=mirage dataset=<ds> model=gin`` composed with Hydra, so the
per-dataset ``conf/tuned`` (hops, threshold) and ``conf/tuned_model`` files apply when present and
the generic defaults otherwise. Extra Hydra overrides (``cache_dir=...``, ``data_root=...``)
follow ``--override``.

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
import csv
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
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


def compose_config(dataset: str, overrides: Sequence[str] = (), distiller: str = "mirage") -> Any:
    """The harness config for ``distiller`` + GIN on ``dataset`` (tuned files apply)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=[f"distiller={distiller}", f"dataset={dataset}",
                                             "model=gin", *overrides])


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MiB (Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        current = pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        current = float("nan")
    return current, peak


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS to its current RSS (Linux >= 4.0); whether it worked."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def machine_info() -> dict[str, Any]:
    """What the timings depend on."""
    import torch
    import torch_geometric

    cpu = platform.processor()
    try:
        models = [ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text()
                  .splitlines() if ln.startswith("model name")]
        cpu = models[0] if models else cpu
    except OSError:
        pass
    return {"cpu_count": os.cpu_count(), "cpu_affinity": len(os.sched_getaffinity(0)),
            "cpu_model": cpu, "torch_version": torch.__version__,
            "pyg_version": torch_geometric.__version__, "python": platform.python_version(),
            "num_threads": torch.get_num_threads()}


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
    from mirage.pipeline import resolve_device
    from mirage.train import train_epoch

    cfg = compose_config(dataset, overrides)
    torch.set_num_threads(cfg.num_threads)
    device = resolve_device(device_name)
    data = load_dataset(cfg.dataset, resolve_data_root(cfg.data_root), Path(cfg.cache_dir))
    _, rss_load = rss_mb()
    params = OmegaConf.to_container(cfg.distiller, resolve=True)
    distiller = build_distiller(params)

    gc.collect()
    reset = reset_peak_rss()
    rss_before, _ = rss_mb()
    seconds, timings, ds = [], [], None
    for _ in range(repeats):
        ds = None
        gc.collect()
        t0 = time.perf_counter()
        ds = distiller.distill(data.train_split(), cfg.distill_seed)
        seconds.append(time.perf_counter() - t0)
        timings.append(ds.meta["timings"])
    _, rss_peak = rss_mb()
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
        "device": str(device), **machine_info(),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return row


def _child(args: list[str], module: str = "experiments.bench_mirage") -> int:
    """Run ``module`` in a fresh interpreter (``experiments`` importable from any cwd)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", module, *args], env=env, check=False).returncode


def run_dataset(dataset: str, repeats: int, epochs: int, device: str,
                overrides: Sequence[str]) -> dict[str, Any]:
    """Measure ``dataset`` in a child process; a ``status='failed'`` row if it fails."""
    extra = [f"--override={o}" for o in overrides]
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "row.json"
        code = _child(["--worker", dataset, "--result", str(result), "--repeats", str(repeats),
                       "--epochs", str(epochs), "--device", device, *extra])
        if code != 0 or not result.exists():
            return {"dataset": dataset, "config": dataset, "status": "failed",
                    "error": f"worker exited with {code} (see stderr)"}
        return json.loads(result.read_text())


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10000:
        return f"{value:,}"
    return str(value)


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """A markdown table of the main columns of ``rows`` (failed rows show their error)."""
    lines = ["| " + " | ".join(MD_COLUMNS.values()) + " |",
             "|" + "---|" * len(MD_COLUMNS)]
    for row in rows:
        if row.get("status") != "ok":
            cells = [row["dataset"], f"failed: {row.get('error', '')}"]
            cells += [""] * (len(MD_COLUMNS) - len(cells))
        else:
            cells = [_fmt(row.get(col, "")) for col in MD_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
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


def write(rows: Sequence[dict[str, Any]], out: Path,
          render: Callable[[Sequence[dict[str, Any]]], str] | None = None) -> str:
    """Write ``rows`` to ``out`` (CSV) and ``render(rows)`` (default :func:`markdown`) to
    ``out.with_suffix('.md')``; return the markdown."""
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    table = (render or markdown)(rows)
    out.with_suffix(".md").write_text(table)
    return table


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+",
                   default=["mutag", "nci1", "dd", "imdb_b", "ogbg_molbace", "ogbg_molbbbp",
                            "ogbg_molhiv"], help="conf/dataset names")
    p.add_argument("--repeats", type=int, default=5, help="distillations per dataset")
    p.add_argument("--epochs", type=int, default=3, help="timed full-data GIN epochs")
    p.add_argument("--device", default="cpu", help="device of the GIN epochs (cpu, cuda, auto)")
    p.add_argument("--out", type=Path, default=Path("results/bench/mirage_bench.csv"))
    p.add_argument("--override", action="append", default=[],
                   help="extra Hydra override, e.g. cache_dir=/tmp/cache (repeatable)")
    p.add_argument("--worker", metavar="DATASET", help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeats < 1 or args.epochs < 1:
        p.error("--repeats and --epochs must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (1 when a dataset failed)."""
    args = parse_args(argv)
    if args.worker:  # child: measure one dataset
        row = measure(args.worker, args.repeats, args.epochs, args.device, args.override)
        args.result.write_text(json.dumps(row))
        return 0
    rows = []
    for ds in args.datasets:
        print(f"[bench_mirage] {ds} ...", file=sys.stderr, flush=True)
        rows.append(run_dataset(ds, args.repeats, args.epochs, args.device, args.override))
    print(write(rows, args.out))
    print(f"rows written to {args.out} and {args.out.with_suffix('.md')}", file=sys.stderr)
    return int(any(r["status"] != "ok" for r in rows))


if __name__ == "__main__":
    raise SystemExit(main())
