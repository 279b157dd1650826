"""Digests of a loaded dataset (every graph of every split); a distilled set's is
:meth:`mirage.distill.base.DistilledSet.fingerprint`."""

from __future__ import annotations

import hashlib

import torch

from mirage.data import GraphDataset

DATASETS = ("nci1", "dd", "ogbg_molbace")  # tuned Mirage settings (conf/tuned/mirage_<name>.yaml)


# Loader cases (overrides, data under the shared root or the synthetic one) whose data must stay
# byte-identical to what the per-graph TU loader made (tests/fixtures/tu_data.json).
TU_CASES = {
    "mutag": ["dataset=mutag"], "nci1": ["dataset=nci1"], "dd": ["dataset=dd"],
    "imdb_b": ["dataset=imdb_b"],
    "dd_keep": ["dataset=dd",
                "dataset.keep_node_labels=[1,2,3,4,6,7,8,10,11,12,14,15,16,17,19,20]"],
    "syn_cont": ["dataset=tu", "dataset.name=SYN-CONT"],
    "syn_cont_noattr": ["dataset=tu", "dataset.name=SYN-CONT", "dataset.use_node_attr=false"],
    "syn_motif_deg": ["dataset=tu", "dataset.name=SYN-MOTIF3", "dataset.degree_features=true"],
}


def data_digest(data: GraphDataset) -> str:
    """Every key, dtype, shape and byte of every graph of train, val and test, and the spec."""
    h = hashlib.sha256()
    for part in (data.train, data.val, data.test):
        for g in part:
            for key in sorted(g.keys()):
                value = g[key]
                h.update(key.encode())
                if torch.is_tensor(value):
                    h.update(f"{value.dtype}{tuple(value.shape)}".encode())
                    h.update(value.contiguous().numpy().tobytes())
                else:
                    h.update(repr(value).encode())
    h.update(repr(data.features).encode())
    return h.hexdigest()[:16]
