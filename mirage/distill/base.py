"""The one interface every distiller implements, and the set it returns.

A distiller sees a :class:`~mirage.data.TrainSplit` only: the training graphs, never validation
or test (no leakage by construction). It returns a :class:`DistilledSet`: a list of PyG ``Data``
samples in the dataset's own feature layout (see :mod:`mirage.data`). A sample may carry

* ``pool_mask``: ``BoolTensor [num_nodes]``, the nodes the readout pools over (Mirage: tree roots);
* ``pool_weight``: ``FloatTensor [P]``, one weight per pooled node: how many source nodes it
  stands for in the readout (Mirage's ``root_weight``);
* ``weight``: ``FloatTensor [1]``, a per-sample loss weight;
* ``deg``: ``LongTensor [num_nodes]``, each node's degree in its source graph (exact GCN on trees);
* ``x_soft`` / ``edge_soft`` in place of ``x`` / ``edge_attr``: ``FloatTensor [n, sum(cards)]``,
  learned features, one block of soft one-hot weights per categorical column (see
  :class:`mirage.models.FeatureEncoder`).

The training loop treats every set alike.
"""

from __future__ import annotations

import hashlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from mirage.collated import Collated
from mirage.data import TrainSplit
from mirage.errors import ConfigError
from mirage.keys import stable_hash
from mirage.sources import write_atomic

# The tensors a trainer needs; the byte accounting counts exactly these.
SAMPLE_KEYS = ("x", "x_cont", "x_soft", "edge_index", "edge_attr", "edge_soft", "y", "weight",
               "pool_mask", "pool_weight", "deg")


def nbytes(graphs: Sequence[Data]) -> int:
    """Bytes of the tensors a trainer needs (:data:`SAMPLE_KEYS`), summed over ``graphs``.

    The one size function applied to every method, distilled or full. A
    :class:`~mirage.collated.Collated` table is counted from its tables.
    """
    if isinstance(graphs, Collated):  # the same tensors, concatenated: one sum per table
        return sum(t.numel() * t.element_size() for key in SAMPLE_KEYS
                   if isinstance(t := getattr(graphs, key, None), torch.Tensor))
    total = 0
    for g in graphs:
        for key in SAMPLE_KEYS:
            t = g.get(key)
            if isinstance(t, torch.Tensor):
                total += t.numel() * t.element_size()
    return total


@dataclass
class DistilledSet:
    """What a distiller returns: training samples plus how to draw them.

    ``sampling='uniform'`` visits every sample once per epoch; ``'frequency'`` draws
    ``len(samples)`` samples per epoch with replacement, in proportion to ``support`` (Mirage's
    paper variant).
    """

    samples: list[Data]
    sampling: str = "uniform"
    support: list[float] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_graphs(self) -> int:
        return len(self.samples)

    @property
    def num_nodes(self) -> int:
        return sum(int(g.num_nodes) for g in self.samples)

    @property
    def num_edges(self) -> int:
        return sum(int(g.edge_index.size(1)) for g in self.samples)

    def nbytes(self) -> int:
        return nbytes(self.samples)

    def fingerprint(self) -> str:
        """A hash of what training reads: each sample's :data:`SAMPLE_KEYS` tensors (key, shape,
        bytes) in order, the support and, where not ``uniform``, the sampling; equal for two sets
        exactly when they train alike. The tuned Mirage sets' are pinned in
        ``tests/fixtures`` (uniform sets, hashed before the sampling was)."""
        h = hashlib.sha256()
        for g in self.samples:
            for key in SAMPLE_KEYS:
                if (t := g.get(key)) is not None:
                    h.update(key.encode())
                    h.update(str(tuple(t.shape)).encode())
                    h.update(t.detach().cpu().contiguous().numpy().tobytes())
        h.update(repr(self.support).encode())
        if self.sampling != "uniform":
            h.update(self.sampling.encode())
        return h.hexdigest()

    def loader(self, batch_size: int, generator: torch.Generator) -> Iterator[Any]:
        """One epoch of shuffled mini-batches."""
        if self.sampling == "frequency":
            weights = torch.tensor(self.support, dtype=torch.double)
            idx = torch.multinomial(weights, len(self.samples), replacement=True,
                                    generator=generator).tolist()
        else:
            idx = torch.randperm(len(self.samples), generator=generator).tolist()
        return iter(DataLoader([self.samples[i] for i in idx], batch_size=batch_size))

    # ------------------------------------------------------------------ persistence
    def save(self, path: Path) -> None:
        """Tensors and metadata in one ``torch.save`` of plain containers (safe to load), plus a
        JSON copy of the metadata for people. Both are written atomically, so concurrent writers
        of one key leave one complete file."""
        meta = json.loads(json.dumps(self.meta, default=str))  # plain types: weights_only loads
        tensors = [{k: g[k] for k in g.keys()} for g in self.samples]  # noqa: SIM118
        blob = {"samples": tensors, "support": self.support, "sampling": self.sampling,
                "meta": meta}
        sidecar = json.dumps({"sampling": self.sampling, "meta": meta}, indent=1)
        write_atomic(path.with_suffix(".json"), lambda tmp: tmp.write_text(sidecar))
        write_atomic(path, lambda tmp: torch.save(blob, tmp))  # last: the .pt marks a cache hit

    @classmethod
    def load(cls, path: Path) -> DistilledSet:
        blob = torch.load(path, weights_only=True)
        samples = [Data(**d) for d in blob["samples"]]
        return cls(samples, blob["sampling"], blob["support"], blob["meta"])


