"""Write seeded synthetic graph-classification datasets in the TU raw format.

They exercise the generic path (``dataset=tu``) on data that no setting of this project was
tuned on, including the shapes the named datasets lack: more than two classes, continuous
node attributes that carry the class signal, and dense graphs without node labels.

Every graph of the first two is a random tree plus a few extra edges, with uninformative
categorical node labels. Its class shows in a planted part:

* ``SYN-MOTIF3`` (3 classes): a labelled motif per class (a triangle, a 4-cycle, a 4-star),
  planted with probability 0.8; with probability 0.3 another class's motif is planted too.
* ``SYN-CONT`` (2 classes): two continuous attributes, standard normal; in class 1, the nodes of
  a planted 3-node path get +2 on the first one with probability 0.8 (class 0: a decoy path with
  probability 0.2). The categorical labels and the structure carry no signal.

``SYN-DENSE3`` (3 classes) has the shape of IMDB-MULTI and COLLAB: ego networks without node
labels (the generic path gives them degree features), a centre joined to every node and the
others in communities, each pair inside a community joined with probability ``0.9 - 0.15 y``;
class ``y`` has ``1 + Poisson(1 + y)`` communities. Sizes are drawn as for the others, so size
carries no signal.

Usage: ``python -m experiments.tools.make_tu --out DIR`` writes ``DIR/TU/<NAME>/raw/``; then
``python run.py dataset=tu dataset.name=SYN-MOTIF3 data_root=DIR``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.cli import exit_with


@dataclass(frozen=True)
class Spec:
    """One synthetic dataset: its size, node-count range, label alphabet and signal."""

    classes: int
    graphs: int
    min_nodes: int
    max_nodes: int
    labels: int
    signal: str  # "motif" | "cont" | "dense"
    seed: int


SPECS = {
    "SYN-MOTIF3": Spec(classes=3, graphs=900, min_nodes=10, max_nodes=30, labels=4,
                       signal="motif", seed=1),
    "SYN-CONT": Spec(classes=2, graphs=800, min_nodes=10, max_nodes=30, labels=3, signal="cont",
                     seed=2),
    "SYN-DENSE3": Spec(classes=3, graphs=1500, min_nodes=8, max_nodes=30, labels=0,
                       signal="dense", seed=3),
}

# Per class: (edges among the motif's nodes, the motif's node labels); label 3 is rare elsewhere.
MOTIFS = [([(0, 1), (1, 2), (2, 0)], [3, 0, 1]),
          ([(0, 1), (1, 2), (2, 3), (3, 0)], [3, 1, 1, 2]),
          ([(0, 1), (0, 2), (0, 3)], [3, 2, 2, 2])]


@dataclass
class Graph:
    """One graph: undirected edges (each once), categorical labels, continuous attributes."""

    edges: list[tuple[int, int]]
    labels: list[int]
    cont: np.ndarray  # [n, 2] (unused columns for datasets without attributes)
    y: int


def _base(spec: Spec, rng: np.random.Generator) -> tuple[int, list[tuple[int, int]], list[int]]:
    """A random recursive tree with ~n/5 extra edges, labels 0..2 (label 3 kept rare)."""
    n = int(rng.integers(spec.min_nodes, spec.max_nodes + 1))
    edges = [(int(rng.integers(0, i)), i) for i in range(1, n)]
    for _ in range(n // 5):
        a, b = rng.choice(n, size=2, replace=False).tolist()
        edges.append((a, b))
    labels = rng.integers(0, min(spec.labels, 3), size=n).tolist()
    return n, edges, labels


def _plant(n: int, edges: list, labels: list, motif: tuple, rng: np.random.Generator) -> int:
    """Append ``motif``'s nodes (labels and edges) and join it to a random node; new count."""
    motif_edges, motif_labels = motif
    edges += [(n + a, n + b) for a, b in motif_edges]
    edges.append((int(rng.integers(0, n)), n))
    labels += motif_labels
    return n + len(motif_labels)


