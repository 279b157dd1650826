"""The leave-one-dataset-out choice of Mirage's generic rule (mirage.report.paired.lodo) and the
weighted readout its root weights use."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
import torch
from torch_geometric.data import Batch, Data

from mirage.data import FeatureSpec
from mirage.models import GNN
from mirage.report import paired

# Validation margins (Mirage minus random, AUC) of two rules on three datasets. Left out d1, B
# has the higher mean margin on d2 and d3; left out d2 or d3, A has it on the other two, by a
# hair that the left-out dataset's own margin would reverse. Test margins are the opposite of
# validation's, so a choice made on test picks the other rule.
VAL = {("A", "d1"): 0.10, ("A", "d2"): -0.03, ("A", "d3"): -0.08,
       ("B", "d1"): -0.01, ("B", "d2"): 0.01, ("B", "d3"): 0.01}


def _pairs(split: str = "0") -> pd.DataFrame:
    rows = []
    for (rule, dataset), margin in VAL.items():
        for seed in range(3):
            rows.append({"dataset": dataset, "rule": rule, "model": "gcn", "seed": seed,
                         "split": split,
                         "val_auc_mirage": 0.7 + margin, "val_auc_random": 0.7,
                         "test_auc_mirage": 0.7 - margin + 0.001 * seed,
                         "test_auc_random": 0.7 + 0.001 * seed,
                         "distilled_bytes_mirage": 100, "distilled_bytes_random": 120,
                         "compression_ratio_mirage": 50.0})
    return pd.DataFrame(rows)


def test_each_dataset_is_scored_by_the_rule_the_others_chose_on_validation() -> None:
    """Left out d1: B's mean margin on d2, d3 is higher. Left out d2 or d3: A's is. Were the
    left-out dataset to vote, d2 and d3 would get B; were the choice made on test, every choice
    would flip."""
    table = paired.lodo(_pairs(), ["d1", "d2", "d3"]).set_index("dataset")
    assert table["rule"].to_dict() == {"d1": "B", "d2": "A", "d3": "A"}
    # The reported score is the left-out dataset's test margin under that rule.
    assert table.loc["d1", "diff"] == pytest.approx(100 * 0.01)  # B's test margin on d1
    assert table.loc["d2", "diff"] == pytest.approx(100 * 0.03)  # A's test margin on d2
    assert table.loc["d2", "seeds"] == 3


def test_a_rule_not_measured_on_every_other_dataset_or_below_20x_is_not_chosen() -> None:
    pairs = _pairs()
    c = pairs[(pairs["rule"] == "A") & (pairs["dataset"] != "d3")].assign(rule="C")
    c["val_auc_mirage"] += 0.5  # the best by far, but not measured on d3
    table = paired.lodo(pd.concat([pairs, c]), ["d1", "d2", "d3"]).set_index("dataset")
    assert "C" not in set(table["rule"])
    pairs.loc[pairs["rule"] == "B", "compression_ratio_mirage"] = 10.0
    assert set(paired.lodo(pairs, ["d1", "d2", "d3"])["rule"]) == {"A"}
    text = paired.lodo_table(paired.lodo(_pairs(), ["d1", "d2", "d3"]))
    assert "| gcn | 3 of 3 |" in text
    # a difference that shows as +0.0 (here float noise above 0) is a tie, not a win
    tied = paired.lodo(_pairs(), ["d1", "d2", "d3"]).assign(diff=[1e-12, 0.04, 3.0])
    assert "| gcn | 1 of 3 (2 tied) |" in paired.lodo_summary(tied)


def test_the_choice_reads_only_the_seeds_every_rule_has() -> None:
    """Seeds 3 and 4 of A alone (a final phase run for one rule) would make A's mean margin on d2
    and d3 the higher; chosen on seeds 0-2 every rule stands on the same seeds and d1 gets B,
    while the chosen rule's test is reported over all its seeds."""
    pairs = _pairs()
    extra = pairs[pairs["rule"] == "A"].assign(seed=lambda d: d["seed"] + 3)
    extra = extra[extra["seed"] <= 4].assign(val_auc_mirage=0.9)
    both = pd.concat([pairs, extra])
    assert paired.lodo(both, ["d1", "d2", "d3"]).set_index("dataset").loc["d1", "rule"] == "A"
    table = paired.lodo(both, ["d1", "d2", "d3"], choose_seeds=[0, 1, 2]).set_index("dataset")
    assert table["rule"].to_dict() == {"d1": "B", "d2": "A", "d3": "A"}
    assert table.loc["d2", "seeds"] == 5 and table.loc["d1", "seeds"] == 3
    # A rule paired on seed 0 alone (its other seeds met another draw) stands on one seed's
    # noise: however high, it is no candidate where the choice reads seeds 0-2.
    lone = pairs[(pairs["rule"] == "A") & (pairs["seed"] == 0)].assign(rule="C",
                                                                        val_auc_mirage=0.9)
    table = paired.lodo(pd.concat([pairs, lone]), ["d1", "d2", "d3"], choose_seeds=[0, 1, 2])
    assert "C" not in set(table["rule"])
    # choosing seeds no rule has: no choice, and the table says so
    none = paired.lodo(pairs, ["d1", "d2", "d3"], choose_seeds=[0, 7])
    assert none.empty and paired.lodo_table(none) == paired.NO_RULE


