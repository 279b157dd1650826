"""Benchmark a learned distiller (DosCond, KiDD) against the official code's cost and against
Mirage, on this machine.

Usage::

    python -m experiments.benchmarks.learned doscond --iterations 200   # -> results/distill_cost/
    python -m experiments.benchmarks.learned kidd                       # -> results/distill_cost/
    python -m experiments.benchmarks.learned kidd --cases nci1:1 --iterations 20 --out /tmp/b.csv

Each case ``<dataset>:<gpc>`` runs in a fresh child process (its own peak RSS): the dataset is
loaded, the peak-RSS mark reset, then the distiller distils the training split with the harness's
settings (``distiller=<name> dataset=<ds>``, so ``conf/tuned/<name>_<ds>.yaml`` applies) for
``--iterations`` iterations (DosCond's ``iterations``, KiDD's ``steps``; default: the official
count), on the CPU with ``--threads`` torch threads (default: every core, as the official runs
used torch's default); then Mirage distils the same split with its tuned settings (median of 3).
Every iteration is timed (``distiller.log_every=1``); ``s_per_iteration`` is their median, like
the official figures, and ``setup_s`` the time before the first iteration (collating the real
graphs, choosing the initial graphs). ``distill_official_s`` is the condensation time at the
official iteration count: measured when ``--iterations`` equals it, else ``setup_s`` + count x
the median (an iteration's cost does not change along the run). ``speedup`` is that time over
Mirage's, both measured in that one process. ``official_s_per_it`` and ``official_peak_mb`` are
the official code's figures on this machine kind (``../shared/reference/baselines-official``;
for KiDD the lower end of the range given there).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from experiments.benchmarks import common
from experiments.cli import describe, exit_with, parse
from mirage.report.formats import markdown_table

CASES = ["nci1:1", "nci1:10", "ogbg_molbace:1", "ogbg_molbace:10", "dd:10"]


@dataclass(frozen=True)
class Official:
    """What the official code of a distiller counts and costs here (per (dataset, gpc))."""

    key: str  # the config key that counts iterations
    count: int  # the official number of iterations
    s_per_it: dict[tuple[str, int], float]
    peak_mb: dict[tuple[str, int], float]


OFFICIAL = {
    "doscond": Official("iterations", 1000, {("NCI1", 1): 0.087, ("NCI1", 10): 0.091},
                        {("NCI1", 1): 647, ("NCI1", 10): 664}),
    "kidd": Official("steps", 300, {("NCI1", 1): 0.197, ("NCI1", 10): 2.59},
                     {("NCI1", 1): 957, ("NCI1", 10): 2195}),
}


def columns(name: str) -> dict[str, str]:
    count = OFFICIAL[name].count
    return {"dataset": "dataset", "gpc": "gpc", "iterations": "iterations timed",
            "s_per_iteration": "s / iteration (median)", "official_s_per_it": "official s / it",
            "setup_s": "setup s", "distill_official_s": f"{name} s ({count} it.)",
            "peak_rss_mb": "peak RSS MB", "official_peak_mb": "official peak MB",
            "mirage_s": "Mirage s", "speedup": "Mirage speed-up",
            "nodes_per_graph": "nodes / graph"}


def measure(name: str, case: str, iterations: int, threads: int,
            overrides: Sequence[str]) -> dict[str, Any]:
    """One case in this process (see the module docstring)."""
    import torch
    from omegaconf import OmegaConf

    from mirage.data import load_dataset, resolve_data_root
    from mirage.distill.base import DistillContext, build_distiller

    official = OFFICIAL[name]
    dataset, gpc = case.split(":")
    torch.set_num_threads(threads)
    cfg = common.config(dataset, [f"distiller.gpc={gpc}", f"distiller.{official.key}={iterations}",
                           "distiller.log_every=1", *overrides], distiller=name)
    data = load_dataset(cfg.dataset, resolve_data_root(cfg.data_root), Path(cfg.cache_dir))
    common.reset_peak_rss()
    distiller = build_distiller(OmegaConf.to_container(cfg.distiller, resolve=True))
    stamps = [time.perf_counter()]
    out = distiller.distill(data.train_split(), 0,
                            DistillContext(log=lambda _: stamps.append(time.perf_counter())))
    seconds = time.perf_counter() - stamps[0]
    per_it = statistics.median(b - a for a, b in itertools.pairwise(stamps[1:])) if len(
        stamps) > 2 else seconds / iterations
    setup = max(stamps[1] - stamps[0] - per_it, 0.0)
    at_official = seconds if iterations == official.count else setup + official.count * per_it
    _, peak = common.rss_mb()
    mirage_cfg = common.config(dataset, overrides)
    mirage = build_distiller(OmegaConf.to_container(mirage_cfg.distiller, resolve=True))
    mirage_s = []
    for _ in range(3):
        t0 = time.perf_counter()
        mirage.distill(data.train_split(), 0)
        mirage_s.append(time.perf_counter() - t0)
    return {"dataset": data.name, "gpc": int(gpc), "iterations": iterations, "status": "ok",
            "distiller": name, "distill_s": seconds, "s_per_iteration": per_it,
            "setup_s": setup, "distill_official_s": at_official,
            "official_s_per_it": official.s_per_it.get((data.name, int(gpc)), ""),
            "peak_rss_mb": peak,
            "official_peak_mb": official.peak_mb.get((data.name, int(gpc)), ""),
            "mirage_s": statistics.median(mirage_s),
            "speedup": at_official / statistics.median(mirage_s),
            "nodes_per_graph": out.meta["nodes_per_graph"], "final_loss": out.meta["final_loss"],
            "device": "cpu", "threads": threads, **common.machine_info(),
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds")}


def markdown(rows: Sequence[dict[str, Any]], name: str) -> str:
    cols = columns(name)
    cells = []
    for row in rows:
        if row.get("status") != "ok":
            cells.append([str(row.get("dataset")), str(row.get("gpc")),
                          f"failed: {row.get('error')}"] + [""] * (len(cols) - 3))
        else:
            cells.append([f"{v:.3g}" if isinstance(v, float) else str(v)
                          for v in (row.get(c, "") for c in cols)])
    lines = [markdown_table(list(cols.values()), cells, empty="")]
    ok = [r for r in rows if r.get("status") == "ok"]
    if ok:
        lines += ["", f"Machine: {ok[0]['cpu_model']}, {ok[0]['cpu_count']} CPUs, torch "
                      f"{ok[0]['torch_version']}, {ok[0]['threads']} torch thread(s), CPU for "
                      "both distillers."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=describe(__doc__))
    p.add_argument("distiller", choices=sorted(OFFICIAL))
    p.add_argument("--cases", nargs="+", default=CASES, metavar="DATASET:GPC")
    p.add_argument("--iterations", type=int, help="default: the official count")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--out", type=Path, help="default: results/distill_cost/<distiller>_bench.csv")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parse(p, argv)
    iterations = args.iterations or OFFICIAL[args.distiller].count
    out = args.out or Path(f"results/distill_cost/{args.distiller}_bench.csv")
    if args.worker:
        row = measure(args.distiller, args.worker, iterations, args.threads, args.overrides)
        args.result.write_text(json.dumps(row))
        return 0
    rows = []
    for case in args.cases:
        print(f"[benchmarks.learned] {args.distiller} {case} ...", file=sys.stderr, flush=True)
        rows.append(common.in_child("experiments.benchmarks.learned",
                             [args.distiller, "--worker", case, "--iterations", str(iterations),
                              "--threads", str(args.threads)], args.overrides,
                             {"dataset": case, "gpc": ""}))
    render = functools.partial(markdown, name=args.distiller)
    common.write(rows, out, render)
    print(render(rows))
    return int(any(r["status"] != "ok" for r in rows))


if __name__ == "__main__":
    exit_with(main)
