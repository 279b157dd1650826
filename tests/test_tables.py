"""The report library (mirage.report) and its ad-hoc command line (experiments.analysis.tables)
on a small runs.csv written through the real sink (mirage.records); the committed tables are
what the committed rows regenerate."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from experiments.analysis.tables import main
from mirage.records import Row, append_rows, row_dict
from mirage.report import rows as report_rows
from mirage.report.published import PAPER_NUMBERS, lookup
from mirage.report.spec import sync_blocks
from mirage.report.tables import ablation, summarize


def load_runs(*paths: Path) -> pd.DataFrame:
    """Every row of ``paths`` (no selection), typed as the table kinds take them."""
    return report_rows.normalize(report_rows.read(list(paths)))

MIRAGE_DD_VAL = [0.50, 0.90, 0.60, 0.80, 0.70, 0.95]
MIRAGE_DD_TEST = [0.10, 0.70, 0.72, 0.74, 0.76, 0.78]


def _hp(distiller: str, pool: str = "sum", **extra: object) -> dict[str, object]:
    return {"distiller.name": distiller, **{f"distiller.{k}": v for k, v in extra.items()},
            "model.pool": pool, "train.epochs": 5}


def _ok(dataset: str, distiller: str, seed: int, val: float, test: float, **kw: object) -> Row:
    return Row(dataset, distiller, "gat", seed=seed, val_auc=val, test_auc=test, test_acc=test,
               distilled_graphs=4, distilled_bytes=448, compression_ratio=100.0,
               distill_time_s=0.5, train_time_s=float(seed), best_epoch=seed, cache_hit=seed > 0,
               **kw)


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """Random (sum / mean pooling), Mirage hops 1 and 2 (+ one failure) on DD, Mirage molbace."""
    path = tmp_path / "runs.csv"
    # Random first: the header has no distiller.hops yet, Mirage rows make it grow.
    append_rows(path, [row_dict(_ok("DD", "random", s, 0.5, t), _hp("random", gpc=10))
                       for s, t in enumerate([0.6, 0.7, 0.8])])
    append_rows(path, [row_dict(_ok("DD", "random", 0, 0.5, 0.55), _hp("random", "mean", gpc=10))])
    hops1 = _hp("mirage", hops=1, threshold=2)
    append_rows(path, [row_dict(_ok("DD", "mirage", s, v, t), hops1)
                       for s, (v, t) in enumerate(zip(MIRAGE_DD_VAL, MIRAGE_DD_TEST, strict=True))])
    hops2 = _hp("mirage", hops=2, threshold=2)
    append_rows(path, [row_dict(_ok("DD", "mirage", s, 0.7, t), hops2)
                       for s, t in enumerate([0.80, 0.82, 0.84])])
    append_rows(path, [row_dict(Row("DD", "mirage", "gat", status="failed",
                                    error="RuntimeError: boom"), hops2)])
    append_rows(path, [row_dict(_ok("ogbg-molbace", "mirage", 0, 0.7, 0.71),
                                _hp("mirage", hops=3, threshold=2))])
    return path


def _cell(table: pd.DataFrame, **where: str) -> pd.Series:
    mask = pd.Series(True, index=table.index)
    for col, value in where.items():
        mask &= table[col].astype(str) == value
    assert mask.sum() == 1, where
    return table[mask].iloc[0]


def test_summary_numbers(runs: Path) -> None:
    table = summarize(load_runs(runs))
    assert len(table) == 5  # hops 1 / hops 2 / pool sum / pool mean / molbace: nothing merged
    # Only the settings that vary within a (dataset, distiller, model) are shown.
    assert list(table.columns[:5]) == ["dataset", "distiller", "model", "model.pool",
                                       "distiller.hops"]

    h1 = _cell(table, dataset="DD", distiller="mirage", **{"distiller.hops": "1"})
    assert (h1["n"], h1["failed"]) == (6, 0)
    assert h1["test_auc_mean"] == pytest.approx(100 * sum(MIRAGE_DD_TEST) / 6)
    # Top-5 by val AUC drops seed 0 (val 0.50, test 0.10): tests 70, 72, 74, 76, 78.
    assert h1["top5_auc_mean"] == pytest.approx(74.0)
    assert h1["top5_auc_std"] == pytest.approx(math.sqrt(8.0))  # ddof 0, as np.std
    assert h1["paper"] == "76.08 ± 0.63 (paper)"
    assert h1["distill_time_s_median"] == 0.5 and h1["train_time_s_median"] == 2.5
    assert h1["best_epoch_median"] == 2.5
    assert (h1["distilled_graphs"], h1["distilled_bytes"]) == (4, 448)
    assert h1["compression_ratio"] == 100.0 and bool(h1["cache_hit"])

    h2 = _cell(table, dataset="DD", distiller="mirage", **{"distiller.hops": "2"})
    assert (h2["n"], h2["failed"]) == (3, 1)
    assert h2["test_auc_mean"] == pytest.approx(82.0)
    assert h2["test_acc_mean"] == pytest.approx(82.0)
    assert math.isnan(h2["top5_auc_mean"])  # fewer than 5 runs
    assert h2["last_error"] == "RuntimeError: boom"

    rsum = _cell(table, distiller="random", **{"model.pool": "sum"})
    assert rsum["n"] == 3 and rsum["distiller.hops"] == ""
    assert rsum["test_auc_mean"] == pytest.approx(70.0)
    assert rsum["test_auc_std"] == pytest.approx(math.sqrt(200 / 3))
    assert rsum["paper"] == "67.31 ± 12.00 (paper)"  # Random(sum) ...
    assert _cell(table, distiller="random", **{"model.pool": "mean"})["paper"] == ""  # not mean

    bace = _cell(table, dataset="ogbg-molbace")
    assert bace["paper"] == "70.77 (paper); 75.35 ± 1.66 (official-logs)"


def test_cli_writes_markdown_and_csv(runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "tables"
    assert main(["--runs", str(runs), "--out", str(out)]) == 0
    md = (out / "summary.md").read_text()
    # | dataset | distiller | model | model.pool | distiller.hops | n | failed | test AUC % | ...
    rows = {cells[4]: cells for line in md.splitlines()
            if line.startswith("| DD | mirage | gat |") and (cells := line.split(" | "))}
    assert sorted(rows) == ["1", "2"]
    assert rows["1"][5:10] == ["6", "0", "63.33 ± 23.99", "74.00 ± 2.83", "76.08 ± 0.63 (paper)"]
    assert rows["2"][5:9] == ["3", "1", "82.00 ± 1.63", "-"]  # blank top-5 prints as "-"
    assert "- DD / mirage / gat: 1 failed (last error: RuntimeError: boom)" in md
    csv = pd.read_csv(out / "summary.csv")
    assert len(csv) == 5 and csv["failed"].sum() == 1 and csv["n"].sum() == 14

    assert main(["--runs", str(runs), "--out", str(out), "--distiller", "random", "--model", "gat",
                 "--name", "random_only"]) == 0
    assert set(pd.read_csv(out / "random_only.csv")["distiller"]) == {"random"}

    assert main(["--runs", str(runs), "--out", str(out), "--where", "model.pool=mean",
                 "--name", "mean_only"]) == 0
    assert list(pd.read_csv(out / "mean_only.csv")["n"]) == [1]
    with pytest.raises(SystemExit, match=r"model\.nope"):
        main(["--runs", str(runs), "--out", str(out), "--where", "model.nope=1"])


def test_ablation_layout(runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "tables"
    assert main(["--runs", str(runs), "--out", str(out), "--distiller", "mirage",
                 "--ablation", "distiller.hops"]) == 0
    lines = (out / "ablation_distiller.hops.md").read_text().splitlines()
    header = next(line for line in lines if line.startswith("| dataset"))
    assert header == ("| dataset | distiller | model | distiller.hops=1 | distiller.hops=2 "
                      "| distiller.hops=3 |")
    assert ("| DD | mirage | gat | 63.33 ± 23.99 (val 74.17; n=6, 100x) "
            "| 82.00 ± 1.63 (val 70.00; n=3, 100x) | - |") in lines
    assert "| ogbg-molbace | mirage | gat | - | - | 71.00 ± 0.00 (val 70.00; n=1, 100x) |" in lines
    wide = pd.read_csv(out / "ablation_distiller.hops.csv")
    assert list(wide["dataset"]) == ["DD", "ogbg-molbace"]
    assert wide.loc[0, "2:n"] == 3 and wide.loc[0, "2:auc_mean"] == pytest.approx(82.0)

    # Without a distiller filter, random's missing hops is a value of its own, and its pool
    # setting (which varies) becomes part of the row key instead of being averaged over.
    table, values = ablation(load_runs(runs), "distiller.hops")
    assert values == ["1", "2", "3", ""]
    rnd = table[table["distiller"] == "random"]
    assert sorted(rnd["model.pool"]) == ["mean", "sum"]
    assert sorted(rnd[":n"]) == [1, 3]


def test_missing_hyperparameters_as_nan_do_not_drop_rows() -> None:
    df = pd.DataFrame({"dataset": ["D", "D", "D"], "distiller": ["mirage", "mirage", "random"],
                       "model": "gin", "status": "ok", "seed": [0, 1, 0],
                       "val_auc": 0.5, "test_auc": [0.6, 0.8, 0.7], "test_acc": 0.5,
                       "distiller.hops": [2, 2, float("nan")]})
    table = summarize(df)
    assert list(table["n"]) == [2, 1]
    assert list(table["test_auc_mean"]) == pytest.approx([70.0, 70.0])


def test_paper_numbers_are_the_documented_ones() -> None:
    assert len(PAPER_NUMBERS) == 16
    assert {p.source for p in PAPER_NUMBERS} == {"paper", "official-logs"}
    assert [p.label() for p in lookup("ogbg-molhiv", "mirage", "gin")] == [
        "71.06 ± 1.18 (official-logs)"]
    assert [p.auc for p in lookup("ogbg-molhiv", "full", "gcn")] == [75.93]
    assert lookup("DD", "random", "gcn", pool="mean") == []
    assert lookup("MUTAG", "mirage", "gin") == []


def test_rows_of_several_files_are_pooled(runs: Path, tmp_path: Path) -> None:
    # A second study whose header lacks distiller.hops: its rows group under hops ''.
    other = tmp_path / "other" / "runs.csv"
    append_rows(other, [row_dict(_ok("DD", "random", s, 0.5, 0.9), _hp("random", gpc=10))
                        for s in range(2)])
    pooled = load_runs(runs, other)
    assert len(pooled) == len(load_runs(runs)) + 2
    assert pd.api.types.is_float_dtype(pooled["test_auc"])
    out = tmp_path / "tables"
    assert main(["--runs", str(runs), str(other), "--out", str(out), "--distiller", "random"]) == 0
    cell = _cell(pd.read_csv(out / "summary.csv", dtype=str), **{"model.pool": "sum"})
    assert cell["n"] == "5"  # 3 rows from the first file + 2 from the second, same settings
    assert f"`{other}`" in (out / "summary.md").read_text()


def test_fill_gives_rows_that_predate_a_key_its_value(tmp_path: Path) -> None:
    # An old study without train.eval_at_init, a new one with it: --fill merges the False rows.
    old, new = tmp_path / "old" / "runs.csv", tmp_path / "new" / "runs.csv"
    append_rows(old, [row_dict(_ok("DD", "mirage", s, 0.7, 0.8), _hp("mirage")) for s in range(2)])
    for flag in (False, True):
        hp = {**_hp("mirage"), "train.eval_at_init": flag}
        append_rows(new, [row_dict(_ok("DD", "mirage", s, 0.7, 0.6), hp) for s in range(3)])
    out = tmp_path / "tables"
    assert main(["--runs", str(old), str(new), "--out", str(out), "--name", "raw"]) == 0
    raw = pd.read_csv(out / "raw.csv", dtype=str, keep_default_na=False)
    assert sorted(zip(raw["train.eval_at_init"], raw["n"], strict=True)) == [
        ("", "2"), ("False", "3"), ("True", "3")]
    assert main(["--runs", str(old), str(new), "--out", str(out), "--name", "filled",
                 "--fill", "train.eval_at_init=False"]) == 0
    filled = pd.read_csv(out / "filled.csv", dtype=str)
    assert sorted(zip(filled["train.eval_at_init"], filled["n"], strict=True)) == [
        ("False", "5"), ("True", "3")]
    with pytest.raises(SystemExit, match="--fill 'seed=1'"):
        main(["--runs", str(old), "--out", str(out), "--fill", "seed=1"])


def test_ablation_rows_ignore_settings_that_follow_the_ablated_one(tmp_path: Path) -> None:
    # Mirage ties model.num_layers to distiller.hops: one row, not one per depth.
    path = tmp_path / "runs.csv"
    for hops in (2, 3):
        hp = {**_hp("mirage", hops=hops), "model.num_layers": hops}
        append_rows(path, [row_dict(_ok("DD", "mirage", s, 0.7, 0.8), hp) for s in range(2)])
    table, values = ablation(load_runs(path), "distiller.hops")
    assert values == ["2", "3"] and len(table) == 1
    assert "model.num_layers" not in table.columns


def test_readme_blocks_are_filled_from_their_files(tmp_path: Path) -> None:
    table = tmp_path / "t.md"
    table.write_text("# t\n\nsome prose\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n<!-- table: {table} -->\n| old |\n<!-- /table -->\noutro\n")
    assert sync_blocks(readme, check=True) == [str(table)]
    assert "| old |" in readme.read_text()  # check changes nothing
    assert sync_blocks(readme, check=False) == [str(table)]
    assert readme.read_text() == (f"intro\n<!-- table: {table} -->\n| a | b |\n|---|---|\n"
                                  "| 1 | 2 |\n<!-- /table -->\noutro\n")
    assert sync_blocks(readme, check=True) == []
    readme.write_text(f"<!-- table: {tmp_path / 'missing.md'} -->\n<!-- /table -->\n")
    with pytest.raises(FileNotFoundError, match=r"missing\.md"):
        sync_blocks(readme, check=False)


def test_two_tables_of_one_file_stay_two_tables_in_the_readme(tmp_path: Path) -> None:
    """Prose between two tables is dropped, the blank line that keeps them apart is not:
    without it Markdown renders the second header as a row of the first table."""
    table = tmp_path / "t.md"
    table.write_text("| a |\n|---|\n| 1 |\n\nlegend\n| b |\n|---|\n| 2 |\n")
    readme = tmp_path / "README.md"
    readme.write_text(f"<!-- table: {table} -->\n<!-- /table -->\n")
    sync_blocks(readme, check=False)
    assert readme.read_text() == (f"<!-- table: {table} -->\n| a |\n|---|\n| 1 |\n\n"
                                  "| b |\n|---|\n| 2 |\n<!-- /table -->\n")


def test_top5_is_ranked_by_validation_never_by_test(tmp_path: Path) -> None:
    # Validation and test disagree completely: ranked by test, the top-5 would be seeds 0-4.
    path = tmp_path / "runs.csv"
    vals = [0.50 + 0.04 * s for s in range(10)]
    append_rows(path, [row_dict(_ok("DD", "mirage", s, v, 1.0 - v), _hp("mirage"))
                       for s, v in enumerate(vals)])
    cell = summarize(load_runs(path)).iloc[0]
    # Seeds 5-9 (val 0.70 .. 0.86) have test 0.30 .. 0.14.
    assert cell["top5_auc_mean"] == pytest.approx(22.0)
    assert cell["test_auc_mean"] == pytest.approx(32.0)


def test_calibrated_accuracy_column(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    append_rows(path, [row_dict(_ok("DD", "mirage", s, 0.7, 0.8, test_acc_cal=c), _hp("mirage"))
                       for s, c in enumerate([0.60, 0.70])])
    assert main(["--runs", str(path), "--out", str(tmp_path / "t"), "--name", "cal"]) == 0
    header, _, row = (tmp_path / "t" / "cal.md").read_text().splitlines()[4:7]
    cells = dict(zip(header.split(" | "), row.split(" | "), strict=True))
    assert cells["test acc %"] == "80.00 ± 0.00" and cells["test acc cal %"] == "65.00 ± 5.00"


def test_labelled_sources_compare_studies(tmp_path: Path) -> None:
    # Rows of an old study lack a column the new one records (dataset.*): --ignore pools them.
    old, new = tmp_path / "old" / "runs.csv", tmp_path / "new" / "runs.csv"
    append_rows(old, [row_dict(_ok("DD", "mirage", s, 0.7, 0.6), _hp("mirage")) for s in range(2)])
    append_rows(new, [row_dict(_ok("DD", "mirage", s, 0.7, 0.8),
                               {**_hp("mirage"), "dataset.split.file": "DD.json"})
                      for s in range(3)])
    out = tmp_path / "t"
    assert main(["--runs", f"before={old}", f"after={new}", "--out", str(out), "--ignore",
                 "dataset.", "--ablation", "source", "--name", "cmp"]) == 0
    wide = pd.read_csv(out / "cmp.csv")
    assert len(wide) == 1 and (wide.loc[0, "before:n"], wide.loc[0, "after:n"]) == (2, 3)
    assert wide.loc[0, "before:auc_mean"] == pytest.approx(60.0)
    assert wide.loc[0, "after:auc_mean"] == pytest.approx(80.0)


@pytest.mark.slow
def test_committed_tables_and_readme_blocks_are_what_the_committed_rows_regenerate() -> None:
    """Every study's report is rebuilt from its committed rows and compared with the committed
    tables, and every README block with its table (a stale or hand-edited number fails)."""
    from experiments.report import stale_files
    from mirage.report.spec import blocks_stale, studies

    assert stale_files(studies()) == [], "run: python -m experiments.report"
    assert blocks_stale() == [], "run: python -m experiments.report"


def test_benchmark_tables_are_what_their_committed_csv_give() -> None:
    """A benchmark writes its measurements (CSV) and its table (Markdown) at once; the table
    must be what the CSV renders (timings cannot be rerun in a test)."""
    import csv
    import functools

    from experiments.benchmarks import budget_fit, learned, mirage, scaling

    def typed(value: str) -> object:
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                pass
        return value

    results = Path(__file__).resolve().parents[1] / "results"
    renders = {"distill_cost/mirage_bench": mirage.markdown,
               "distill_cost/doscond_bench": functools.partial(learned.markdown, name="doscond"),
               "distill_cost/kidd_bench": functools.partial(learned.markdown, name="kidd"),
               "scaling/scaling": scaling.markdown, "budget_fit/mirage_budget": budget_fit.markdown}
    for stem, render in renders.items():
        with (results / f"{stem}.csv").open() as f:
            rows = [{k: typed(v) for k, v in r.items()} for r in csv.DictReader(f)]
        assert render(rows) == (results / f"{stem}.md").read_text(), stem


def test_a_rerun_measurement_counts_once(tmp_path: Path) -> None:
    """Tables keep the newest ok row of each (config, distill_seed, seed) and say how many they
    dropped; a failure that was later retried no longer counts."""
    path = tmp_path / "runs.csv"

    def row(seed: int, test: float, at: str, status: str = "ok", config: str = "c1") -> dict:
        r = _ok("DD", "random", seed, 0.5, test, config_hash=config, timestamp=at)
        r.status = status
        return row_dict(r, _hp("random", gpc=10))

    append_rows(path, [row(0, 0.60, "2026-01-01"), row(1, 0.70, "2026-01-01"),
                       row(1, 0.0, "2026-01-02", status="failed"),
                       row(0, 0.90, "2026-01-03"),  # seed 0 again, newer: it wins
                       row(2, 0.0, "2026-01-01", status="failed"),
                       row(2, 0.80, "2026-01-02"),  # the retry of seed 2
                       row(0, 0.10, "2026-01-04", config="c2")])  # other config: not a repeat
    out = tmp_path / "tables"
    assert main(["--runs", str(path), "--out", str(out)]) == 0
    md = (out / "summary.md").read_text()
    assert "3 repeated row(s) of an already measured (config, seed) dropped" in md
    table = pd.read_csv(out / "summary.csv")
    assert list(table["n"]) == [4] and list(table["failed"]) == [0]
    # seeds 0 (newest: 0.90), 1 (0.70), 2 (0.80) of c1 and seed 0 of c2 (0.10)
    assert table["test_auc_mean"].iloc[0] == pytest.approx(100 * (0.9 + 0.7 + 0.8 + 0.1) / 4)
