"""Where a row and a distilled set come from: the code (commit), the memory, the time."""

from __future__ import annotations

import resource
import subprocess
from datetime import UTC, datetime
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def git_sha() -> str:
    """The checkout's short commit, with ``+dirty`` when tracked files other than ``results/``
    and Markdown differ from it (then the commit alone does not say which code made a row);
    empty outside a git checkout."""
    here = Path(__file__).parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=here, timeout=5).stdout.strip()
        # Committed results and prose are not code: rows appended to a tracked runs.csv must
        # not mark the next row dirty.
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                  ":/", ":(exclude,top)results", ":(exclude,top,glob)**/*.md"],
                                 capture_output=True, text=True, cwd=here, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return f"{sha}+dirty" if sha and changed.strip() else sha


def now() -> str:
    """The current UTC time, to the second, in ISO format (rows' ``timestamp``)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def one_line(err: BaseException) -> str:
    """``Type: message`` on one line, at most 500 characters (a row's ``error``)."""
    return f"{type(err).__name__}: {' '.join(str(err).split())}"[:500]
