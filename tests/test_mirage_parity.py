"""Parity with the official Mirage code (fixtures in <shared>/reference/mirage-official).

The official runs are rebuilt on exactly their training graphs (``split.train_indices``) and
compared up to tree isomorphism: every distilled sample is a set of canonical tree forms with a
class and a support, and the two sides must hold the same samples (``max_size`` and
``max_patterns`` off, as in the official code).

One deliberate difference, on NCI1: the official miner (pyfpgrowth) drops some frequent
single-item patterns (evandempsey/fp-growth issues #6 and #24). One NCI1 tree is in 666 class-0
graphs (>= 440) yet is missing from the official class-0 output; our miner returns it. Hence one
more class-0 itemset before the filter, and the cross-class filter then drops that tree from
class 1 (official: kept with support 754). The NCI1 tests spell this out and recount the support.
molbace (no filter) matches exactly.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from omegaconf import OmegaConf
from torch_geometric.data import Data

from mirage.data import TrainSplit, load_dataset
from mirage.distill.distiller import Mirage

ROOT = Path(__file__).resolve().parents[1]


def _data_root() -> Path | None:
    env = os.environ.get("MIRAGE_DATA_ROOT")
    if env:
        return Path(env)
    shared = ROOT.parent / "shared" / "datasets"
    return shared if shared.exists() else None


def _reference_dir() -> Path | None:
    env = os.environ.get("MIRAGE_REFERENCE_DIR")
    if env:
        return Path(env)
    root = _data_root()
    return root.parent / "reference" / "mirage-official" if root is not None else None


DATA_ROOT, REFERENCE = _data_root(), _reference_dir()
pytestmark = pytest.mark.skipif(
    DATA_ROOT is None or REFERENCE is None or not REFERENCE.exists(),
    reason="needs the datasets (MIRAGE_DATA_ROOT) and the official reference outputs "
           "(MIRAGE_REFERENCE_DIR)")

SPLIT = {"seed": 0, "test": 0.1, "val": 0.1}
DATASETS = {
    "nci1": {"loader": "tu", "name": "NCI1", "use_node_attr": True, "degree_features": False,
             "max_degree": None, "split": SPLIT},
    "ogbg_molbace": {"loader": "ogb", "name": "ogbg-molbace"},
}


# ----------------------------------------------------------------------------- canonical forms
# A tree's form: (node label, sorted tuple of (edge label, child form)). Labels are tuples of
# ints; NCI1 has no edge features, which the official code writes as the constant 1 and we as no
# column at all, so both become the empty tuple there.

def _label(value: Any) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, list) else (value,)


def json_tree_form(tree: dict, constant_edges: bool) -> tuple:
    labels = [_label(v) for v in tree["nodes"]]
    children: dict[int, list[tuple]] = {}
    for child, parent, edge in tree["edges"]:
        children.setdefault(parent, []).append((() if constant_edges else _label(edge), child))

    def form(v: int) -> tuple:
        return labels[v], tuple(sorted((e, form(c)) for e, c in children.get(v, [])))

    return form(tree["root"])


def sample_tree_forms(sample: Data) -> list[tuple]:
    """Forms of the trees of one distilled sample, one per root (edges run child -> parent)."""
    x = [tuple(r) for r in sample.x.tolist()]
    attr = ([tuple(r) for r in sample.edge_attr.tolist()] if sample.get("edge_attr") is not None
            else [()] * sample.edge_index.size(1))
    children: dict[int, list[tuple]] = {}
    for e, (child, parent) in enumerate(sample.edge_index.t().tolist()):
        children.setdefault(parent, []).append((attr[e], child))

    def form(v: int) -> tuple:
        return x[v], tuple(sorted((e, form(c)) for e, c in children.get(v, [])))

    return [form(int(r)) for r in np.flatnonzero(sample.pool_mask.numpy())]


def form_depth(form: tuple) -> int:
    """Depth of a tree form: 0 for a lone root."""
    return 1 + max(form_depth(child) for _, child in form[1]) if form[1] else 0


def pattern_key(cls: int, support: int, forms: list[tuple]) -> tuple:
    return cls, support, tuple(sorted(forms))


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def reference_run(shared_cache: Path):
    """(reference JSON, training set of the official run) for a dataset key."""
    cache: dict[str, tuple[dict, TrainSplit]] = {}

    def get(key: str) -> tuple[dict, TrainSplit]:
        if key not in cache:
            ref = json.loads((REFERENCE / f"{key}.json").read_text())
            data = load_dataset(OmegaConf.create(DATASETS[key]), DATA_ROOT, shared_cache)
            by_index = {}
            for part in ("train", "val", "test"):
                by_index.update(zip(data.info["split"][part], getattr(data, part), strict=True))
            # The tests check the class sizes of this split against the official run's.
            train = [by_index[i] for i in ref["split"]["train_indices"]]
            cache[key] = ref, TrainSplit(key, train, data.num_classes, data.features)
        return cache[key]

    return get


def _distill(ref: dict, data: TrainSplit, cross_class_filter: bool):
    thresholds = {int(c): t for c, t in ref["thresholds"].items()}
    return Mirage(hops=ref["hops"], threshold=thresholds, max_size=None,
                  cross_class_filter=cross_class_filter).distill(data, seed=0)


def _ours(out) -> Counter:
    return Counter(pattern_key(int(g.y), int(s), sample_tree_forms(g))
                   for g, s in zip(out.samples, out.support, strict=True))


def _theirs(patterns: list[dict], constant_edges: bool) -> Counter:
    return Counter(pattern_key(p["class"], p["support"],
                               [json_tree_form(t, constant_edges) for t in p["trees"]])
                   for p in patterns)


def node_forms(g: Data, depth: int) -> set[tuple]:
    """Forms of the depth-``depth`` trees of the non-isolated nodes of ``g`` (slow, direct)."""
    x = [tuple(r) for r in g.x.tolist()]
    incoming: list[list[int]] = [[] for _ in x]
    for a, b in g.edge_index.t().tolist():
        incoming[b].append(a)
    level: list[tuple] = [(label, ()) for label in x]
    for _ in range(depth):  # no edge features on NCI1: every edge label is ()
        level = [(x[v], tuple(sorted(((), level[u]) for u in incoming[v])))
                 for v in range(len(x))]
    return {level[v] for v in range(len(x)) if incoming[v]}


# What pyfpgrowth missed on NCI1 (see the module docstring): (class, support) of a 1-itemset.
NCI1_MISSED_BY_OFFICIAL = (0, 666)
NCI1_SAME_TREE_IN_CLASS_1 = (1, 754)


def _nci1_missed(ours_unfiltered: Counter) -> tuple:
    """Our NCI1 pattern that the official output lacks, checked to be that single tree."""
    extra = [key for key in ours_unfiltered if key[:2] == NCI1_MISSED_BY_OFFICIAL]
    assert len(extra) == 1 and len(extra[0][2]) == 1
    return extra[0]


# ----------------------------------------------------------------------------- tests

@pytest.mark.slow
def test_nci1_unfiltered_patterns(reference_run) -> None:
    ref, data = reference_run("nci1")
    ours = _ours(_distill(ref, data, cross_class_filter=False))
    theirs = _theirs(ref["unfiltered_patterns"], constant_edges=True)
    missed = _nci1_missed(ours)
    assert ours - theirs == Counter([missed]) and not theirs - ours
    # Our support is right: a direct count over the class's graphs (the tree is in 666 class-0
    # graphs, above the threshold 440, so the official output should have had it).
    tree = missed[2][0]
    for cls, support in (NCI1_MISSED_BY_OFFICIAL, NCI1_SAME_TREE_IN_CLASS_1):
        graphs = [g for g in data.graphs if int(g.y) == cls]
        assert sum(tree in node_forms(g, ref["hops"]) for g in graphs) == support
    assert pattern_key(*NCI1_SAME_TREE_IN_CLASS_1, [tree]) in theirs


@pytest.mark.slow
def test_nci1_filtered_samples_and_stats(reference_run) -> None:
    ref, data = reference_run("nci1")
    unfiltered = _ours(_distill(ref, data, cross_class_filter=False))
    out = _distill(ref, data, cross_class_filter=True)
    tree = _nci1_missed(unfiltered)[2][0]
    # Official samples minus the class-1 copy of the missed tree, which our filter drops.
    dropped = pattern_key(*NCI1_SAME_TREE_IN_CLASS_1, [tree])
    assert _ours(out) == _theirs(ref["patterns"], constant_edges=True) - Counter([dropped])
    # Filter decisions: every official "also frequent in the other class" flag holds here too.
    flagged = _theirs([p for p in ref["unfiltered_patterns"] if p["also_frequent_in_other_class"]],
                      constant_edges=True)
    assert unfiltered - _ours(out) == flagged + Counter([dropped, _nci1_missed(unfiltered)])
    for cls, stats in ref["stats"].items():
        ours = out.meta["classes"][cls]
        assert ours["transactions"] == stats["transactions"]
        assert ours["distinct_trees"] == stats["distinct_trees"]
        missed = int(cls) == NCI1_MISSED_BY_OFFICIAL[0]
        assert ours["frequent_itemsets"] == stats["frequent_patterns_unfiltered"] + missed
        dropped_here = int(cls) == NCI1_SAME_TREE_IN_CLASS_1[0]
        assert ours["after_filter"] == stats["samples_after_filter"] - dropped_here


@pytest.mark.slow
def test_molbace_same_samples_and_supports(reference_run) -> None:
    ref, data = reference_run("ogbg_molbace")
    out = _distill(ref, data, cross_class_filter=ref["cross_class_filter"])
    assert _ours(out) == _theirs(ref["patterns"], constant_edges=False)
    assert (out.num_graphs, out.num_nodes, out.num_edges) == (
        ref["totals"]["samples"], ref["totals"]["nodes"], ref["totals"]["edges"])
    for cls, stats in ref["stats"].items():
        ours = out.meta["classes"][cls]
        assert ours["transactions"] == stats["transactions"]
        assert ours["distinct_trees"] == stats["distinct_trees"]
        assert ours["frequent_itemsets"] == stats["frequent_patterns"]
    # The matched trees really are depth-`hops` trees (so the comparison has teeth).
    assert {form_depth(f) for key in _ours(out) for f in key[2]} == {ref["hops"]}
