"""Frequent itemset mining against a brute-force reference."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from mirage.distill.mining import Itemset, TransactionDB, frequent_itemsets, rank_key


def brute_force(transactions: list[set[int]], min_support: int,
                max_size: int | None = None) -> list[tuple[tuple[int, ...], int]]:
    """Every itemset over the seen items, counted directly; in rank order."""
    items = sorted(set().union(*transactions))
    found = []
    for size in range(1, (max_size or len(items)) + 1):
        for itemset in itertools.combinations(items, size):
            support = sum(1 for t in transactions if t.issuperset(itemset))
            if support >= min_support:
                found.append((itemset, support))
    return sorted(found, key=lambda p: (-p[1], len(p[0]), p[0]))


def as_pairs(itemsets: list[Itemset]) -> list[tuple[tuple[int, ...], int]]:
    return [(s.items, s.support) for s in itemsets]


def random_transactions(seed: int, num_items: int = 9) -> list[set[int]]:
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(num_items))  # skewed item frequencies, as trees are
    return [set(rng.choice(num_items, size=int(rng.integers(0, 7)), p=weights).tolist())
            for _ in range(int(rng.integers(1, 40)))]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("min_support", [1, 2, 4, 8])
@pytest.mark.parametrize("max_size", [None, 1, 2, 3])
def test_all_frequent_itemsets_match_brute_force(seed: int, min_support: int,
                                                 max_size: int | None) -> None:
    transactions = random_transactions(seed)
    expected = brute_force(transactions, min_support, max_size)
    assert as_pairs(frequent_itemsets(transactions, min_support, max_size)) == expected


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("max_patterns", [1, 3, 10, 100])
def test_max_patterns_keeps_the_best_ranked(seed: int, max_patterns: int) -> None:
    transactions = random_transactions(seed)
    for max_size in (None, 2):
        expected = brute_force(transactions, 2, max_size)[:max_patterns]
        got = frequent_itemsets(transactions, 2, max_size, max_patterns)
        assert as_pairs(got) == expected


def test_max_patterns_prunes_open_itemsets_correctly() -> None:
    # Many items and a small cap: the open-itemset heap gets trimmed many times.
    rng = np.random.default_rng(5)
    transactions = [set(rng.choice(30, size=12, replace=False).tolist()) for _ in range(40)]
    expected = brute_force(transactions, 6, 3)
    for cap in (1, 5, 50, 400):
        assert as_pairs(frequent_itemsets(transactions, 6, 3, cap)) == expected[:cap]


def test_ties_are_broken_by_size_then_items() -> None:
    transactions = [{1, 2, 3}, {1, 2, 3}]
    got = frequent_itemsets(transactions, 2, max_patterns=5)
    assert [s.items for s in got] == [(1,), (2,), (3,), (1, 2), (1, 3)]
    # rank_key orders by support first: a rarer single item comes after a frequent pair.
    mixed = [Itemset((3,), 2), Itemset((1, 2), 5), Itemset((2,), 5), Itemset((1,), 5),
             Itemset((0, 4), 2)]
    assert [(s.items, s.support) for s in sorted(mixed, key=rank_key)] == [
        ((1,), 5), ((2,), 5), ((1, 2), 5), ((3,), 2), ((0, 4), 2)]


def test_single_path_does_not_explode() -> None:
    # Its wall time is measured by experiments/bench_mirage.py (column mining_single_path_s).
    transactions = [set(range(25))] * 25
    got = frequent_itemsets(transactions, 1, max_size=3)
    assert len(got) == math.comb(25, 1) + math.comb(25, 2) + math.comb(25, 3)
    assert all(s.support == 25 for s in got)
    # Without a size cap there are 2**25 - 1 itemsets; the pattern cap stops the search early.
    top = frequent_itemsets(transactions, 1, max_patterns=100)
    assert [s.items for s in top[:25]] == [(i,) for i in range(25)]
    assert top[25:] == [Itemset(p, 25) for p in itertools.combinations(range(25), 2)][:75]


def test_transactions_are_sets_and_items_arbitrary() -> None:
    transactions = [[10**9, 10**9, 7], [7], [], [10**9]]
    got = frequent_itemsets(transactions, 2)
    assert as_pairs(got) == [((7,), 2), ((10**9,), 2)]
    assert frequent_itemsets([[1], [2]], 3) == []
    assert frequent_itemsets([], 1) == []


def test_support_queries() -> None:
    transactions = random_transactions(3)
    db = TransactionDB.from_lists([sorted(t) for t in transactions])
    assert db.num_transactions == len(transactions)
    for size in (0, 1, 2, 3):
        for itemset in itertools.combinations(range(11), size):  # items 9, 10 occur nowhere
            expected = sum(1 for t in transactions if t.issuperset(itemset))
            assert db.support(itemset) == expected


def test_vertical_constructor_and_validation() -> None:
    db = TransactionDB(np.array([0, 0, 1, 2, 2]), np.array([4, 4, 4, 5, 4]), 4)
    np.testing.assert_array_equal(db.items, [4, 5])
    np.testing.assert_array_equal(db.item_support, [3, 1])
    assert as_pairs(db.mine(1)) == [((4,), 3), ((5,), 1), ((4, 5), 1)]
    with pytest.raises(ValueError, match="min_support"):
        db.mine(0)
    with pytest.raises(ValueError, match="non-negative"):
        TransactionDB(np.array([0]), np.array([-1]), 1)
