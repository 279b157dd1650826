"""Copy generated tables into the README, so that every table there is one a command produced.

A README block

    <!-- table: results/tables/mirage_paper.md -->
    | ... |
    <!-- /table -->

holds the table lines (those starting with ``|``) of the named file. ``--check`` changes nothing
and exits 1 naming every block that differs from its file.

Usage: ``python -m experiments.readme_tables [--check] [--readme README.md]``
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Mapping
from pathlib import Path

BLOCK = re.compile(r"(<!-- table: (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.DOTALL)


def table_lines(path: Path) -> str:
    """The lines of a generated Markdown file that belong to its table(s), newline-terminated."""
    if not path.is_file():
        raise FileNotFoundError(f"README table block names {path}, which does not exist")
    return "".join(line + "\n" for line in path.read_text().splitlines() if line.startswith("|"))


def sync(readme: Path, check: bool, sources: Mapping[str, Path] | None = None) -> list[str]:
    """Fill (or with ``check``, compare) every table block; return the paths of stale blocks.

    A block's table is read from the file it names (relative to the README), or, with
    ``sources``, from ``sources[name]`` (freshly generated tables; a name missing there is an
    error, since no command makes that table).
    """
    root = readme.parent
    text = readme.read_text()
    stale: list[str] = []

    def source(name: str) -> Path:
        if sources is None:
            return root / name
        if name not in sources:
            raise FileNotFoundError(f"README table block names {name}, which no command builds")
        return sources[name]

    def fill(match: re.Match[str]) -> str:
        fresh = table_lines(source(match["path"]))
        if match["body"] != fresh:
            stale.append(match["path"])
        return match.group(1) + fresh + match.group(4)

    new_text = BLOCK.sub(fill, text)
    if not check and new_text != text:
        readme.write_text(new_text)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args(argv)
    stale = sync(args.readme, args.check)
    for path in stale:
        print(f"{args.readme}: table block for {path} {'is stale' if args.check else 'updated'}")
    return int(args.check and bool(stale))


if __name__ == "__main__":
    sys.exit(main())
