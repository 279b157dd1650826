"""A digest of a distilled set: every tensor of every sample, in order, plus the supports."""

from __future__ import annotations

import hashlib

from mirage.distill.base import SAMPLE_KEYS, DistilledSet

DATASETS = ("nci1", "dd", "ogbg_molbace")  # tuned Mirage settings (conf/tuned/mirage_<name>.yaml)


def digest(ds: DistilledSet) -> str:
    h = hashlib.sha256()
    for g in ds.samples:
        for key in SAMPLE_KEYS:
            t = g.get(key)
            if t is not None:
                h.update(key.encode())
                h.update(str(tuple(t.shape)).encode())
                h.update(t.contiguous().numpy().tobytes())
    h.update(repr(ds.support).encode())
    return h.hexdigest()
