"""Regenerate studies' tables and plots from their committed rows, and the README blocks that
quote them.

Usage::

    python -m experiments.report                    # every study with conf/report/<study>.yaml
    python -m experiments.report paper_main         # one study -> results/paper_main/
    python -m experiments.report --check            # exit 1 if a table or README block is stale
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mirage.report.spec import RESULTS, ROOT, blocks_stale, build, readmes, studies, sync_blocks

COMPARED = (".md", ".csv", ".tex")  # text outputs; plots are redrawn, not compared


def stale_files(names: Sequence[str]) -> list[str]:
    """The committed text outputs of ``names`` that differ from a fresh build."""
    stale = []
    with tempfile.TemporaryDirectory() as tmp:
        for study in names:
            for path in build(study, Path(tmp) / study):
                committed = RESULTS / study / path.name
                if path.suffix in COMPARED and (not committed.is_file()
                                                or committed.read_text() != path.read_text()):
                    stale.append(str(committed.relative_to(ROOT)))
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("studies", nargs="*", metavar="STUDY",
                    help=f"default: every study with a spec ({', '.join(studies())})")
    ap.add_argument("--check", action="store_true",
                    help="change nothing; exit 1 naming every stale table or README block")
    args = ap.parse_args(argv)
    names = args.studies or studies()
    if args.check:
        stale = stale_files(names) + blocks_stale()
        for item in stale:
            print(f"stale: {item}")
        return int(bool(stale))
    for study in names:
        for path in build(study):
            print(f"wrote {path.relative_to(ROOT)}")
    for readme in readmes():
        for block in sync_blocks(readme, check=False):
            print(f"{readme.relative_to(ROOT)}: table block for {block} updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
