"""Raw dataset files and the processed caches built from them.

Raw files live under ``data_root`` (read-only is fine; a missing dataset is downloaded there by
its library's own code, never elsewhere). Processed files live under ``cache_dir`` in a folder
named by a fingerprint of the raw files (resolved path, size and modification time of each), so a
cache is never served for another ``data_root``, a missing one or a repaired file. A cache folder
is built under a temporary name and renamed into place when complete: an interrupted or failed
build leaves nothing that a later run would trust, and two jobs building it at once both end with
one good folder.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import math
import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar
from unittest import mock

from mirage.errors import DataError

T = TypeVar("T")

# PyG's TU format: the row count of each optional file must match nodes, edges or graphs.
TU_NODE_FILES = ("node_labels", "node_attributes")
TU_EDGE_FILES = ("edge_labels", "edge_attributes")
TU_GRAPH_FILES = ("graph_labels", "graph_attributes")
TU_REQUIRED = ("A", "graph_indicator", "graph_labels")
# Every file PyG's TU reader opens; others in the folder (README.txt, <NAME>_label_readme.txt of
# some official archives) are documentation, never read and never checked.
TU_FILES = tuple(dict.fromkeys((*TU_REQUIRED, *TU_NODE_FILES, *TU_EDGE_FILES, *TU_GRAPH_FILES)))
# What OGB's graph-property loader reads from a dataset folder, and the raw tables it requires.
OGB_ENTRIES = ("raw", "split", "mapping", "RELEASE_v1.txt")
OGB_REQUIRED = ("edge", "num-node-list", "num-edge-list", "graph-label")


def fingerprint(source: Path, entries: Sequence[str]) -> str:
    """Short hash of ``source``'s resolved path and of every file under ``entries``: relative
    path, size and modification time (nanoseconds)."""
    h = hashlib.sha256(str(source.resolve()).encode())
    for entry in entries:
        top = source / entry
        files = sorted(p for p in top.rglob("*") if p.is_file()) if top.is_dir() else [top]
        for path in files:
            if path.exists():
                st = path.stat()
                h.update(f"{path.relative_to(source)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:12]


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` into a temporary name unique to this call, then rename it to ``path``:
    readers and concurrent writers only ever see a whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def build_once(final: Path, build: Callable[[Path], None]) -> Path:
    """``final``, built by ``build(tmp)`` into a fresh temporary folder and renamed into place,
    unless it already exists. A failed build removes its folder and re-raises; when another
    process finishes the same folder first, its copy is kept and ours discarded."""
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        build(tmp)
        try:
            tmp.rename(final)
        except OSError:
            if not final.is_dir():  # a real failure, not a lost race
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def link_entries(source: Path, target: Path, entries: Sequence[str]) -> None:
    """Expose read-only source files inside a writable folder through symlinks."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        if (source / entry).exists():
            (target / entry).symlink_to((source / entry).resolve(),
                                        target_is_directory=(source / entry).is_dir())


# Left in a data root the harness created (the default ``./data``): only such a root takes
# downloads. A root a user points to is only read.
DOWNLOAD_MARKER = ".mirage-downloads"
DEFAULT_ROOT = Path("data")


def require_root(data_root: Path) -> None:
    """A ``data_root`` must exist, except the default ``./data``, which is created (with
    :data:`DOWNLOAD_MARKER`) to download into. Any other missing root is a mistake to report,
    never a cue to create a folder or fall back to a cache."""
    if data_root.is_dir():
        return
    if data_root.absolute() == DEFAULT_ROOT.absolute():
        data_root.mkdir(parents=True, exist_ok=True)
        (data_root / DOWNLOAD_MARKER).write_text("mirage-bench downloads datasets here\n")
        return
    raise DataError(f"data_root={data_root} does not exist: set data_root (or the "
                    "MIRAGE_DATA_ROOT environment variable) to the folder that holds TU/ and OGB/, "
                    f"or leave both unset to download into ./{DEFAULT_ROOT}")


# Library output: PyG's and OGB's "Processing..." lines and tqdm bars, and warnings the harness
# knows to be harmless (OGB builds tensors from read-only NumPy arrays it never writes to).
KNOWN_WARNINGS = ("The given NumPy array is not writable",)


@contextmanager
def library_output(show: bool) -> Iterator[None]:
    """Around library code that prints progress: with ``show`` (the harness's own progress rule:
    a terminal) its output passes, otherwise (a log file) it is dropped. Known warnings are
    always dropped."""
    with warnings.catch_warnings():
        for message in KNOWN_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        if show:
            yield
            return
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield


@contextmanager
def reading(source: Path, what: str, show: bool = False) -> Iterator[None]:
    """Around a library's loader: a question it asks on stdin (OGB asks ``(y/N)``) or a failure
    on present files becomes a one-line :class:`DataError` naming the folder, instead of a hang,
    an ``EOFError`` in a batch job or a traceback. Its output follows :func:`library_output`."""

    def refuse(prompt: str = "") -> str:
        raise DataError(f"{what} in {source}: the loader asked {' '.join(str(prompt).split())!r};"
                        " put the files in place yourself (see the README's data section)")

    try:
        with mock.patch("builtins.input", refuse), library_output(show):
            yield
    except DataError:
        raise
    except Exception as err:
        raise DataError(f"could not read {what} from {source}: {type(err).__name__}: "
                        f"{' '.join(str(err).split())}") from err


