"""Mirage (Gupta et al., ICLR 2024): distill a graph dataset into frequent computation-tree sets.

For every training graph, the set of depth-``hops`` computation-tree ids of its non-isolated nodes
is one transaction (how many nodes share a tree is dropped). Per class, every itemset of trees
held by at least ``threshold`` graphs of that class becomes one sample: the disjoint union of its
trees, edges pointing child -> parent, a ``pool_mask`` on the roots and ``y`` = the class. An
``L``-layer message-passing GNN (``L <= hops``) then gives every root the embedding its node has
in the full graph.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np
import scipy.special
import torch
from torch_geometric.data import Data

from mirage.data import TrainSplit
from mirage.distill import base
from mirage.distill.base import DistillContext, DistilledSet, Distiller
from mirage.distill.mining import Itemset, TransactionDB
from mirage.distill.trees import (
    ComputationTree,
    GraphUnion,
    computation_tree,
    ego_tree,
    intern_rows,
    tree_ids,
    union_of,
)
from mirage.errors import ConfigError, DataError, InfeasibleError

log = logging.getLogger(__name__)

SAMPLING = ("uniform", "frequency")
ROOT_WEIGHTS = ("size", "count", "holder")
SAMPLES = ("trees", "ego", "graph", "cheaper")
BUDGET_SPLITS = ("support", "even")
RANKS = ("support", "contrast")
FILLS = ("prefix", "first_fit")
REAL_SAMPLES = ("graph", "node")
REAL_DRAWS = ("uniform", "typical")
NORM_STATS = ("init", "set")
# What leaves bytes for real samples (real_sample, real_draw need it): see Mirage._real_room.
REAL_ROOM = "distiller.real_share > 0 or distiller.contrast_z / contrast_fdr / tree_balance"
FIT_WINDOW = 64  # first_fit: samples made and tried at a time; a window where none fits ends it


def _lead_z(own: np.ndarray, others: np.ndarray, n_own: int,
            n_others: np.ndarray) -> np.ndarray:
    """``[trees]``: the two-proportion z-score of ``own`` (``[trees]``, shares of ``n_own``
    graphs) against, per tree, the row of ``others`` (``[classes - 1, trees]``, shares of
    ``n_others`` graphs each) with the highest share; +inf where the pooled variance is 0."""
    if others.shape[0] == 0:
        return np.full(own.shape, np.inf)
    top = others.argmax(axis=0)
    share, n = others[top, np.arange(own.size)], n_others[top].astype(float)
    pooled = (own * n_own + share * n) / (n_own + n)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_own + 1 / n))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, (own - share) / se, np.inf)


def _discoveries(z: np.ndarray, tests: int, rate: float) -> np.ndarray:
    """``[trees]`` bool: the leads (z-scores ``z``, one-sided) that Benjamini-Hochberg keeps at
    false discovery rate ``rate`` among ``tests`` hypotheses (``z`` holds the ones that can be
    kept: the others lead by nothing, p >= 0.5)."""
    p = scipy.special.ndtr(-z)
    ranked = np.sort(p)
    passed = np.flatnonzero(ranked <= rate * np.arange(1, p.size + 1) / max(tests, 1))
    return p <= ranked[passed[-1]] if passed.size else np.zeros(p.size, dtype=bool)


@dataclass
class _Class:
    """One class's share of the mining: what its samples are built from."""

    cls: int
    union: GraphUnion
    ids: np.ndarray  # [N] tree id of every node of the union
    in_class: np.ndarray  # [N] bool: the node is a non-isolated node of this class
    db: TransactionDB  # transaction i = the class's i-th training graph
    graphs: Sequence[Data]  # the training graphs
    members: np.ndarray  # [transactions] index into ``graphs`` of each transaction
    sizes: np.ndarray  # [transactions] node count of each transaction's graph
    scale: tuple[float, np.ndarray] | None  # Mirage._root_scale of the class (root_weight only)
    rng: np.random.Generator  # draws background nodes and holders (``root_weight="holder"``)
    used: set[int] = field(default_factory=set)  # graphs already a sample ("graph" samples)

    @cached_property
    def nodes(self) -> np.ndarray:
        """The class's non-isolated training nodes."""
        return np.flatnonzero(self.in_class)

    @cached_property
    def median_size(self) -> float:
        return float(np.median(self.sizes))

    @cached_property
    def typical(self) -> np.ndarray:
        """The class's training graphs (indices into ``graphs``) whose node count lies within
        the class's quartiles; all of them where none does (two graphs of different sizes)."""
        low, high = np.percentile(self.sizes, [25, 75])
        inside = self.members[(self.sizes >= low) & (self.sizes <= high)]
        return inside if inside.size else self.members