def test_other_splits_add_test_scores_but_no_votes() -> None:
    """Split 1's validation would make A lead everywhere; chosen on split 0 the choices stand,
    and the left-out test averages the splits, each weighing the same, with an interval over the
    per-split differences (the seeds of a split share its test set)."""
    other = _pairs("1").assign(val_auc_mirage=lambda d: d["val_auc_mirage"]
                               + 0.5 * (d["rule"] == "A"))
    # test margins of +k points on splits 1 (three seeds) and 2 (seed 0 alone)
    one, two = (other.assign(split=str(k), test_auc_mirage=other["test_auc_random"] + k / 100)
                for k in (1, 2))
    both = pd.concat([_pairs(), one, two[two["seed"] == 0]])
    assert set(paired.lodo(both, ["d1", "d2", "d3"], choose_splits=[0, 1])["rule"]) == {"A"}
    # every split choosing: split 2 lacks seeds 1 and 2 of every rule, so no rule qualifies
    assert paired.lodo(both, ["d1", "d2", "d3"]).empty
    table = paired.lodo(both, ["d1", "d2", "d3"], choose_splits=[0]).set_index("dataset")
    assert table["rule"].to_dict() == {"d1": "B", "d2": "A", "d3": "A"}
    assert table.loc["d1", "splits"] == 3 and table.loc["d1", "seeds"] == 7
    # d1 under B: +1 (split 0), +1, +2 points: the mean of the splits, not of the seven runs
    assert table.loc["d1", "diff"] == pytest.approx(4 / 3)
    assert table.loc["d1", "diff_lo"] < 0 < table.loc["d1", "diff_hi"]  # n = 3 splits, t(2)
    # a rule measured on split 0 alone, the best there, is no candidate where splits 0-1 choose
    only = _pairs().assign(rule="C", val_auc_mirage=0.95)
    assert set(paired.lodo(pd.concat([both, only]), ["d1", "d2", "d3"],
                           choose_splits=[0])["rule"]) == {"C"}
    assert "C" not in set(paired.lodo(pd.concat([both, only]), ["d1", "d2", "d3"],
                                      choose_splits=[0, 1])["rule"])


def _raw(distiller: str, seed: int, draw: int, auc: float, **cols: object) -> dict:
    return {"dataset": "D", "model": "gcn", "seed": str(seed), "distill_seed": str(draw),
            "status": "ok", "distiller": distiller, "val_auc": auc, "test_auc": auc,
            "compression_ratio": 50.0, **cols}