def fetch_missing(data_root: Path, source: Path, fetch: Callable[[Path], Path], what: str,
                  show: bool = False) -> None:
    """Make sure ``source`` (a path under ``data_root``) exists. When it does not, and the root
    takes downloads (:data:`DOWNLOAD_MARKER`), the library downloads into a staging folder
    (``fetch(staging)`` returns the folder to keep) that is moved into place only when complete:
    a failed download leaves nothing under the root. A root a user points to is only read."""
    require_root(data_root)
    if source.exists():
        return
    if not (data_root / DOWNLOAD_MARKER).is_file():
        raise DataError(f"{what} is not in {source}, and data_root={data_root} is only read "
                        "(mirage-bench downloads only into a folder it created, the default "
                        f"./{DEFAULT_ROOT}): put the dataset's files there, or unset data_root "
                        "and MIRAGE_DATA_ROOT to download it")
    staging = Path(tempfile.mkdtemp(prefix=f".{source.name}.", suffix=".download", dir=data_root))
    try:
        with reading(staging, what, show):
            fetched = fetch(staging)
        source.parent.mkdir(parents=True, exist_ok=True)
        fetched.rename(source)
    except DataError as err:
        raise DataError(f"{what} is not in {source} and downloading it failed ({err}): put its "
                        "files there, or point data_root (MIRAGE_DATA_ROOT) at a folder that "
                        "has them") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def cache_folder(source: Path, entries: Sequence[str], cache: Path) -> Path:
    """The processed-cache folder of ``source``'s ``entries`` (keyed by their fingerprint)."""
    return cache / f"{source.name}-{fingerprint(source, entries)}"


def open_cached(source: Path, entries: Sequence[str], cache: Path,
                open_dataset: Callable[[Path], T], what: str,
                check: Callable[[], None] | None = None, show: bool = False) -> T:
    """``open_dataset(root)``, where ``root`` is :func:`cache_folder`, holding symlinks to the
    entries. A missing folder is built (after ``check()``, which validates the raw files) by
    opening the dataset once there; ``show`` lets the library's progress output through."""

    def build(folder: Path) -> None:
        if check is not None:
            check()
        link_entries(source, folder / source.name, entries)
        with reading(source, what, show):
            open_dataset(folder)

    root = build_once(cache_folder(source, entries, cache), build)
    with reading(source, what, show):
        return open_dataset(root)


def _rows(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


def _is_numbers(line: bytes) -> bool:
    try:
        return all(math.isfinite(float(v)) for v in line.split(b","))
    except ValueError:
        return False


def check_tu_raw(raw: Path, name: str) -> None:
    """Cheap consistency checks of the raw files PyG's TU reader reads (:data:`TU_FILES`), so
    that a truncated or garbled file is named in a one-line error instead of failing deep in
    PyG. Checks that the required files exist, that each file's last row is numbers (truncation
    cuts rows), and that each file's row count matches its nodes, edges or graphs."""
    files = {part: path for part in TU_FILES if (path := raw / f"{name}_{part}.txt").is_file()}
    for part in TU_REQUIRED:
        if part not in files:
            raise DataError(f"raw file {raw / f'{name}_{part}.txt'} is missing")
    rows = {part: _rows(path) for part, path in files.items()}
    for part, lines in rows.items():
        if lines and not _is_numbers(lines[-1]):
            raise DataError(f"raw file {files[part]}: last row {lines[-1][:60]!r} is not "
                            "comma-separated numbers (truncated or corrupt?)")
    num_nodes, num_edges = len(rows["graph_indicator"]), len(rows["A"])
    num_graphs = int(float(rows["graph_indicator"][-1])) if num_nodes else 0
    reference = {**dict.fromkeys(TU_NODE_FILES, ("graph_indicator", num_nodes, "nodes")),
                 **dict.fromkeys(TU_EDGE_FILES, ("A", num_edges, "edges")),
                 **dict.fromkeys(TU_GRAPH_FILES, ("graph_indicator", num_graphs, "graphs"))}
    for part, (ref, count, unit) in reference.items():
        if part in rows and len(rows[part]) != count:
            raise DataError(f"raw files {files[part]} and {files[ref].name} disagree: "
                            f"{len(rows[part])} rows against {count} {unit} (one of them is "
                            "truncated or corrupt)")


def check_ogb_raw(source: Path) -> None:
    """Cheap checks of an OGB dataset folder: OGB's entries and required tables exist, a split
    has its three parts, and every compressed table reads to its end (a cut download or copy
    fails gzip's length and CRC check), so a broken folder is named in one line."""
    missing = [e for e in OGB_ENTRIES if not (source / e).exists()]
    missing += [f"raw/{t}.csv.gz" for t in OGB_REQUIRED if not (source / "raw" / f"{t}.csv.gz")
                .is_file()]
    splits = [p for p in (source / "split").glob("*") if p.is_dir()]
    missing += [f"split/{p.name}/{part}.csv.gz" for p in splits
                for part in ("train", "valid", "test") if not (p / f"{part}.csv.gz").is_file()]
    if missing or not splits:
        raise DataError(f"OGB dataset folder {source} lacks {missing or ['split/<type>/']}: "
                        "restore it, or delete the folder to let OGB download it again")
    for path in sorted([*(source / "raw").glob("*.gz"), *(source / "split").glob("*/*.gz")]):
        try:
            with gzip.open(path) as f:
                while f.read(1 << 20):
                    pass
        except (OSError, EOFError) as err:
            raise DataError(f"raw file {path} is truncated or corrupt ({type(err).__name__}: "
                            f"{' '.join(str(err).split())})") from err