def _dense(spec: Spec, y: int, rng: np.random.Generator) -> Graph:
    """An ego network of class ``y``: centre 0 joined to all, the rest in communities."""
    n = int(rng.integers(spec.min_nodes, spec.max_nodes + 1))
    community = rng.integers(0, 1 + int(rng.poisson(1 + y)), size=n - 1)
    edges = [(0, i) for i in range(1, n)]
    for c in np.unique(community):
        members = (np.flatnonzero(community == c) + 1).tolist()
        pairs = [(a, b) for i, a in enumerate(members) for b in members[i + 1:]]
        keep = rng.random(len(pairs)) < 0.9 - 0.15 * y
        edges += [p for p, k in zip(pairs, keep, strict=True) if k]
    return Graph(edges, [0] * n, np.zeros((n, 2)), y)


def make_graph(spec: Spec, y: int, rng: np.random.Generator) -> Graph:
    if spec.signal == "dense":
        return _dense(spec, y, rng)
    n, edges, labels = _base(spec, rng)
    if spec.signal == "motif":
        if rng.random() < 0.8:
            n = _plant(n, edges, labels, MOTIFS[y], rng)
        if rng.random() < 0.3:
            other = int(rng.choice([c for c in range(spec.classes) if c != y]))
            n = _plant(n, edges, labels, MOTIFS[other], rng)
    cont = rng.standard_normal((n, 2))
    if spec.signal == "cont" and rng.random() < (0.8 if y == 1 else 0.2):
        start = int(rng.integers(0, n))
        path = [start]
        for a, b in edges:  # walk two edges out from ``start`` (any neighbours will do)
            if len(path) < 3 and path[-1] in (a, b):
                nxt = b if a == path[-1] else a
                if nxt not in path:
                    path.append(nxt)
        cont[path, 0] += 2.0
    return Graph(edges, labels, cont, y)


def make_dataset(spec: Spec) -> list[Graph]:
    """``spec.graphs`` graphs, classes in turn, from ``spec.seed``."""
    rng = np.random.default_rng(spec.seed)
    return [make_graph(spec, i % spec.classes, rng) for i in range(spec.graphs)]


def write_tu(graphs: list[Graph], name: str, raw: Path, with_attributes: bool,
             with_labels: bool = True) -> None:
    """The TU files: ``A`` (both directions, 1-based), graph indicator and labels, and
    (optionally) node labels and node attributes."""
    raw.mkdir(parents=True, exist_ok=True)
    a, indicator, node_labels, attributes, offset = [], [], [], [], 1
    for gid, g in enumerate(graphs, start=1):
        for u, v in g.edges:
            a += [f"{u + offset}, {v + offset}", f"{v + offset}, {u + offset}"]
        indicator += [str(gid)] * len(g.labels)
        node_labels += [str(label) for label in g.labels]
        attributes += [", ".join(f"{v:.5f}" for v in row) for row in g.cont]
        offset += len(g.labels)
    files = {"A": a, "graph_indicator": indicator, "graph_labels": [str(g.y) for g in graphs]}
    if with_labels:
        files["node_labels"] = node_labels
    if with_attributes:
        files["node_attributes"] = attributes
    for part, lines in files.items():
        (raw / f"{name}_{part}.txt").write_text("\n".join(lines) + "\n")


def write(name: str, root: Path, spec: Spec | None = None) -> Path:
    """Write dataset ``name`` (as ``spec``, default its own) under ``root/TU/<name>/raw``;
    returns that folder."""
    spec = spec or SPECS[name]
    raw = root / "TU" / name / "raw"
    write_tu(make_dataset(spec), name, raw, with_attributes=spec.signal == "cont",
             with_labels=spec.labels > 0)
    return raw


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="data root to write TU/<NAME>/raw in")
    ap.add_argument("--names", nargs="+", default=list(SPECS), choices=list(SPECS))
    args = ap.parse_args(argv)
    for name in args.names:
        print(f"wrote {write(name, args.out)}")
    return 0


if __name__ == "__main__":
    exit_with(main)
