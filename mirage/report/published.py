"""Published and official-code Mirage numbers, as data (source: shared/docs/algorithms.md §1.8).

ROC-AUC in percent. Names are the ones the harness writes into ``runs.csv`` (``dataset``,
``distiller``, ``model``). Two sources:

- ``paper``: the Mirage paper's main table, known only second-hand ([2nd] in the doc); unverified.
- ``official-logs``: the run logs committed in the official repository ([M-logs]): mean ± std of
  the top-5 of 10 runs (by val AUC), 30 epochs. Where the doc lists several values for one cell,
  the first is kept.

Only numbers the doc states are here; nothing is filled in. The paper's protocol is the same
top-5-of-10 selection, so compare these with the ``top-5`` columns of the reports.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperNumber:
    """One reported cell: test ROC-AUC (%) of ``distiller`` + ``model`` on ``dataset``."""

    dataset: str
    distiller: str
    model: str
    auc: float
    std: float | None
    source: str  # "paper" | "official-logs"
    pool: str | None = None  # model.pool the number assumes (Random(sum)); None = any
    note: str = ""

    def label(self) -> str:
        """``'76.08 ± 0.63 (paper)'``: the number with its source tag."""
        std = f" ± {self.std:.2f}" if self.std is not None else ""
        return f"{self.auc:.2f}{std} ({self.source})"


_DUP = "an uncaptioned duplicate table in the source shows {}"

PAPER_NUMBERS: tuple[PaperNumber, ...] = (
    # Mirage, main table [2nd].
    PaperNumber("DD", "mirage", "gat", 76.08, 0.63, "paper", note=_DUP.format("72.96 ± 2.78")),
    PaperNumber("DD", "mirage", "gcn", 74.84, None, "paper"),
    PaperNumber("NCI1", "mirage", "gcn", 68.20, None, "paper"),
    PaperNumber("ogbg-molbace", "mirage", "gat", 70.77, None, "paper", note=_DUP.format("72.71")),
    # Full training split, ogbg-molhiv [2nd].
    PaperNumber("ogbg-molhiv", "full", "gat", 73.71, None, "paper",
                note=_DUP.format("66.34 / 64.78 / 65.13 (GAT / GCN / GIN)")),
    PaperNumber("ogbg-molhiv", "full", "gcn", 75.93, None, "paper"),
    PaperNumber("ogbg-molhiv", "full", "gin", 78.66, None, "paper"),
    # Random(sum) [2nd]: the random coreset with sum pooling.
    PaperNumber("DD", "random", "gat", 67.31, 12.0, "paper", pool="sum"),
    PaperNumber("DD", "random", "gcn", 58.02, None, "paper", pool="sum"),
    PaperNumber("NCI1", "random", "gcn", 60.72, None, "paper", pool="sum"),
    PaperNumber("ogbg-molbace", "random", "gat", 73.75, None, "paper", pool="sum"),
    # Mirage, official code's own logs [M-logs] (top-5 of 10 runs, 30 epochs).
    PaperNumber("ogbg-molhiv", "mirage", "gin", 71.06, 1.18, "official-logs"),
    PaperNumber("ogbg-molhiv", "mirage", "gat", 71.68, 0.92, "official-logs"),
    PaperNumber("ogbg-molbace", "mirage", "gcn", 70.30, 4.76, "official-logs",
                note="a second log shows 68.61 ± 2.46"),
    PaperNumber("ogbg-molbace", "mirage", "gin", 74.29, 2.37, "official-logs",
                note="a second log shows 68.29 ± 1.15"),
    PaperNumber("ogbg-molbace", "mirage", "gat", 75.35, 1.66, "official-logs",
                note="a second log shows 72.30 ± 2.94"),
)


def lookup(dataset: str, distiller: str, model: str, pool: str | None = None) -> list[PaperNumber]:
    """The reported numbers for one cell (``paper`` before ``official-logs``), maybe none.

    ``pool`` is the run's ``model.pool``; an entry tied to a pooling (Random(sum)) only matches
    runs with that pooling, or runs whose pooling is unknown (``None`` or ``''``).
    """
    return [p for p in PAPER_NUMBERS
            if (p.dataset, p.distiller, p.model) == (dataset, distiller, model)
            and (p.pool is None or not pool or p.pool == pool)]
