"""Frequent itemset mining (Eclat on Python-int bitsets).

Every frequent item keeps the set of transactions that contain it as a bitset (a Python ``int``);
the support of an itemset is the popcount of the AND of its items' bitsets. The search extends an
itemset only with items after its last one, so it visits every frequent itemset once. It returns
all frequent itemsets (not only closed or maximal ones). ``max_size`` stops the search at that
depth; ``max_patterns`` switches to a best-first search that stops once it has the best ones, so
both bound the work itself, not just the output (pyfpgrowth-style enumeration of every subset of
a long single path is never done).

Unlike the official code's pyfpgrowth, which drops some frequent single items (its issues #6 and
#24), the result is complete; on NCI1 this adds one official-missing pattern (see
``tests/test_mirage_parity.py``).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from mirage.distill.trees import compact


class Itemset(NamedTuple):
    """A frequent itemset: its items (ascending) and the number of transactions holding all."""

    items: tuple[int, ...]
    support: int


def rank_key(itemset: Itemset) -> tuple[int, int, tuple[int, ...]]:
    """The output order: higher support first, then fewer items, then smaller items."""
    return -itemset.support, len(itemset.items), itemset.items


class TransactionDB:
    """Transactions in vertical form: for every item, the sorted transactions that contain it."""

    def __init__(self, tx: np.ndarray, items: np.ndarray, num_transactions: int) -> None:
        """
        Args:
            tx: ``[M]`` transaction index (``0..num_transactions-1``) of each (transaction, item)
                pair; duplicate pairs count once (transactions are sets).
            items: ``[M]`` non-negative int item of each pair.
            num_transactions: number of transactions (empty ones included).
        """
        tx = np.asarray(tx, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        if items.size and items.min() < 0:
            raise ValueError("items must be non-negative integers")
        self.num_transactions = num_transactions
        codes, num_items = compact(items, int(items.max(initial=-1)) + 1)
        self.items = np.empty(num_items, dtype=np.int64)  # distinct items, ascending
        self.items[codes] = items
        # Sorted distinct (item, transaction) pairs: grouped by item, transactions ascending.
        pairs = np.sort(codes * num_transactions + tx)
        first = np.ones(pairs.size, dtype=bool)
        first[1:] = pairs[1:] != pairs[:-1]
        pairs = pairs[first]
        self._tx = pairs % max(num_transactions, 1)
        self._ptr = np.zeros(num_items + 1, dtype=np.int64)
        np.cumsum(np.bincount(pairs // max(num_transactions, 1), minlength=num_items),
                  out=self._ptr[1:])
        self._bitsets: dict[int, int] = {}

    @classmethod
    def from_lists(cls, transactions: Sequence[Iterable[int]]) -> TransactionDB:
        """From one iterable of int items per transaction."""
        tx, items = [], []
        for t, transaction in enumerate(transactions):
            for item in transaction:
                tx.append(t)
                items.append(item)
        return cls(np.array(tx, dtype=np.int64), np.array(items, dtype=np.int64),
                   len(transactions))

    @property
    def item_support(self) -> np.ndarray:
        """``[num distinct items]`` support of every item of :attr:`items`."""
        return np.diff(self._ptr)

    def _bitset(self, code: int) -> int:
        """Transactions holding item ``self.items[code]``, as bits of a Python int (cached)."""
        if code in self._bitsets:
            return self._bitsets[code]
        tx = self._tx[self._ptr[code]:self._ptr[code + 1]]
        # Bits of a byte are distinct (no duplicate transactions), so summing them ORs them.
        packed = np.bincount(tx >> 3, weights=np.left_shift(1, tx & 7),
                             minlength=(self.num_transactions + 7) // 8)
        bits = int.from_bytes(packed.astype(np.uint8).tobytes(), "little")
        self._bitsets[code] = bits
        return bits

    def holders(self, itemset: Iterable[int]) -> int:
        """The transactions that hold every item of ``itemset``, as the bits of an int (the
        empty set: all of them)."""
        wanted = np.fromiter(itemset, dtype=np.int64)
        everything = (1 << self.num_transactions) - 1
        if wanted.size == 0:
            return everything
        codes = np.searchsorted(self.items, wanted)
        if codes.max() >= self.items.size or np.any(self.items[codes] != wanted):
            return 0  # an item that no transaction holds
        bits = everything
        for code in codes.tolist():
            bits &= self._bitset(code)
        return bits

    def support(self, itemset: Iterable[int]) -> int:
        """Number of transactions that hold every item of ``itemset`` (the empty set: all)."""
        return self.holders(itemset).bit_count()

    def mine(self, min_support: int, max_size: int | None = None,
             max_patterns: int | None = None) -> list[Itemset]:
        """All itemsets held by ``>= min_support`` transactions.

        Args:
            min_support: absolute minimum support (``>= 1``).
            max_size: largest itemset size returned (``None``: no cap).
            max_patterns: keep only this many itemsets, the first ones under :func:`rank_key`
                (``None``: no cap); the search then stops as soon as it has them.

        Returns:
            The itemsets in :func:`rank_key` order.
        """
        if min_support < 1:
            raise ValueError(f"min_support must be >= 1, got {min_support}")
        if max_patterns is not None and self.item_support.size >= max_patterns:
            # Every single item is an itemset, so the k-th best itemset has at least the k-th
            # best item support; an item below it cannot be in any of the first k (ties rank
            # single items first). Raising the bar is exact and shrinks the search a lot.
            kth = np.partition(self.item_support, -max_patterns)[-max_patterns]
            min_support = max(min_support, int(kth))
        codes = np.flatnonzero(self.item_support >= min_support)
        items = [int(self.items[c]) for c in codes]
        bitsets = [self._bitset(int(c)) for c in codes]
        supports = [int(self.item_support[c]) for c in codes]
        if max_patterns is None:
            return sorted(_depth_first(items, bitsets, supports, min_support, max_size),
                          key=rank_key)
        return _best_first(items, bitsets, supports, min_support, max_size, max_patterns)


# An itemset under search: the itemset, its transactions as a bitset, and the position (in the
# frequent-item lists) of its last item; extensions only add items after that position, so the
# search visits every itemset once.
_Node = tuple[tuple[int, ...], int, int]


def _extensions(node: _Node, items: list[int], bitsets: list[int],
                min_support: int) -> list[tuple[int, _Node]]:
    """The frequent one-item extensions of ``node``, with their supports."""
    prefix, bits, last = node
    out = []
    for j in range(last + 1, len(items)):
        both = bits & bitsets[j]
        count = both.bit_count()
        if count >= min_support:
            out.append((count, ((*prefix, items[j]), both, j)))
    return out


def _depth_first(items: list[int], bitsets: list[int], supports: list[int], min_support: int,
                 max_size: int | None) -> list[Itemset]:
    """Every frequent itemset (Eclat), in search order; memory stays O(depth x items)."""
    found = []
    stack = [[(s, ((item,), bits, j)) for j, (item, bits, s)
              in enumerate(zip(items, bitsets, supports, strict=True))]]
    while stack:
        if not stack[-1]:
            stack.pop()
            continue
        support, node = stack[-1].pop()
        found.append(Itemset(node[0], support))
        if max_size is None or len(node[0]) < max_size:
            stack.append(_extensions(node, items, bitsets, min_support))
    return found


def _best_first(items: list[int], bitsets: list[int], supports: list[int], min_support: int,
                max_size: int | None, k: int) -> list[Itemset]:
    """The first ``k`` frequent itemsets under :func:`rank_key`, found in that order.

    An extension ranks strictly after its itemset (no more support, one more item), so popping
    the best open itemset from a heap yields itemsets in rank order and the first ``k`` pops are
    the answer. Open itemsets that ``k`` better ones already outrank are dropped.
    """
    heap = [((-s, 1, (item,)), ((item,), bits, j)) for j, (item, bits, s)
            in enumerate(zip(items, bitsets, supports, strict=True))]
    heapq.heapify(heap)
    found: list[Itemset] = []
    worst = None  # after a trim: the worst open key still kept; nothing after it can be taken
    while heap and len(found) < k:
        (neg_support, size, itemset), node = heapq.heappop(heap)
        found.append(Itemset(itemset, -neg_support))
        # Extensions rank after (neg_support, size + 1, ...): skip them when that is past worst.
        if (max_size is None or size < max_size) and (
                worst is None or (neg_support, size + 1) <= worst[:2]):
            for count, child in _extensions(node, items, bitsets, min_support):
                key = (-count, size + 1, child[0])
                if worst is None or key < worst:
                    heapq.heappush(heap, (key, child))
        room = k - len(found)
        if len(heap) > 2 * room + 64:  # bound memory: only ``room`` more can be taken
            heap = heapq.nsmallest(room, heap)
            worst = heap[-1][0] if heap else None
    return found


def frequent_itemsets(transactions: Sequence[Iterable[int]], min_support: int,
                      max_size: int | None = None,
                      max_patterns: int | None = None) -> list[Itemset]:
    """All frequent itemsets of ``transactions`` (see :meth:`TransactionDB.mine`)."""
    return TransactionDB.from_lists(transactions).mine(min_support, max_size, max_patterns)
