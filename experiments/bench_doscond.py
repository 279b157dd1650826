"""Benchmark DosCond against the official code's cost and against Mirage, on this machine.

Usage::

    python -m experiments.bench_doscond                       # -> results/bench/doscond_bench.*
    python -m experiments.bench_doscond --cases nci1:1 --iterations 50 --out /tmp/b.csv

Each case ``<dataset>:<gpc>`` runs in a fresh child process (its own peak RSS): the dataset is
loaded, the peak-RSS mark reset, then DosCond distils the training split with the harness's
settings (``distiller=doscond dataset=<ds>``, so ``conf/tuned/doscond_<ds>.yaml`` applies) and
``--iterations`` iterations, on the CPU with ``--threads`` torch threads (default: every core, as
the official run used torch's default); then Mirage distils the same split
with its tuned settings (median of 3). Every iteration is timed (``distiller.log_every=1``);
``s_per_iteration`` is their median, like the official figure, and ``setup_s`` the time before
the first iteration (collating the real graphs, the initial draw). ``distill_1000_s`` is the
condensation time at the official 1000 iterations: measured when ``--iterations 1000``, else
``setup_s`` + 1000 x the median (an iteration's cost does not change along the run).
``speedup`` is that time over Mirage's, both measured in that one process.
``official_s_per_it`` is the official DosCond's median seconds per iteration on this machine
kind (``../shared/reference/baselines-official/README.md``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from experiments.bench_mirage import _child, compose_config, machine_info, reset_peak_rss, rss_mb
from experiments.bench_mirage import write as write_table

CASES = ["nci1:1", "nci1:10", "ogbg_molbace:1", "ogbg_molbace:10", "dd:10"]
OFFICIAL_S_PER_IT = {("NCI1", 1): 0.087, ("NCI1", 10): 0.091}
COLUMNS = {"dataset": "dataset", "gpc": "gpc", "iterations": "iterations timed",
           "s_per_iteration": "s / iteration (median)",
           "official_s_per_it": "official s / it", "setup_s": "setup s",
           "distill_1000_s": "DosCond s (1000 it.)", "peak_rss_mb": "peak RSS MB",
           "mirage_s": "Mirage s", "speedup": "Mirage speed-up",
           "nodes_per_graph": "nodes / graph"}


def measure(case: str, iterations: int, threads: int,
            overrides: Sequence[str]) -> dict[str, Any]:
    """One case in this process (see the module docstring)."""
    import torch
    from omegaconf import OmegaConf

    from mirage.data import load_dataset, resolve_data_root
    from mirage.distill.base import DistillContext, build_distiller

    dataset, gpc = case.split(":")
    torch.set_num_threads(threads)
    cfg = compose_config(dataset, [f"distiller.gpc={gpc}", f"distiller.iterations={iterations}",
                                   "distiller.log_every=1", *overrides], distiller="doscond")
    data = load_dataset(cfg.dataset, resolve_data_root(cfg.data_root), Path(cfg.cache_dir))
    reset_peak_rss()
    distiller = build_distiller(OmegaConf.to_container(cfg.distiller, resolve=True))
    stamps = [time.perf_counter()]
    out = distiller.distill(data.train_split(), 0,
                            DistillContext(log=lambda _: stamps.append(time.perf_counter())))
    seconds = time.perf_counter() - stamps[0]
    per_it = statistics.median(b - a for a, b in itertools.pairwise(stamps[1:])) if len(
        stamps) > 2 else seconds / iterations
    setup = max(stamps[1] - stamps[0] - per_it, 0.0)
    at_1000 = seconds if iterations == 1000 else setup + 1000 * per_it
    _, peak = rss_mb()
    mirage_cfg = compose_config(dataset, overrides)
    mirage = build_distiller(OmegaConf.to_container(mirage_cfg.distiller, resolve=True))
    mirage_s = []
    for _ in range(3):
        t0 = time.perf_counter()
        mirage.distill(data.train_split(), 0)
        mirage_s.append(time.perf_counter() - t0)
    return {"dataset": data.name, "gpc": int(gpc), "iterations": iterations, "status": "ok",
            "distill_s": seconds, "s_per_iteration": per_it, "setup_s": setup,
            "distill_1000_s": at_1000,
            "official_s_per_it": OFFICIAL_S_PER_IT.get((data.name, int(gpc)), ""),
            "peak_rss_mb": peak, "mirage_s": statistics.median(mirage_s),
            "speedup": at_1000 / statistics.median(mirage_s),
            "nodes_per_graph": out.meta["nodes_per_graph"], "final_loss": out.meta["final_loss"],
            "device": "cpu", "threads": threads, **machine_info(),
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds")}


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS.values()) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [row.get(c, "") for c in COLUMNS]
        cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in cells]
        if row.get("status") != "ok":
            cells = [str(row.get("dataset")), str(row.get("gpc")), f"failed: {row.get('error')}"]
            cells += [""] * (len(COLUMNS) - 3)
        lines.append("| " + " | ".join(cells) + " |")
    ok = [r for r in rows if r.get("status") == "ok"]
    if ok:
        lines += ["", f"Machine: {ok[0]['cpu_model']}, {ok[0]['cpu_count']} CPUs, torch "
                      f"{ok[0]['torch_version']}, {ok[0]['threads']} torch thread(s), CPU for "
                      "both distillers."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", nargs="+", default=CASES, metavar="DATASET:GPC")
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--out", type=Path, default=Path("results/bench/doscond_bench.csv"))
    p.add_argument("--override", action="append", default=[], help="extra Hydra override")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        row = measure(args.worker, args.iterations, args.threads, args.override)
        args.result.write_text(json.dumps(row))
        return 0
    rows = []
    for case in args.cases:
        print(f"[bench_doscond] {case} ...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            result = Path(tmp) / "row.json"
            code = _child(["--worker", case, "--result", str(result), "--iterations",
                           str(args.iterations), "--threads", str(args.threads),
                           *[f"--override={o}" for o in args.override]],
                          module="experiments.bench_doscond")
            rows.append(json.loads(result.read_text()) if code == 0 and result.exists() else
                        {"dataset": case, "gpc": "", "status": "failed",
                         "error": f"worker exited with {code}"})
    write_table(rows, args.out, markdown)
    print(markdown(rows))
    return int(any(r["status"] != "ok" for r in rows))


if __name__ == "__main__":
    raise SystemExit(main())