def test_stability_shows_the_choice_each_seed_alone_makes_then_all() -> None:
    """On seed 2 alone B leads everywhere (its validation margin raised there, enough to lead the
    mean of all three too): every left-out dataset gets B; seeds 0 and 1 alone choose as the
    unraised pairs do. Each line scores the left-out datasets on test under its own choice."""
    pairs = _pairs()
    pairs.loc[(pairs["rule"] == "B") & (pairs["seed"] == 2), "val_auc_mirage"] += 0.5
    text = paired.lodo_stability(pairs, ["d1", "d2", "d3"], [0, 1, 2])
    choices = text.split("\n\n")[0].splitlines()[2:]
    lines = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:4] for line in choices}
    assert lines == {"0": ["B", "A", "A"], "1": ["B", "A", "A"], "2": ["B", "B", "B"],
                     "0, 1, 2": ["B", "B", "B"]}
    assert "| A | A |" in text and "| B | B |" in text
    # seed 2 alone: B everywhere, whose test margins are +1, -1, -1 points
    assert text.splitlines()[4].endswith("| 1 of 3, -0.33 |")


def test_random_is_a_new_draw_per_seed_or_the_one_draw_the_table_names() -> None:
    """per_seed pairs Mirage's seed s with random drawn with distill_seed s; fixed with the draw
    of distill_seed 0; either way one pair per seed (old rows without a draw are draw 0)."""
    mirage = [_raw("mirage", s, 0, 0.8, **{"distiller.budget_bytes": "0.02",
                                           "distilled_bytes": 100}) for s in range(3)]
    random = [_raw("random", s, d, 0.5 + 0.1 * d, **{"distiller.budget_bytes": "100",
                                                     "distilled_bytes": 110})
              for s in range(3) for d in {0, s}]
    random[0]["distill_seed"] = ""
    rows = pd.DataFrame(mirage + random)
    per_seed = paired.paired(rows).sort_values("seed")
    assert per_seed["test_auc_random"].tolist() == pytest.approx([0.5, 0.6, 0.7])
    fixed = paired.paired(rows, "fixed")
    assert fixed["test_auc_random"].tolist() == pytest.approx([0.5] * 3)
    with pytest.raises(ValueError, match="random_draws must be one of"):
        paired.paired(rows, "mean")


def test_mirage_seed_s_is_its_own_draw_where_its_set_has_one() -> None:
    """Cell A was measured again with a set drawn per seed (seeds 1, 2: distill_seed = seed), so
    per_seed keeps those and drops A's old draw-0 runs of seeds 1, 2; cell B (no per-seed runs:
    a set that draws nothing) keeps its draw-0 runs for every seed. fixed keeps draw 0 alone."""
    def mirage(model: str, seed: int, draw: int, auc: float) -> dict:
        return _raw("mirage", seed, draw, auc, model=model, **{
            "distiller.budget_bytes": "0.02", "distilled_bytes": 100 + draw})

    rows = [mirage("gcn", s, 0, 0.8) for s in range(3)] + [
        mirage("gcn", s, s, 0.6) for s in (1, 2)] + [mirage("gin", s, 0, 0.7) for s in range(3)]
    rows += [_raw("random", s, d, 0.5, model=m, **{"distiller.budget_bytes": str(100 + b),
                                                   "distilled_bytes": 110})
             for m in ("gcn", "gin") for s in range(3) for d in {0, s} for b in {0, s}]
    per_seed = paired.paired(pd.DataFrame(rows)).sort_values(["model", "seed"])
    assert per_seed["test_auc_mirage"].tolist() == pytest.approx([0.8, 0.6, 0.6, 0.7, 0.7, 0.7])
    assert per_seed["distilled_bytes_mirage"].tolist() == [100, 101, 102, 100, 100, 100]
    fixed = paired.paired(pd.DataFrame(rows), "fixed").sort_values(["model", "seed"])
    assert fixed["test_auc_mirage"].tolist() == pytest.approx([0.8] * 3 + [0.7] * 3)