def _ignore(_: dict[str, float]) -> None:
    return None


@dataclass
class DistillContext:
    """What the harness lends a distiller besides the data: where to compute, whether to show a
    progress bar, where its loss curve goes (one ``log({...})`` per logged iteration: the run log
    and W&B), the evaluation GNN's config (read only by a distiller whose set depends on it,
    ``uses_model = True``, such as herding), and a store for intermediate results that several
    distillers share (:meth:`reuse`; ``store=None``: nothing is kept).

    ``scope`` is what the store's keys add to a distiller's own: the dataset and its split, so
    that a result is never reused across data. ``reused_s`` adds up the seconds that the reused
    results once took, which the harness counts into the distillation time.
    """

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    progress: bool = False
    log: Callable[[dict[str, float]], None] = _ignore
    model: Mapping[str, Any] | None = None
    store: Path | None = None
    scope: Mapping[str, Any] = field(default_factory=dict)
    reused_s: float = 0.0

    def reuse(self, name: str, parts: Mapping[str, Any],
              compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """``compute()`` (a dict of tensors and plain values), or the copy stored under ``name``
        and ``parts`` (everything the result depends on besides :attr:`scope`) by an earlier
        call: herding and KCenter train the same target GNN once."""
        if self.store is None:
            return compute()
        path = self.store / f"{name}-{stable_hash({**parts, 'scope': self.scope})}.pt"
        if path.exists():
            blob = torch.load(path, weights_only=True)
            self.reused_s += blob["seconds"]
            return blob["value"]
        t0 = time.perf_counter()
        value = compute()
        blob = {"value": value, "seconds": time.perf_counter() - t0}
        write_atomic(path, lambda tmp: torch.save(blob, tmp))
        return value


class Distiller(ABC):
    """Turns a training split into a (much) smaller training set.

    ``conf/distiller/<name>.yaml`` names the class in ``_target_`` (Hydra's convention) and holds
    its keyword arguments plus ``name``, the label rows carry. Subclasses validate their
    hyperparameters in ``__init__`` and raise :class:`ConfigError` naming the key.
    ``uses_model`` says whether the set depends on the evaluation GNN (then the artifact cache
    key includes the model config, and one set per model is distilled).
    """

    uses_model: ClassVar[bool] = False

    @abstractmethod
    def distill(self, train: TrainSplit, seed: int,
                ctx: DistillContext | None = None) -> DistilledSet:
        """Distill ``train.graphs``; ``seed`` makes any randomness reproducible."""


def distiller_class(target: str) -> type[Distiller]:
    """The class that a ``conf/distiller`` node's ``_target_`` names."""
    from hydra.utils import get_class

    try:
        cls = get_class(target)
    except Exception as err:
        raise ConfigError(f"distiller._target_={target!r} cannot be imported "
                          f"({' '.join(str(err).split())})") from err
    if not (isinstance(cls, type) and issubclass(cls, Distiller)):
        raise ConfigError(f"distiller._target_={target!r} is not a Distiller subclass")
    return cls


def build_distiller(cfg: Mapping[str, Any]) -> Distiller:
    """Instantiate a ``conf/distiller`` node: its ``_target_`` class with every other key except
    ``name``."""
    if "_target_" not in cfg:
        raise ConfigError(f"distiller '{cfg.get('name')}' has no _target_ (the Distiller class "
                          "to instantiate, e.g. baselines.coresets.Random)")
    params = {k: v for k, v in cfg.items() if k not in ("name", "_target_")}
    try:
        return distiller_class(cfg["_target_"])(**params)
    except TypeError as err:
        raise ConfigError(f"distiller '{cfg.get('name')}': {err}") from err


def positive_int(key: str, value: Any) -> int:
    """Validate a strictly positive integer hyperparameter."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{key} must be a positive integer, got {value!r}")
    return value


def one_of(key: str, value: Any, options: Iterable[Any]) -> Any:
    """Validate a hyperparameter that takes one of ``options``."""
    if value not in (options := list(options)):
        raise ConfigError(f"{key} must be one of {options}, got {value!r}")
    return value


def byte_budget(key: str, value: Any) -> int | float | None:
    """Validate a byte budget: ``None`` (off), an int count of bytes ``>= 1``, or a float in
    ``(0, 1)``, a fraction of the training split's bytes (``0.05`` = 20x compression)."""
    if value is None or (isinstance(value, float) and 0.0 < value < 1.0):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ConfigError(f"{key} must be a byte count >= 1 (int), a fraction of the training "
                      f"split's bytes in (0, 1) (float), or null, got {value!r}")


def resolve_budget(budget: int | float, graphs: Sequence[Data]) -> int:
    """A :func:`byte_budget` in bytes: a count as is, a fraction of ``nbytes(graphs)`` rounded
    down (at least 1)."""
    return budget if isinstance(budget, int) else max(1, int(budget * nbytes(graphs)))


def positive_number(key: str, value: Any) -> float:
    """Validate a real hyperparameter ``> 0`` (a learning rate, a temperature)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{key} must be a positive number, got {value!r}")
    return float(value)


def non_negative_number(key: str, value: Any) -> float:
    """Validate a real hyperparameter ``>= 0`` (a weight that 0 switches off)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigError(f"{key} must be a number >= 0, got {value!r}")
    return float(value)
