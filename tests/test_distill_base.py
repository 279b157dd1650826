"""The Distiller seam: byte accounting, persistence, the cache key, the coresets."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

import pytest
import torch
from torch_geometric.data import Data

from mirage.data import FeatureSpec, TrainSplit
from mirage.distill.base import DistilledSet, Distiller, build_distiller, nbytes
from mirage.errors import ConfigError
from mirage.keys import artifact_key
from mirage.sources import build_once
from mirage.synthetic import make_graphs


def _random(gpc: object) -> Distiller:
    return build_distiller({"_target_": "baselines.coresets.Random", "name": "random", "gpc": gpc})


def _dataset(n: int = 60) -> TrainSplit:
    return TrainSplit("toy", make_graphs(n, 10, 3, seed=0), 2, FeatureSpec((3,)))


def test_nbytes_counts_trainer_tensors() -> None:
    g = Data(x=torch.zeros(5, 2, dtype=torch.long), edge_index=torch.zeros(2, 8, dtype=torch.long),
             y=torch.tensor([1]), pool_mask=torch.ones(5, dtype=torch.bool),
             name="ignored", extra=torch.zeros(100))
    # x 5*2*8 + edge_index 2*8*8 + y 8 + pool_mask 5*1; unknown keys are not counted
    assert nbytes([g]) == 80 + 128 + 8 + 5
    assert nbytes([g, g]) == 2 * (80 + 128 + 8 + 5) and nbytes([]) == 0


def test_save_load_round_trip(tmp_path: Path) -> None:
    samples = make_graphs(4, 6, 2, seed=1)
    samples[0].pool_mask = torch.tensor([True] + [False] * (samples[0].num_nodes - 1))
    ds = DistilledSet(samples, sampling="frequency", support=[3.0, 1.0, 2.0, 5.0], meta={"a": 1})
    ds.save(tmp_path / "s.pt")
    back = DistilledSet.load(tmp_path / "s.pt")
    assert back.sampling == "frequency" and back.support == [3.0, 1.0, 2.0, 5.0]
    assert back.meta == {"a": 1}
    # Counted by hand: x [n, 1], y [1], edge_index [2, e] int64; sample 0's pool_mask [n] bool.
    by_hand = sum(8 * (g.x.size(0) + 1 + 2 * g.edge_index.size(1)) for g in samples)
    assert back.nbytes() == by_hand + samples[0].x.size(0)
    assert [g.num_nodes for g in back.samples] == [g.x.size(0) for g in samples]
    for a, b in zip(samples, back.samples, strict=True):
        assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index)
        assert torch.equal(a.y, b.y)
    assert torch.equal(back.samples[0].pool_mask, samples[0].pool_mask)


def test_fingerprint_tells_sets_apart_by_what_training_reads(tmp_path: Path) -> None:
    """Equal after a save and load and blind to metadata; changed by one feature value, one
    root weight, the sample order or the support."""
    samples = make_graphs(3, 6, 2, seed=1)
    ds = DistilledSet(samples, meta={"a": 1})
    ds.save(tmp_path / "s.pt")
    back = DistilledSet.load(tmp_path / "s.pt")
    back.meta["a"] = 2
    assert back.fingerprint() == ds.fingerprint()
    changed = [g.clone() for g in samples]
    changed[2].x[0, 0] = 1 - changed[2].x[0, 0]
    weighted = [g.clone() for g in samples]
    weighted[0].pool_weight = torch.ones(weighted[0].num_nodes)
    others = [DistilledSet(changed), DistilledSet(weighted), DistilledSet(samples[::-1]),
              DistilledSet(samples, "frequency", [1.0, 2.0, 3.0])]
    assert len({ds.fingerprint(), *(o.fingerprint() for o in others)}) == 5


def _save_many(path: str, writer: int, times: int) -> None:
    ds = DistilledSet(make_graphs(30, 8, 2, seed=writer), meta={"writer": writer})
    for _ in range(times):
        ds.save(Path(path))


def _build_slowly(final: str, marker: str) -> None:
    def build(tmp: Path) -> None:
        tmp.mkdir()
        (tmp / "data").write_text(marker)
        time.sleep(0.5)  # both builders are mid-build at once

    build_once(Path(final), build)


@pytest.mark.slow
def test_concurrent_writers_of_one_artifact_leave_one_good_file(tmp_path: Path) -> None:
    """Two jobs distilling the same key at once: every load during and after sees a whole set."""
    path = tmp_path / "distilled" / "random-key.pt"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_save_many, args=(str(path), w, 15)) for w in range(3)]
    for p in procs:
        p.start()
    loads = 0
    while any(p.is_alive() for p in procs):
        if path.exists():
            back = DistilledSet.load(path)
            assert back.num_graphs == 30 and back.meta["writer"] in (0, 1, 2)
            loads += 1
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert DistilledSet.load(path).num_graphs == 30
    assert sorted(f.name for f in path.parent.iterdir()) == ["random-key.json", "random-key.pt"]


@pytest.mark.slow
def test_concurrent_builders_of_one_cache_folder(tmp_path: Path) -> None:
    final = tmp_path / "cache" / "DATA-123"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_build_slowly, args=(str(final), f"b{i}")) for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert (final / "data").read_text() in ("b0", "b1")
    assert [f.name for f in final.parent.iterdir()] == ["DATA-123"]  # no temporary left


def test_frequency_sampling_follows_support() -> None:
    samples = make_graphs(2, 6, 2, seed=1)
    ds = DistilledSet(samples, sampling="frequency", support=[99.0, 1.0])
    gen = torch.Generator().manual_seed(0)
    ys = [int(b.y.sum()) for _ in range(200) for b in ds.loader(2, gen)]
    assert sum(ys) < 30  # sample 1 (y=1) drawn with probability 1%


def test_random_fractional_budget_is_that_share_of_the_training_bytes() -> None:
    data = _dataset()
    spec = {"_target_": "baselines.coresets.Random", "name": "random"}
    share = build_distiller({**spec, "budget_bytes": 0.25}).distill(data, seed=0)
    exact = build_distiller({**spec, "budget_bytes": int(0.25 * nbytes(data.graphs))}).distill(
        data, seed=0)
    assert share.meta["train_indices"] == exact.meta["train_indices"]
    assert 0.25 * nbytes(data.graphs) <= share.nbytes() < 0.5 * nbytes(data.graphs)
    for bad in (1.0, 0.0, -3, "half"):
        with pytest.raises(ConfigError, match=r"distiller\.budget_bytes"):
            build_distiller({**spec, "budget_bytes": bad})


def test_random_keeps_gpc_per_class() -> None:
    data = _dataset()
    out = _random(7).distill(data, seed=0)
    ys = torch.cat([g.y for g in out.samples])
    assert torch.bincount(ys).tolist() == [7, 7]
    again = _random(7).distill(data, seed=0)
    assert out.meta["train_indices"] == again.meta["train_indices"]
    other = _random(7).distill(data, seed=1)
    assert out.meta["train_indices"] != other.meta["train_indices"]


@pytest.mark.parametrize("budget", [1, 900, 2500, 10**9])
def test_random_at_a_byte_budget_is_the_smallest_balanced_set_that_reaches_it(
        budget: int) -> None:
    data = _dataset()
    rnd = build_distiller({"_target_": "baselines.coresets.Random", "name": "random",
                           "budget_bytes": budget})
    out = rnd.distill(data, seed=0)
    total = out.nbytes()
    if budget >= nbytes(data.graphs):
        assert out.num_graphs == len(data.graphs)  # everything, and still short of the budget
        return
    assert total >= budget
    counts = torch.bincount(torch.cat([g.y for g in out.samples]), minlength=2).tolist()
    assert max(counts) - min(counts) <= 1  # the classes took turns
    assert min(counts) >= 1  # however small the budget, every class has a graph
    # Each class's graphs are the first ones of the order gpc mode draws from: at gpc = the
    # class's count, random picks the same graphs.
    for cls, n in enumerate(counts):
        if n == 0:
            continue
        same = _random(n).distill(data, seed=0)
        assert {i for i, g in zip(same.meta["train_indices"], same.samples, strict=True)
                if int(g.y) == cls} == {i for i in out.meta["train_indices"]
                                        if int(data.graphs[i].y) == cls}
    # Minimal: without the last graph added it would fall short, or miss a class.
    last = max(nbytes([g]) for g in out.samples)
    assert total - last < budget or out.num_graphs == 2


def test_full_is_the_training_split() -> None:
    data = _dataset()
    full = build_distiller({"_target_": "baselines.coresets.Full", "name": "full"})
    out = full.distill(data, seed=0)
    assert [id(g) for g in out.samples] == [id(g) for g in data.graphs]  # the graphs themselves
    # Counted by hand: x [n, 1] and y [1] int64, edge_index [2, e] int64.
    expected = sum(8 * (g.num_nodes + 1 + 2 * g.edge_index.size(1)) for g in data.graphs)
    assert out.nbytes() == expected


@pytest.mark.parametrize("bad", [0, -3, 2.5, "x", True])
def test_bad_budget_is_rejected(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"distiller\.gpc"):
        _random(bad)


def test_unknown_distiller_and_param() -> None:
    with pytest.raises(ConfigError, match=r"_target_='baselines\.nope\.Nope' cannot be imported"):
        build_distiller({"_target_": "baselines.nope.Nope", "name": "nope"})
    with pytest.raises(ConfigError, match="is not a Distiller"):
        build_distiller({"_target_": "mirage.models.GNN", "name": "gnn"})
    with pytest.raises(ConfigError, match=r"random.*bogus"):
        build_distiller({"_target_": "baselines.coresets.Random", "name": "random", "gpc": 1,
                         "bogus": 2})


def test_cache_key() -> None:
    ds_cfg, dist = {"name": "MUTAG", "loader": "tu"}, {"name": "random", "gpc": 10}
    key = artifact_key(ds_cfg, "split1", dist, 0)
    # Key order does not matter (a config composed in another order hits the same artifact).
    assert key == artifact_key({"loader": "tu", "name": "MUTAG"}, "split1",
                               {"gpc": 10, "name": "random"}, 0)
    assert key != artifact_key(ds_cfg, "split1", {"name": "random", "gpc": 11}, 0)
    assert key != artifact_key(ds_cfg, "split2", dist, 0)
    assert key != artifact_key(ds_cfg, "split1", dist, 1)
    assert key != artifact_key({"name": "NCI1", "loader": "tu"}, "split1", dist, 0)


def test_keys_added_later_keep_old_hashes_at_their_neutral_value(run_cfg) -> None:
    """A key added to a distiller at the value that reproduces the old behaviour leaves the
    config hash and cache key of every earlier configuration as they were; any other value
    changes both, and the CSV column is written either way."""
    from mirage.job import Job
    from mirage.keys import ADDED_LATER
    from mirage.validation import validate

    cfg = run_cfg("dataset=mutag", "distiller=mirage")
    plain = validate(cfg)
    job = Job.of(cfg, plain)
    old = {k: v for k, v in plain["distiller"].items() if k not in ADDED_LATER}
    assert {"budget_bytes", "cont_bins"} <= set(plain["distiller"]) & set(ADDED_LATER)
    assert artifact_key({}, "s", plain["distiller"], 0) == artifact_key({}, "s", old, 0)
    without = Job.of(cfg, {**plain, "distiller": old})
    assert job.base["config_hash"] == without.base["config_hash"]
    assert "distiller.budget_bytes" in job.hparams
    changed = {**plain["distiller"], "budget_bytes": 5000}
    assert artifact_key({}, "s", changed, 0) != artifact_key({}, "s", old, 0)
    assert Job.of(cfg, {**plain, "distiller": changed}).base["config_hash"] != \
        job.base["config_hash"]


def test_git_sha_marks_a_dirty_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows record which code made them: a commit, plus '+dirty' when tracked files differ."""
    import subprocess

    from mirage import provenance as pipeline

    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    tracked = repo / "pkg" / "code.py"
    tracked.write_text("x = 1\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    monkeypatch.setattr(pipeline, "__file__", str(tracked))
    clean = pipeline.git_sha()
    assert clean and "+" not in clean
    (repo / "pkg" / "untracked.py").write_text("")  # untracked files do not run as rows' code
    (repo / "results").mkdir()
    rows = repo / "results" / "runs.csv"
    rows.write_text("a\n")
    (repo / "NOTES.md").write_text("x\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "two"], check=True)
    clean = pipeline.git_sha()
    rows.write_text("a\n1\n")  # committed rows and prose growing are not code changes
    (repo / "NOTES.md").write_text("y\n")
    assert pipeline.git_sha() == clean
    tracked.write_text("x = 2\n")
    assert pipeline.git_sha() == f"{clean}+dirty"