@pytest.mark.parametrize("drawn", [True, False])
def test_a_set_that_draws_is_drawn_again_for_each_seed(monkeypatch, drawn: bool) -> None:
    """Where Mirage's sets of distill seeds 0 and 1 differ, seed s of Mirage runs on its own draw
    (distill_seed=per_seed) and random meets that set's bytes; where they agree, one set serves
    every seed (distill_seed=0, the runs measured before stay valid). Random is drawn per seed
    either way, one sweep per distinct byte budget."""
    from experiments.studies import generic_default

    calls: list[list[str]] = []
    monkeypatch.setattr(generic_default, "mirage_sets", lambda _, draws: {
        d: (100 + d % 2, f"set{d}") if drawn else (100, "set") for d in draws})
    monkeypatch.setattr(generic_default, "sweep", lambda o: calls.append(list(o)) or 0)
    assert generic_default.against_random("D r", ["dataset=tu"], ["distiller.x=1"], [],
                                          [0, 1, 2]) == 0
    keys = ("distiller", "distiller.budget_bytes", "distill_seed", "seeds")
    runs = {tuple(dict(o.split("=", 1) for o in call).get(k) for k in keys) for call in calls}
    mirage = ("mirage", None, "per_seed" if drawn else "0", "[0,1,2]")
    random = {("random", "100", "per_seed", "[0,2]"), ("random", "101", "per_seed", "[1]")} \
        if drawn else {("random", "100", "per_seed", "[0,1,2]")}
    assert len(calls) == len(runs) and runs == {mirage} | random


def test_weighted_readout_counts_a_root_as_that_many_nodes() -> None:
    """pool_weight w on a root pools it as w copies (sum) and leaves a mean with equal weights
    unchanged."""
    torch.manual_seed(0)
    spec = FeatureSpec((3,))
    star = Data(x=torch.tensor([[0], [1], [2]]), edge_index=torch.tensor([[1, 2], [0, 0]]),
                pool_mask=torch.tensor([True, False, False]), num_nodes=3)
    two = Data(x=torch.tensor([[0], [1], [2], [0], [1], [2]]),
               edge_index=torch.tensor([[1, 2, 4, 5], [0, 0, 3, 3]]),
               pool_mask=torch.tensor([True, False, False, True, False, False]), num_nodes=6)
    for pool, conv in itertools.product(("sum", "mean"), ("gcn", "gin", "gat")):
        model = GNN(features=spec, num_classes=2, conv=conv, hidden=8, num_layers=1, pool=pool)
        model.eval()
        weighted = Batch.from_data_list([star.clone().update({"pool_weight":
                                                              torch.tensor([2.0])})])
        assert torch.allclose(model.graph_embeddings(weighted),
                              model.graph_embeddings(Batch.from_data_list([two])), atol=1e-6)


def test_curve_says_where_mirage_is_below_random_beyond_the_interval() -> None:
    pairs = _pairs()
    table = paired.curve(pairs).set_index(["dataset", "rule"])
    assert table.loc[("d1", "A"), "diff"] == pytest.approx(-10.0)  # test margin -0.10
    text = paired.curve_table(paired.curve(pairs))
    line = next(x for x in text.splitlines() if x.startswith("| d1 | gcn | A |"))
    assert line.split("|")[-3].strip() == "no"
    line = next(x for x in text.splitlines() if x.startswith("| d1 | gcn | B |"))
    assert line.split("|")[-3].strip() == "yes"


@pytest.mark.slow
def test_generic_curve_pairs_mirage_with_random_at_its_bytes(tmp_path, monkeypatch) -> None:
    """The curve study end to end on MUTAG, one of two budgets (``--budgets``), two seeds (random
    a new draw for each), one epoch."""
    from experiments.studies import generic_curve
    from mirage.report import rows

    monkeypatch.setitem(generic_curve.CURVES, "MUTAG",
                        (["dataset=tu", "dataset.name=MUTAG"], (3000, 6000)))
    with pytest.raises(SystemExit):  # not a budget of the curve
        generic_curve.main(["--datasets", "MUTAG", "--budgets", "4000"])
    code = generic_curve.main(["--datasets", "MUTAG", "--budgets", "3000", "--seeds", "0", "1",
                               "--results-dir",
                               str(tmp_path), "--", "train.epochs=1",
                               f"cache_dir={tmp_path / 'cache'}"])
    assert code == 0
    runs = rows.load([tmp_path / "runs.csv"])
    drawn = runs[runs["distiller"] == "random"]
    assert sorted(zip(drawn["seed"].astype(int), drawn["distill_seed"].astype(int),
                      strict=True)) == [(0, 0), (1, 1)]
    table = paired.curve(paired.paired(runs))
    # the default rule of the curve: the generic default at this budget
    assert len(table) == 1 and table["seeds"].iloc[0] == 2
    assert table["rule"].iloc[0] == ("budget 3000 B, ego samples, roots x size, contrast rank, "
                                     "frozen norm, norm stats of the set, lead z >= 1.96")
    mirage, random = table["mirage_bytes"].iloc[0], table["random_bytes"].iloc[0]
    assert mirage <= 3000 and random >= mirage  # random at (at least) Mirage's own bytes