def _holding(union: GraphUnion, ids: np.ndarray,
             nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct (graph, tree id) pair of the nodes selected by the mask ``nodes``: which
    graph holds which tree, once however many of its nodes have it."""
    width = int(ids.max(initial=0)) + 1
    pairs = np.unique(union.node_graph[nodes].astype(np.int64) * width + ids[nodes])
    return pairs // width, pairs % width


def _bits(bits: int, n: int) -> np.ndarray:
    """The indices of the set bits of ``bits`` below ``n``, ascending."""
    raw = np.frombuffer(bits.to_bytes((n + 7) // 8, "little"), dtype=np.uint8)
    return np.flatnonzero(np.unpackbits(raw, bitorder="little")[:n])


def _check_support(key: str, value: Any) -> int | float:
    """A support threshold: an int count ``>= 1`` or a float fraction in ``(0, 1]``."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, float) and 0.0 < value <= 1.0:
        return value
    raise ConfigError(f"{key} must be a count >= 1 (int) or a fraction of the class's training "
                      f"graphs in (0, 1] (float), got {value!r}")


def _check_threshold(value: Any) -> int | float | dict[int, int | float]:
    """``distiller.threshold``: one support for every class, or a mapping class -> support."""
    if not isinstance(value, Mapping):
        return _check_support("distiller.threshold", value)
    out = {}
    for cls, support in value.items():
        try:
            label = int(cls)
        except (TypeError, ValueError):
            label = -1
        if isinstance(cls, bool) or label < 0:
            raise ConfigError(f"distiller.threshold keys must be class indices >= 0, got {cls!r}")
        out[label] = _check_support(f"distiller.threshold[{cls}]", support)
    return out


def _check_fraction(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConfigError(f"{key} must be a fraction in (0, 1], got {value!r}")
    return float(value)


def _optional_positive(key: str, value: Any) -> int | None:
    return None if value is None else base.positive_int(key, value)


def _check_bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    return value


def min_support(threshold: int | float, num_graphs: int) -> int:
    """Absolute support: a count as is, a fraction of ``num_graphs`` rounded up (at least 1)."""
    if isinstance(threshold, int):
        return threshold
    # Round away float noise first (0.3 * 10 is 3.0000000000000004, which must give 3).
    return max(1, math.ceil(round(threshold * num_graphs, 9)))


class Mirage(Distiller):
    """Frequent computation-tree sets per class; see the module docstring.

    Args:
        hops: tree depth ``L``. With at most ``L`` GNN layers the roots get the full graph's
            embeddings exactly for GIN and GAT, and for GCN only with ``carry_degree``.
        threshold: minimum support per class: an int count, a float fraction of the class's
            training graphs (rounded up), or a mapping class -> either.
        max_size: largest number of trees per sample (``None``: no cap).
        max_patterns: most samples per class, the highest-support ones (``None``: no cap).
        cross_class_filter: drop an itemset of class ``c`` that is also frequent (at that class's
            threshold) in another class.
        sampling: ``uniform`` (every sample once per epoch, the official code) or ``frequency``
            (draws in proportion to support, the paper).
        carry_degree: store every tree node's degree in its source graph as ``deg``, so that
            GCN's normalisation on a tree equals the one on the source graph.
        budget_bytes: fit the set in this many bytes (:func:`~mirage.distill.base.nbytes`; a
            float in ``(0, 1)``: that fraction of the training split's bytes): per class the tree
            sets down to a support threshold, thresholds lowered by relative support while the
            set fits; ``threshold`` is then only a floor and ``max_patterns`` is not applied
            (``None``: off).
        cont_bins: make continuous node attributes part of tree identity through this many
            quantile bins per column, fitted on the training nodes (``None``: ignore them).
        coverage: per class, the fewest highest-ranked tree sets such that this fraction of the
            class's training graphs holds at least one of them (``max_patterns`` still caps the
            count; ``None``: off).
        root_weight: how many source nodes each root stands for in the readout
            (``pool_weight``), so that a sample pools at the scale of a real graph of its class:
            ``"size"``: the class's mean graph size split evenly over the sample's roots;
            ``"count"``: the same total split in proportion to how often each root's tree
            occurs in the class's graphs that hold it; ``"holder"``: as ``"size"``, with the size
            of one graph of the class that holds the sample's trees (drawn from ``seed``; a
            node sample's own graph) for the mean, so that size separates the set's classes as
            much as it does the real graphs and no more; ``None``: weight 1 (the original).
        sample: what stands for a tree set: ``"trees"``, its trees' disjoint union (the
            original); ``"ego"``, the same with each tree stored as its root's neighbourhood
            (:func:`~mirage.distill.trees.ego_tree`: the same root embeddings) where that takes
            fewer nodes and edges than the unrolled tree; ``"graph"``, a real training graph of
            the class that holds the set (the one nearest the class's median size not yet
            taken), which keeps the global cues of a real graph; ``"cheaper"``, whichever of
            trees and graph takes fewer bytes.
        budget_split: how ``budget_bytes`` is shared between classes: ``"support"``, support
            levels of all classes by relative support (see :meth:`_within_budget`);
            ``"even"``, an equal share per class, filled in rank order.
        real_share: the share of ``budget_bytes`` that goes to real training graphs once the
            tree sets are in (the tree sets get the rest): the classes take turns adding their
            next graph in a random order drawn from ``seed`` while it fits; a class stops at
            its first graph that does not. ``0``: tree sets only (the original).
        real_sample: what the real share holds: ``"graph"``, whole training graphs;
            ``"node"``, the neighbourhoods of nodes drawn uniformly from the class's training
            graphs, each a one-root sample built and weighted as the tree samples are. The
            trees that tell the classes apart are atypical nodes by construction; these carry
            the nodes a GNN meets on real graphs, at any budget (a real graph may not fit in a
            small one).
        real_draw: which real graphs ``real_sample="graph"`` draws from: ``"uniform"``, all of
            the class's training graphs; ``"typical"``, those whose node count lies within the
            class's quartiles. A budget holds a few graphs, and a class whose few drawn graphs
            are all small (or large) teaches a sum-pooled GNN a size cue its real graphs do not
            carry (PTC_FM's default set: three class-1 graphs of 2, 5 and 6 nodes, its median
            11).
        rank: which tree sets fill ``budget_bytes``: ``"support"``, the most frequent in the
            class (the original); ``"contrast"``, single trees by how much more often the
            class's graphs hold them than any other class's (share of graphs, higher first;
            only trees ahead in their own class, or, for a class ahead in none, every tree it
            holds), each class an equal share of the budget.
        fill: how ``rank="contrast"`` fills a class's share: ``"prefix"``, the trees in rank
            order up to the first that does not fit; ``"first_fit"``, every tree in rank order
            that still fits, passing over those that do not (until a window of
            :data:`FIT_WINDOW` trees in a row adds none), so a class whose next tree is large
            still spends its share.
        background: each tree sample also holds the tree of a node drawn uniformly from the
            class's nodes (from ``seed``), its roots weighted by their trees' mean counts in the
            class's graphs that hold them and the drawn node for the rest of the class's mean size
            (needs ``root_weight``): a real graph pools mostly common nodes, which contrasting
            trees are not.
        background_group: with ``background`` and ``rank="contrast"``, how many consecutive
            contrasting trees share a sample and its drawn node (1: one each).
        contrast_z: with ``rank="contrast"``, take only the trees whose lead is significant: a
            one-sided two-proportion z-score (the class's graphs against those of the other class
            with the highest share) of at least this; the bytes the trees leave go to real
            samples (``real_sample``), classes taking turns; a class with no significant lead
            keeps its first tree. A lead of a few graphs in a large class is noise, and more
            such trees are what bends a budget curve down where random graphs go on gaining.
            ``None``: every tree ahead.
        contrast_fdr: the same filter with the z threshold set by the number of trees tested:
            the leads that Benjamini-Hochberg keeps at this false discovery rate among the
            class's trees (one-sided p-values of those z-scores). Hundreds of trees are tested
            per class, so a fixed threshold of 1.96 passes about one in forty of the trees
            that lead by chance. Exclusive with ``contrast_z`` (``None``: off).
        tree_balance: with ``rank="contrast"``, every class keeps as many tree samples as the
            class with the fewest (its first ones in rank order), real samples in the bytes
            this frees: when one class has more trees than another, being a tree sample is a
            cue for that class that no real graph carries.
        frozen_norm: train on the set with every BatchNorm of the GNN (GIN's MLPs) frozen at
            the statistics ``norm_stats`` names (an affine map): the samples' nodes, leaves of small
            neighbourhoods around atypical roots, are not the data's, and statistics learnt on
            them and applied to real graphs at test can invert a GNN. The set is unchanged.
        norm_stats: the statistics ``frozen_norm`` freezes: ``"init"``, the GNN's initial ones
            (mean 0, variance 1); ``"set"``, the set's, fitted by one pass of the untrained GNN
            over the whole set before training. Either way they never follow the set during
            training: it is that co-adaptation, not the set's statistics, that inverts a GNN
            (measured in ``results/generic_default``), while frozen at the identity a GIN is
            left unnormalised.
    """


    def __init__(self, *, hops: int = 2, threshold: Any = 0.3, max_size: int | None = 4,
                 max_patterns: int | None = None, cross_class_filter: bool = False,
                 sampling: str = "uniform", carry_degree: bool = False,
                 budget_bytes: int | float | None = None, cont_bins: int | None = None,
                 coverage: float | None = None, root_weight: str | None = None,
                 sample: str = "trees", budget_split: str = "support",
                 real_share: float = 0.0, real_sample: str = "graph", rank: str = "support",
                 fill: str = "prefix", frozen_norm: bool = False,
                 norm_stats: str = "init", background: bool = False,
                 background_group: int = 1, contrast_z: float | None = None,
                 contrast_fdr: float | None = None, tree_balance: bool = False,
                 real_draw: str = "uniform") -> None:
        self.hops = base.positive_int("distiller.hops", hops)
        self.threshold = _check_threshold(threshold)
        self.max_size = _optional_positive("distiller.max_size", max_size)
        self.max_patterns = _optional_positive("distiller.max_patterns", max_patterns)
        self.cross_class_filter = _check_bool("distiller.cross_class_filter", cross_class_filter)
        self.sampling = base.one_of("distiller.sampling", sampling, SAMPLING)
        self.carry_degree = _check_bool("distiller.carry_degree", carry_degree)
        self.budget_bytes = base.byte_budget("distiller.budget_bytes", budget_bytes)
        if self.budget_bytes is not None and self.cross_class_filter:
            raise ConfigError("distiller.budget_bytes cannot be combined with "
                              "distiller.cross_class_filter=true (the filter's thresholds would "
                              "move with the budget's); set one of them off")
        self.coverage = None if coverage is None else _check_fraction("distiller.coverage",
                                                                      coverage)
        if self.coverage is not None and self.budget_bytes is not None:
            raise ConfigError("distiller.coverage and distiller.budget_bytes both choose how many "
                              "tree sets to keep; set one of them to null")
        if root_weight is not None and root_weight not in ROOT_WEIGHTS:
            raise ConfigError(f"distiller.root_weight must be one of {list(ROOT_WEIGHTS)} or "
                              f"null, got {root_weight!r}")
        self.root_weight = root_weight
        self.sample = base.one_of("distiller.sample", sample, SAMPLES)
        self.budget_split = base.one_of("distiller.budget_split", budget_split, BUDGET_SPLITS)
        if isinstance(real_share, bool) or not isinstance(real_share, int | float) or not (
                0 <= real_share < 1):
            raise ConfigError(f"distiller.real_share must be a fraction in [0, 1), got "
                              f"{real_share!r}")
        if real_share and self.budget_bytes is None:
            raise ConfigError("distiller.real_share needs distiller.budget_bytes (the bytes it "
                              "takes a share of)")
        self.real_share = float(real_share)
        self.real_sample = base.one_of("distiller.real_sample", real_sample, REAL_SAMPLES)
        base.one_of("distiller.rank", rank, RANKS)
        if rank == "contrast" and (self.budget_bytes is None or self.coverage is not None):
            raise ConfigError("distiller.rank=contrast needs distiller.budget_bytes (and no "
                              "distiller.coverage): the budget says how many trees to keep")
        self.rank = rank
        self.fill = base.one_of("distiller.fill", fill, FILLS)
        self.frozen_norm = _check_bool("distiller.frozen_norm", frozen_norm)
        base.one_of("distiller.norm_stats", norm_stats, NORM_STATS)
        if norm_stats != "init" and not self.frozen_norm:
            raise ConfigError(f"distiller.norm_stats={norm_stats} needs distiller.frozen_norm="
                              "true (the statistics it says are those frozen_norm freezes); set "
                              "distiller.norm_stats=init with frozen_norm=false")
        self.norm_stats = norm_stats
        self.background = _check_bool("distiller.background", background)
        if self.background and (root_weight is None or sample not in ("trees", "ego")):
            raise ConfigError("distiller.background=true needs distiller.root_weight (the class "
                              "size its node pools up to) and distiller.sample trees or ego")
        self.background_group = base.positive_int("distiller.background_group",
                                                  background_group)
        if self.background_group > 1 and not (self.background and rank == "contrast"):
            raise ConfigError("distiller.background_group > 1 needs distiller.background=true "
                              "and distiller.rank=contrast (it groups single contrasting trees)")
        if contrast_z is not None and (isinstance(contrast_z, bool) or not isinstance(
                contrast_z, int | float) or contrast_z < 0):
            raise ConfigError(f"distiller.contrast_z must be a number >= 0 or null, got "
                              f"{contrast_z!r}")
        if contrast_z is not None and rank != "contrast":
            raise ConfigError(f"distiller.contrast_z={contrast_z} needs distiller.rank=contrast "
                              "(it filters the contrasting trees); set distiller.contrast_z=null "
                              f"for rank={rank}")
        self.contrast_z = None if contrast_z is None else float(contrast_z)
        self.contrast_fdr = None if contrast_fdr is None else _check_fraction(
            "distiller.contrast_fdr", contrast_fdr)
        if self.contrast_fdr is not None and (rank != "contrast" or contrast_z is not None):
            raise ConfigError(f"distiller.contrast_fdr={contrast_fdr} needs distiller.rank="
                              "contrast and distiller.contrast_z=null (each sets which leads "
                              "count); set distiller.contrast_fdr=null otherwise")
        self.tree_balance = _check_bool("distiller.tree_balance", tree_balance)
        if self.tree_balance and rank != "contrast":
            raise ConfigError("distiller.tree_balance=true needs distiller.rank=contrast (it "
                              "evens the classes' single contrasting trees); set it false for "
                              f"rank={rank}")
        if real_sample != "graph" and not self._real_room:
            raise ConfigError(f"distiller.real_sample={real_sample} needs {REAL_ROOM} (the bytes "
                              "it fills)")
        base.one_of("distiller.real_draw", real_draw, REAL_DRAWS)
        if real_draw != "uniform" and (real_sample != "graph" or not self._real_room):
            raise ConfigError(f"distiller.real_draw={real_draw} needs distiller.real_sample=graph "
                              f"and bytes for real graphs ({REAL_ROOM}); set "
                              "distiller.real_draw=uniform")
        self.real_draw = real_draw
        self.cont_bins = _optional_positive("distiller.cont_bins", cont_bins)
        if self.cont_bins == 1:
            raise ConfigError("distiller.cont_bins must be >= 2 (or null to ignore continuous "
                              "attributes), got 1")

    @property
    def _lead_filter(self) -> bool:
        """Only significant leads count (``contrast_z`` or ``contrast_fdr``)."""
        return self.contrast_z is not None or self.contrast_fdr is not None

    @property
    def _real_room(self) -> bool:
        """Bytes the trees leave go to real samples."""
        return bool(self.real_share) or self._lead_filter or self.tree_balance

    def _class_threshold(self, cls: int, num_graphs: int) -> int:
        if isinstance(self.threshold, dict):
            if cls not in self.threshold:
                raise ConfigError(f"distiller.threshold has no entry for class {cls} "
                                  f"(it has {sorted(self.threshold)})")
            return min_support(self.threshold[cls], num_graphs)
        return min_support(self.threshold, num_graphs)

    def distill(self, train: TrainSplit, seed: int,
                ctx: DistillContext | None = None) -> DistilledSet:
        """Mine ``train.graphs``; deterministic, so ``seed`` is unused but for the order of
        real graphs or nodes (``real_share``) and the drawn nodes (``background``)."""
        if not train.graphs:
            raise DataError(f"dataset '{train.name}' has no training graphs to distill")
        timings: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(phase: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[phase] = round(now - clock, 4)
            clock = now

        union = union_of(train.graphs)
        graph_class = union.graph_y
        labels, bins = self._node_labels(union)
        limit = (None if self.budget_bytes is None
                 else base.resolve_budget(self.budget_bytes, train.graphs))
        lap("union")
        ids = tree_ids(labels, union.edge_label, union.in_edges, self.hops)
        lap("trees")
        tree_limit = None if limit is None else max(1, int(limit * (1 - self.real_share)))

        # One transaction per graph of a class; its items: trees of its non-isolated nodes.
        node_class = np.where(union.isolated, -1, graph_class[union.node_graph])
        graph_size = np.bincount(union.node_graph, minlength=graph_class.size)
        class_size = np.bincount(graph_class, minlength=train.num_classes)
        held = (self._held(union, ids, graph_class, class_size)
                if self.rank == "contrast" else None)
        dbs, views, thresholds, mined, samples, stats = {}, {}, {}, {}, {}, {}
        for cls in range(train.num_classes):
            in_class = graph_class == cls
            tx_of_graph = np.cumsum(in_class) - 1
            nodes = np.flatnonzero(node_class == cls)
            dbs[cls] = TransactionDB(tx_of_graph[union.node_graph[nodes]], ids[nodes],
                                     int(in_class.sum()))
            members = np.flatnonzero(in_class)
            scale = (None if self.root_weight is None
                     else self._root_scale(union, ids, node_class == cls))
            views[cls] = view = _Class(cls, union, ids, node_class == cls, dbs[cls],
                                       train.graphs, members, graph_size[members], scale,
                                       np.random.default_rng([seed, cls]))
            thresholds[cls] = self._class_threshold(cls, dbs[cls].num_transactions)
            if self.coverage is not None:
                mined[cls] = self._covering(dbs[cls], thresholds[cls])
            elif limit is None:
                mined[cls] = dbs[cls].mine(thresholds[cls], self.max_size, self.max_patterns)
            elif self.rank == "contrast":
                share = tree_limit / train.num_classes
                mined[cls], samples[cls] = self._contrasting(view, held, class_size,
                                                             thresholds[cls], share)
            else:
                mined[cls], samples[cls] = self._ranked(view, thresholds[cls], tree_limit)
            stats[str(cls)] = {"transactions": dbs[cls].num_transactions,
                               "distinct_trees": int(dbs[cls].items.size),
                               "threshold": thresholds[cls],
                               "frequent_itemsets": len(mined[cls])}
        if self.tree_balance:
            # As many tree samples in every class as in the class with the fewest (its
            # strongest, in rank order): with more in one class, being a tree sample rather than
            # a real graph would itself be a cue for that class, one no real graph carries.
            fewest = min((len(v) for v in samples.values() if v), default=0)
            for cls in samples:
                mined[cls], samples[cls] = mined[cls][:fewest], samples[cls][:fewest]
                stats[str(cls)]["frequent_itemsets"] = len(mined[cls])
        lap("mining")

        budget = None
        if limit is not None and self.rank == "contrast":
            budget = {"bytes": limit, "used": sum(base.nbytes(g) for g in samples.values())}
        elif limit is not None:
            candidates = mined
            mined, samples, used = self._within_budget(mined, samples, dbs, tree_limit)
            budget = {"bytes": limit, "used": used}
            for cls, found in mined.items():
                # The support threshold the budget set: the lowest support kept (or just above
                # the highest support when the class keeps nothing).
                if found:
                    thresholds[cls] = found[-1].support
                elif candidates[cls]:
                    thresholds[cls] = candidates[cls][0].support + 1
                stats[str(cls)].update(threshold=thresholds[cls], frequent_itemsets=len(found))
        kept = {cls: [s for s in found if not self._elsewhere(s, cls, dbs, thresholds)]
                for cls, found in mined.items()} if self.cross_class_filter else mined
        for cls, found in kept.items():
            stats[str(cls)]["after_filter"] = len(found)
        lap("filter")

        out, support = [], []
        for cls, found in kept.items():
            if limit is None:
                samples[cls] = self._samples(views[cls], found)
            out.extend(samples[cls])
            support.extend(float(itemset.support) for itemset in found)
        if self._real_room:
            real = self._real(list(views.values()), seed, limit - base.nbytes(out))
            out.extend(real)
            support.extend([1.0] * len(real))  # a real graph (node) holds itself
            budget["used"] += base.nbytes(real)
            budget[f"real_{self.real_sample}s"] = len(real)
        lap("samples")

        empty = [cls for cls, found in kept.items() if not found]
        for cls in empty:
            log.warning("mirage: class %d yields no frequent tree set (min support %d of %d "
                        "graphs%s); it gets no training sample", cls, thresholds[cls],
                        dbs[cls].num_transactions,
                        ", after the cross-class filter" if mined[cls] else "")
        if not out:
            raise ConfigError(
                f"mirage found no frequent tree set in any class (min supports {thresholds}"
                f"{', cross-class filter on' if self.cross_class_filter else ''}); "
                "lower distiller.threshold")
        timings["total"] = round(sum(timings.values()), 4)
        meta = {"hops": self.hops, "classes": stats, "empty_classes": empty,
                "distinct_trees": int(np.count_nonzero(np.bincount(ids[~union.isolated]))),
                "isolated_nodes": int(union.isolated.sum()), "timings": timings}
        if budget is not None:
            meta["budget"] = budget
        if bins is not None:
            meta["cont_bin_edges"] = bins
        if self.frozen_norm:
            meta["frozen_norm"] = True
            if self.norm_stats != "init":
                meta["norm_stats"] = self.norm_stats
        return DistilledSet(out, self.sampling, support, meta)

    def _node_labels(self, union: GraphUnion) -> tuple[np.ndarray, list[list[float]] | None]:
        """Node label ids for tree identity, and the continuous bins' edges (``None``: unused).

        With ``cont_bins``, every continuous column joins the categorical label as its quantile
        bin; the edges come from the nodes at hand, which are training nodes only.
        """
        if self.cont_bins is None or union.x_cont is None:
            return union.node_label, None
        cont = union.x_cont.double().numpy().reshape(union.num_nodes, -1)
        levels = np.linspace(0.0, 1.0, self.cont_bins + 1)[1:-1]
        edges = [np.unique(np.quantile(col, levels)) for col in cont.T]
        codes = [np.searchsorted(e, col, side="right") for e, col in zip(edges, cont.T,
                                                                          strict=True)]
        return (intern_rows(np.column_stack([union.node_label, *codes])),
                [e.tolist() for e in edges])

    def _samples(self, c: _Class, itemsets: list[Itemset]) -> list[Data]:
        """One sample per itemset, in order (see :attr:`sample`)."""
        if self.sample == "graph":
            return [self._graph(c, self._holder(c, s)) for s in itemsets]
        trees = self._representatives(c.union, c.ids, c.in_class, itemsets)
        if self.background:
            return [self._with_background(c, [trees[t] for t in s.items], list(s.items))
                    for s in itemsets]
        out = [self._sample([trees[t] for t in s.items], c.union, c.cls,
                            None if c.scale is None else self._weights(c, list(s.items)))
               for s in itemsets]
        if self.sample == "cheaper":
            for i, s in enumerate(itemsets):
                index = self._holder(c, s)
                graph = self._graph(c, index, pooled=True)
                if base.nbytes([graph]) < base.nbytes([out[i]]):
                    out[i] = graph
                else:
                    c.used.discard(index)
        return out

    @staticmethod
    def _held(union: GraphUnion, ids: np.ndarray, graph_class: np.ndarray,
              class_size: np.ndarray) -> np.ndarray:
        """``[classes, trees]``: the share of each class's training graphs that hold each tree
        (at a non-isolated node)."""
        width = int(ids.max(initial=0)) + 1
        graph, tree = _holding(union, ids, ~union.isolated)
        return np.stack([np.bincount(tree[graph_class[graph] == c], minlength=width)
                         / max(float(class_size[c]), 1.0) for c in range(class_size.size)])

    def _contrasting(self, c: _Class, held: np.ndarray, class_size: np.ndarray, floor: int,
                     share: float) -> tuple[list[Itemset], list[Data]]:
        """The class's single trees held by at least ``floor`` of its graphs, in order of
        contrast (share of the class's graphs holding the tree minus the highest share in
        another class; only positive, and significant by :attr:`contrast_z` or
        :attr:`contrast_fdr`), then support,
        then id, within ``share`` bytes as :attr:`fill` says."""
        own = held[c.cls]
        rest = np.delete(np.arange(held.shape[0]), c.cls)
        rows = held[rest]
        others = rows.max(axis=0, initial=0.0)
        count = np.rint(own * c.db.num_transactions).astype(np.int64)
        score = own - others
        present = (count >= floor) & (count > 0)
        cand = np.flatnonzero((score > 0) & present)
        if cand.size == 0 and present.any():
            # A class that holds no tree more often than some other class does (one between
            # two others) would get no sample, and a GNN never taught it never predicts it.
            log.warning("mirage: class %d holds no tree in a larger share of its graphs than "
                        "another class; its share takes the trees nearest to that", c.cls)
            cand = np.flatnonzero(present)
        order = cand[np.lexsort((cand, -count[cand], -score[cand]))]
        if self._lead_filter:
            z = _lead_z(own[order], rows[:, order], class_size[c.cls], class_size[rest])
            keep = (z >= self.contrast_z if self.contrast_z is not None else
                    _discoveries(z, int(present.sum()), self.contrast_fdr))
            # A class with no significant lead keeps its first tree: a real graph may not fit a
            # small budget, and a class without a sample is never predicted.
            order = order[keep] if keep.any() else order[:1]
        # Consecutive trees share a sample (and its drawn node) by background_group.
        k = self.background_group
        groups = [order[i:i + k] for i in range(0, order.size, k)]
        found, samples, size = [], [], 0
        first = None
        for lo in range(0, len(groups), FIT_WINDOW):
            chunk = [Itemset(tuple(int(t) for t in g), int(count[g[0]]))
                     for g in groups[lo:lo + FIT_WINDOW]]
            added = False
            for itemset, sample in zip(chunk, self._samples(c, chunk), strict=True):
                first = first or (itemset, sample)
                need = base.nbytes([sample])
                if size + need > share:
                    if self.fill == "prefix":
                        return (found, samples) if found else self._first_only(c, *first, share)
                    continue
                size += need
                found.append(itemset)
                samples.append(sample)
                added = True
            if not added:
                break
        return (found, samples) if found or first is None else self._first_only(c, *first,
                                                                                 share)

    def _first_only(self, c: _Class, itemset: Itemset, sample: Data,
                    share: float) -> tuple[list[Itemset], list[Data]]:
        """A class whose first tree alone exceeds its share: an int budget (a size to compare
        at) is infeasible; a fractional one (a target) keeps that tree, with a warning."""
        problem = (f"distiller.budget_bytes={self.budget_bytes} cannot hold one tree of class "
                   f"{c.cls}: its first takes {base.nbytes([sample])} bytes of a "
                   f"{int(share)}-byte share")
        if isinstance(self.budget_bytes, int):
            raise InfeasibleError(f"{problem}; raise it")
        log.warning("mirage: %s; keeping it (an int budget makes this an error)", problem)
        return [itemset], [sample]

    def _real(self, views: list[_Class], seed: int, room: int) -> list[Data]:
        """Real samples (:attr:`real_sample`) within ``room`` bytes: the classes take turns
        adding their next graph (node) in a random order; a class stops at its first that does
        not fit (so small ones are not favoured). A graph pools every node beside tree samples;
        a node is the root of its tree (``sample=ego``: of its neighbourhood where smaller)."""
        gen = torch.Generator().manual_seed(seed)
        if self.real_sample == "graph":
            pools = [c.typical if self.real_draw == "typical" else c.members for c in views]
        else:
            pools = [c.nodes for c in views]
        orders = [iter(p[torch.randperm(p.size, generator=gen).numpy()].tolist()) for p in pools]
        out, open_ = [], list(range(len(views)))
        while open_:
            for k in list(open_):
                if (index := next(orders[k], None)) is None:
                    open_.remove(k)
                    continue
                c = views[k]
                sample = (self._graph(c, index, pooled=self.sample != "graph")
                          if self.real_sample == "graph" else
                          self._sample([self._tree(c.union, index)], c.union, c.cls,
                                       None if c.scale is None
                                       else self._weights(c, [int(c.ids[index])],
                                                          int(c.union.node_graph[index]))))
                if (size := base.nbytes([sample])) > room:
                    open_.remove(k)
                    continue
                room -= size
                out.append(sample)
        return out

    @staticmethod
    def _holder(c: _Class, itemset: Itemset) -> int:
        """The class's training graph that holds ``itemset`` with the size nearest the class's
        median, not yet taken (any holder once all are); marked as taken."""
        holders = _bits(c.db.holders(itemset.items), c.db.num_transactions).tolist()
        holders.sort(key=lambda t: (abs(float(c.sizes[t]) - c.median_size), t))
        free = [t for t in holders if int(c.members[t]) not in c.used] or holders
        c.used.add(index := int(c.members[free[0]]))
        return index

    def _graph(self, c: _Class, index: int, pooled: bool = False) -> Data:
        """Training graph ``index`` as a sample of class ``c``; ``pooled``: with an all-true
        ``pool_mask`` (and unit ``pool_weight`` when roots are weighted), so that it batches
        with tree samples."""
        g = c.graphs[index]
        out = Data(x=g.x, edge_index=g.edge_index, y=torch.tensor([c.cls]),
                   num_nodes=int(g.num_nodes))
        for key in ("edge_attr", "x_cont"):
            if g.get(key) is not None:
                out[key] = g[key]
        if pooled:
            out.pool_mask = torch.ones(out.num_nodes, dtype=torch.bool)
            if self.root_weight is not None:
                out.pool_weight = torch.ones(out.num_nodes)
        if self.carry_degree and pooled:
            out.deg = torch.bincount(g.edge_index[1], minlength=out.num_nodes)
        return out

    def _with_background(self, c: _Class, trees: list[ComputationTree],
                         items: list[int]) -> Data:
        """``trees`` (each root weighted by its tree's mean count in the class's graphs that hold
        it) and the tree of a node drawn uniformly from the class's nodes, weighted for the rest
        of the class's mean size: a real graph pools mostly common nodes, which contrasting
        trees are not, and a GNN that never saw them pooled cannot weigh them on real graphs."""
        node = int(c.rng.choice(c.nodes))
        weights = c.scale[1][items]
        rest = max(self._total(c, items) - float(weights.sum()), 0.0)
        return self._sample([*trees, self._tree(c.union, node)], c.union, c.cls,
                            np.append(weights, rest))

    def _weights(self, c: _Class, items: list[int], graph: int | None = None) -> np.ndarray:
        """Root weights of a sample of class ``c`` holding trees ``items``: they add up to
        :meth:`_total`, split evenly or, with ``root_weight="count"``, by the trees' counts."""
        share = c.scale[1][items] if self.root_weight == "count" else np.ones(len(items))
        return self._total(c, items, graph) * share / share.sum()

    def _total(self, c: _Class, items: list[int], graph: int | None = None) -> float:
        """How many nodes a sample of class ``c`` holding trees ``items`` pools at: the class's
        mean graph size or, with ``root_weight="holder"``, the size of training graph ``graph``
        (a node sample's own) or of a graph of the class holding every tree of ``items``, drawn
        uniformly: each class's samples then spread over its graphs' sizes, where the mean
        makes size separate the classes of the set perfectly however little it does in the
        data."""
        if self.root_weight != "holder":
            return c.scale[0]
        if graph is None:
            holders = _bits(c.db.holders(items), c.db.num_transactions)
            graph = int(c.members[c.rng.choice(holders)])
        return float(c.graphs[graph].num_nodes)

    def _root_scale(self, union: GraphUnion, ids: np.ndarray,
                    in_class: np.ndarray) -> tuple[float, np.ndarray]:
        """The class's mean graph size (nodes, isolated ones included: a real graph pools them
        too) and, per tree id, its mean number of nodes in the class's graphs that hold it."""
        graphs = np.unique(union.node_graph[in_class])
        size = float(np.isin(union.node_graph, graphs).sum() / max(graphs.size, 1))
        count = np.bincount(ids[in_class], minlength=int(ids.max(initial=0)) + 1)
        holders = np.bincount(_holding(union, ids, in_class)[1], minlength=count.size)
        return size, count / np.maximum(holders, 1)

    def _growing(self, db: TransactionDB, floor: int,
                 cap: int | None) -> Iterator[tuple[list[Itemset], bool]]:
        """The class's itemsets of support ``>= floor`` in rank order, a few more at a time:
        each step yields the ones new since the last and whether none (up to ``cap``) are left.
        Mining the top ``k`` (``k`` growing 4x) keeps the search bounded by what is used; the
        top ``k`` of a total order extend the top ``k / 4``, so only the new ones are handed on.
        """
        k, done = 16, 0
        while True:
            k = k if cap is None else min(k, cap)
            found = db.mine(floor, self.max_size, k)
            exhausted = len(found) < k or k == cap
            yield found[done:], exhausted
            if exhausted:
                return
            done, k = len(found), k * 4

    def _covering(self, db: TransactionDB, floor: int) -> list[Itemset]:
        """The first itemsets in rank order (support ``>= floor``, at most ``max_patterns``)
        whose holders cover ``coverage`` of the class's transactions, or all of them."""
        need = math.ceil(round(self.coverage * db.num_transactions, 9))
        kept, covered = [], 0
        for new, _ in self._growing(db, floor, self.max_patterns):
            for itemset in new:
                kept.append(itemset)
                covered |= db.holders(itemset.items)
                if covered.bit_count() >= need:
                    return kept
        return kept

    def _ranked(self, c: _Class, floor: int, limit: int) -> tuple[list[Itemset], list[Data]]:
        """The class's itemsets of support ``>= floor`` in rank order with their samples, cut
        where they alone exceed ``limit`` bytes (no lower support level could then fit)."""
        found, samples, size = [], [], 0
        for new, exhausted in self._growing(c.db, floor, None):
            fresh = self._samples(c, new)
            found, samples, size = found + new, samples + fresh, size + base.nbytes(fresh)
            if exhausted:
                break
            if size > limit:
                # The last support level may be cut short; it cannot fit in any case. A first
                # level that alone exceeds the budget stays, so that the budget check names it.
                keep = sum(s.support > found[-1].support for s in found) or len(found)
                return found[:keep], samples[:keep]
        return found, samples

    def _within_budget(self, mined: dict[int, list[Itemset]], samples: dict[int, list[Data]],
                       dbs: dict[int, TransactionDB], limit: int
                       ) -> tuple[dict[int, list[Itemset]], dict[int, list[Data]], int]:
        """Per class, the itemsets down to a support threshold, the thresholds lowered together
        until the set would exceed ``limit`` bytes. When the first support level of every class
        does not fit, an int budget is an error; a fractional one keeps just those levels.

        Support levels of all classes are visited by relative support (support / class size),
        highest first, after every class's first level (which must all fit); a level joins,
        with any level of its class left out before it, when that fits (lower levels of other
        classes may still fit after one did not). Returns the kept itemsets and samples
        (prefixes of each class's) and their bytes.
        """
        # (later than a class's first level?, -relative support, class, prefix length through
        # this level): every class's first level comes first, so that no class is left out
        # while another takes a second level.
        levels = []
        for cls, found in mined.items():
            ends = [i + 1 for i, s in enumerate(found)
                    if i + 1 == len(found) or found[i + 1].support < s.support]
            levels += [(rank > 0, -Fraction(found[end - 1].support, dbs[cls].num_transactions),
                        cls, end) for rank, end in enumerate(ends)]
        keep = dict.fromkeys(mined, 0)
        size = {cls: [base.nbytes([g]) for g in graphs] for cls, graphs in samples.items()}
        used = 0
        if self.budget_split == "even":
            # Every class the same share, filled in rank order (a level may be cut): a balanced
            # set, as a random coreset is, whatever the classes' support levels.
            share = limit / max(1, sum(1 for found in mined.values() if found))
            for cls in mined:
                total = np.cumsum(size[cls])
                keep[cls] = int(np.searchsorted(total, share, side="right"))
                used += int(total[keep[cls] - 1]) if keep[cls] else 0
            firsts = {cls: 1 for cls, found in mined.items() if found}  # a sample, not a level
        else:
            for _, _, cls, end in sorted(levels):
                # A level left out stays out: every later level of its class includes it.
                extra = sum(size[cls][keep[cls]:end])
                if used + extra <= limit:
                    used, keep[cls] = used + extra, end
            firsts = {cls: end for later, _, cls, end in levels if not later}
        if any(found and not keep[cls] for cls, found in mined.items()):
            need = sum(sum(size[cls][:end]) for cls, end in firsts.items())
            given = "" if limit == self.budget_bytes else f" ({limit} bytes)"
            problem = (f"distiller.budget_bytes={self.budget_bytes}{given} cannot hold one "
                       f"support level of every class: their most frequent tree sets take "
                       f"{need} bytes")
            if isinstance(self.budget_bytes, int):  # a size to compare at: never exceeded
                raise InfeasibleError(f"{problem}; raise it")
            # A share of the data (the generic default) is a target: on data too small for it,
            # the smallest set that still trains every class, rather than no run at all.
            log.warning("mirage: %s; keeping just those (an int budget makes this an error)",
                        problem)
            keep, used = {cls: firsts.get(cls, 0) for cls in mined}, need
        return ({cls: mined[cls][:n] for cls, n in keep.items()},
                {cls: samples[cls][:n] for cls, n in keep.items()}, used)

    @staticmethod
    def _elsewhere(itemset: Itemset, cls: int, dbs: dict[int, TransactionDB],
                   thresholds: dict[int, int]) -> bool:
        """Whether ``itemset`` is frequent in a class other than ``cls``."""
        return any(db.support(itemset.items) >= thresholds[other]
                   for other, db in dbs.items() if other != cls)

    def _representatives(self, union: GraphUnion, ids: np.ndarray, in_class: np.ndarray,
                         itemsets: list[Itemset]) -> dict[int, ComputationTree]:
        """The tree of the first node of the class (in training order) with each needed id.

        Nodes are scanned in growing chunks until every id is found: frequent trees turn up
        early, so at a million graphs this reads a sliver of the nodes instead of all of them.
        """
        needed = np.unique([t for s in itemsets for t in s.items]).astype(np.int64)
        missing = np.zeros(int(ids.max(initial=0)) + 1, dtype=bool)
        missing[needed] = True
        first: dict[int, int] = {}
        lo, step = 0, 1 << 16
        while len(first) < needed.size and lo < ids.size:
            hi = min(lo + step, ids.size)
            at = lo + np.flatnonzero(in_class[lo:hi] & missing[ids[lo:hi]])
            found, index = np.unique(ids[at], return_index=True)
            missing[found] = False
            first.update(zip(found.tolist(), at[index].tolist(), strict=True))
            lo, step = hi, 2 * step
        return {t: self._tree(union, v) for t, v in first.items()}

    def _tree(self, union: GraphUnion, node: int) -> ComputationTree:
        """``node``'s depth-``hops`` tree; with ``sample=ego`` its neighbourhood where that
        takes fewer nodes and edges (the same root embedding)."""
        tree = computation_tree(union.in_edges, node, self.hops)
        if self.sample == "ego":
            ego = ego_tree(union.in_edges, node, self.hops)
            if ego.nodes.size + ego.edge_ids.size < tree.nodes.size + tree.edge_ids.size:
                return ego
        return tree

    def _sample(self, trees: list[ComputationTree], union: GraphUnion, cls: int,
                weights: np.ndarray | None = None) -> Data:
        """Disjoint union of ``trees`` with the source graphs' features; ``weights`` (one per
        tree) become the roots' ``pool_weight``."""
        offsets = np.cumsum([0] + [t.nodes.size for t in trees[:-1]])
        nodes = torch.from_numpy(np.concatenate([t.nodes for t in trees]))
        edges = torch.from_numpy(np.concatenate(
            [t.edge_index + off for t, off in zip(trees, offsets, strict=True)], axis=1))
        sample = Data(x=union.x[nodes], edge_index=edges, y=torch.tensor([cls]),
                      pool_mask=torch.from_numpy(np.concatenate([t.depth == 0 for t in trees])),
                      num_nodes=int(nodes.numel()))
        if union.edge_attr is not None:
            sample.edge_attr = union.edge_attr[torch.from_numpy(
                np.concatenate([t.edge_ids for t in trees]))]
        if union.x_cont is not None:  # not part of the tree label; copied so models still fit
            sample.x_cont = union.x_cont[nodes]
        if self.carry_degree:
            sample.deg = torch.from_numpy(union.in_edges.degree)[nodes]
        if weights is not None:
            sample.pool_weight = torch.from_numpy(weights).float()
        return sample
