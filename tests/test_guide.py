"""docs/adding-a-distiller.md works as written: its files, written into a copy of the repository,
and its command block, run on the smoke study, put a new distiller into the study's tables with
no other file changed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, subprocess_env

GUIDE = ROOT / "docs" / "adding-a-distiller.md"
BLOCK = re.compile(r"^```\w+ (?:file=(?P<file>\S+)|(?P<run>run))\n(?P<body>.*?)^```$",
                   re.MULTILINE | re.DOTALL)


def _blocks() -> tuple[dict[str, str], str]:
    files, commands = {}, ""
    for m in BLOCK.finditer(GUIDE.read_text()):
        if m["file"]:
            files[m["file"]] = m["body"]
        else:
            commands = m["body"]
    return files, commands


def test_the_guide_names_its_files_and_one_command_block() -> None:
    files, commands = _blocks()
    assert sorted(files) == ["baselines/first_k.py", "conf/arm/first_k_1.yaml",
                             "conf/arm/first_k_10.yaml", "conf/distiller/first_k.yaml"]
    assert commands.startswith("STUDY=paper_main ") and "experiments.report $STUDY" in commands


@pytest.mark.slow
def test_a_distiller_from_the_guide_alone_reaches_the_smoke_studys_table(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for rel in listed:
        if (ROOT / rel).is_file():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, repo / rel)
    files, commands = _blocks()
    for rel, body in files.items():
        assert not (repo / rel).exists(), f"the guide's {rel} would overwrite a file"
        (repo / rel).write_text(body)
    script = commands.replace("STUDY=paper_main ", "STUDY=paper_main_smoke ", 1)
    done = subprocess.run(["bash", "-e", "-c", script], cwd=repo, capture_output=True, text=True,
                          env=subprocess_env(PYTHONPATH=str(repo)), timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    out = repo / "results" / "paper_main_smoke"
    main = (out / "main.md").read_text()
    assert "| First-k 1 gpc |" in main and "| First-k 10 gpc |" in main
    cells = pd.read_csv(out / "cells.csv").set_index(["arm", "model"])
    assert cells.loc[("first_k_10", "gcn"), "versus"] == "random_sum_10"  # pairs.md at 3 seeds
    assert cells.loc[("first_k_10", "gcn"), "n"] == 1  # the smoke study's one seed
    assert (out / "auc_vs_bytes.png").stat().st_size > 10_000