def test_a_report_spec_names_a_known_random_draw(tmp_path) -> None:
    from mirage.report.spec import build_table

    (tmp_path / "s").mkdir()
    pd.DataFrame([_raw("mirage", 0, 0, 0.8, **{"distiller.budget_bytes": "0.02",
                                              "distilled_bytes": 100})]).to_csv(
        tmp_path / "s" / "runs.csv", index=False)
    spec = {"name": "t", "kind": "rule_selection", "runs": ["s/runs.csv"],
            "random_draws": "each"}
    with pytest.raises(SystemExit, match="random_draws must be one of"):
        build_table(spec, tmp_path, results=tmp_path)


def test_a_report_spec_key_its_kind_does_not_read_is_refused(tmp_path) -> None:
    """A key that a table's kind does not read would filter nothing: ``datasets`` on a
    rule_vs_random table once left another dataset in (``keep`` is the filter there). Every
    committed spec names only keys its kinds read."""
    from mirage.report.spec import build_table, check_keys, load_spec, studies

    spec = {"name": "t", "kind": "rule_vs_random", "runs": ["s/runs.csv"], "datasets": ["D"]}
    with pytest.raises(SystemExit, match=r"rule_vs_random reads no \['datasets'\]; its keys"):
        build_table(spec, tmp_path, results=tmp_path)
    with pytest.raises(SystemExit, match="unknown kind 'rule_vs'"):
        build_table({**spec, "kind": "rule_vs"}, tmp_path, results=tmp_path)
    for study in studies():
        for table in load_spec(study):
            check_keys(table)


def test_a_spec_reads_another_specs_key_and_a_missing_key_is_named() -> None:
    """generic_splits offers the candidates generic_default defines (one pattern, not a copy);
    a reference to a key the other spec lacks stops with the file and the key."""
    from omegaconf import OmegaConf

    from mirage.report.spec import SPECS, load_spec

    eligible = OmegaConf.load(SPECS / "generic_default.yaml").eligible
    patterns = [t["rule_pattern"] for study in ("generic_default", "generic_splits")
                for t in load_spec(study) if t["name"].endswith("_default")]
    assert patterns == [eligible, eligible]
    with pytest.raises(SystemExit, match=r"generic_default\.yaml has no key 'nothing'"):
        OmegaConf.to_container(OmegaConf.create({"x": "${spec:generic_default,nothing}"}),
                               resolve=True)


def test_a_curve_of_one_budget_can_be_a_table_without_a_plot(tmp_path) -> None:
    from mirage.report.spec import build_table

    (tmp_path / "s").mkdir()
    pd.DataFrame([_raw("mirage", s, 0, 0.8, **{"distiller.budget_bytes": "0.02",
                                                "distilled_bytes": 100}) for s in range(3)]
                 + [_raw("random", s, s, 0.7, **{"distiller.budget_bytes": "100",
                                                  "distilled_bytes": 110}) for s in range(3)]
                 ).to_csv(tmp_path / "s" / "runs.csv", index=False)
    spec = {"name": "t", "kind": "rule_curve", "runs": ["s/runs.csv"], "plot": False}
    written = build_table(spec, tmp_path, results=tmp_path)
    assert (tmp_path / "t.md").exists() and not (tmp_path / "t.png").exists()
    assert all(path.suffix != ".png" for path in written)
    assert "| D | gcn |" in (tmp_path / "t.md").read_text()
    # a rule written in a YAML flow list splits at its commas into names no row has
    split_up = {**spec, "rules": ["budget 0.02", "ego samples"]}
    with pytest.raises(SystemExit, match=r"rules \['ego samples'\] are in none of its rows"):
        build_table(split_up, tmp_path, results=tmp_path)


