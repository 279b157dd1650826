"""What the benchmarks share: the harness config they measure, memory readings, the machine, a
fresh child process per case (so a peak RSS is that case's alone), and their CSV + Markdown."""

from __future__ import annotations

import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from experiments.cli import ROOT, compose


def config(dataset: str, overrides: Sequence[str] = (), distiller: str = "mirage") -> Any:
    """The harness config for ``distiller`` + GIN on ``dataset`` (tuned files apply)."""
    return compose([f"distiller={distiller}", f"dataset={dataset}", "model=gin", *overrides])


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


def in_child(module: str, args: Sequence[str], overrides: Sequence[str],
             failed: dict[str, Any]) -> dict[str, Any]:
    """Run ``python -m module args --result FILE -- overrides`` in a fresh interpreter
    (``experiments`` importable from any cwd) and return the row it wrote; ``failed`` plus the
    exit status when it wrote none."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "row.json"
        code = subprocess.run([sys.executable, "-m", module, *args, "--result", str(result),
                               "--", *overrides], env=env, check=False).returncode
        if code != 0 or not result.exists():
            return {**failed, "status": "failed", "error": f"worker exited with {code}"}
        return json.loads(result.read_text())


def write(rows: Sequence[dict[str, Any]], out: Path,
          render: Callable[[Sequence[dict[str, Any]]], str]) -> str:
    """Write ``rows`` to ``out`` (CSV) and ``render(rows)`` to ``out.with_suffix('.md')``;
    return the markdown."""
    out.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    table = render(rows)
    out.with_suffix(".md").write_text(table)
    return table