def test_random_of_two_gnn_depths_pooled_is_refused_and_random_where_keeps_one(
        tmp_path) -> None:
    """Random runs with the default GNN and with Mirage's depth at the same bytes and seed: a
    table pooling both would meet one Mirage run twice and average the two; it must say so, and
    ``random_where`` picks which kind Mirage meets."""
    from mirage.report.spec import build_table

    (tmp_path / "s").mkdir()
    mirage = _raw("mirage", 0, 0, 0.8, **{"distiller.budget_bytes": "0.02",
                                          "distilled_bytes": 100, "model.num_layers": "2"})
    random = [_raw("random", 0, 0, auc, **{"distiller.budget_bytes": "100",
                                           "distilled_bytes": 110, "model.num_layers": depth})
              for auc, depth in ((0.5, "3"), (0.7, "2"))]
    rows = pd.DataFrame([mirage, *random])
    with pytest.raises(ValueError, match="several random runs meet"):
        paired.paired(rows)
    rows.to_csv(tmp_path / "s" / "runs.csv", index=False)
    spec = {"name": "t", "kind": "rule_vs_random", "runs": ["s/runs.csv"]}
    with pytest.raises(SystemExit, match="several random runs meet"):
        build_table(spec, tmp_path, results=tmp_path)
    build_table({**spec, "random_where": {"model.num_layers": 2}}, tmp_path, results=tmp_path)
    assert pd.read_csv(tmp_path / "t.csv")["test_auc_random"].tolist() == [0.7]


def test_a_curve_spec_can_keep_one_rule_across_its_budgets(tmp_path) -> None:
    from mirage.report.spec import build_table

    (tmp_path / "s").mkdir()
    rows = []
    for s in range(3):
        for budget, fill in (("3000", "prefix"), ("3000", "first_fit"), ("9000", "prefix")):
            size = int(budget) - (1 if fill == "prefix" else 2)
            rows += [_raw("mirage", s, 0, 0.8, **{"distiller.budget_bytes": budget,
                                                  "distiller.fill": fill,
                                                  "distilled_bytes": size}),
                     _raw("random", s, s, 0.7, **{"distiller.budget_bytes": str(size),
                                                  "distilled_bytes": size + 5})]
    pd.DataFrame(rows).to_csv(tmp_path / "s" / "runs.csv", index=False)
    spec = {"name": "c", "kind": "rule_curve", "runs": ["s/runs.csv"],
            "rule_pattern": r"budget \d+ B"}
    build_table(spec, tmp_path, results=tmp_path)
    table = pd.read_csv(tmp_path / "c.csv")
    assert sorted(table["rule"]) == ["budget 3000 B", "budget 9000 B"]


@pytest.mark.parametrize("key", ["rule_pattern", "rules"])
def test_a_rule_pattern_leaves_out_rules_of_any_rule_table(tmp_path, key: str) -> None:
    """``rule_pattern`` and ``rules`` filter the rules of every rule kind that takes them, not
    only curves or LODO tables: the LODO specs leave out the set's statistics with it."""
    from mirage.report.spec import build_table

    (tmp_path / "s").mkdir()
    rows = [_raw("random", 0, 0, 0.7, **{"distiller.budget_bytes": "99",
                                         "distilled_bytes": 104})]
    for fill in ("prefix", "first_fit"):
        rows.append(_raw("mirage", 0, 0, 0.8, **{"distiller.budget_bytes": "0.02",
                                                 "distiller.fill": fill, "distilled_bytes": 99}))
    pd.DataFrame(rows).to_csv(tmp_path / "s" / "runs.csv", index=False)
    keep = {"rule_pattern": "(?!.*first_fit).*", "rules": ["budget 0.02"]}[key]
    spec = {"name": "r", "kind": "rule_selection", "runs": ["s/runs.csv"], key: keep}
    build_table(spec, tmp_path, results=tmp_path)
    assert list(pd.read_csv(tmp_path / "r.csv")["rule"]) == ["budget 0.02"]
