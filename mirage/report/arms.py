"""How a study's arms look in its tables and plots, read from their configs
(``conf/arm/<arm>.yaml``, ``study:`` node), so that report code names no distiller: ``label``
(default: the arm's name), ``color`` (default: a fixed palette colour per distiller), and
``versus``, the arm its equal-size difference is taken against (default: the arm named by
``match_bytes``, if any)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

ARMS = Path(__file__).resolve().parents[2] / "conf" / "arm"
PALETTE = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown",
           "tab:pink", "tab:gray", "tab:olive", "tab:cyan")


@dataclass(frozen=True)
class Look:
    label: str
    color: str
    versus: str | None


def default_color(family: str) -> str:
    """A palette colour fixed by the distiller's name (stable across studies and runs)."""
    return PALETTE[int(hashlib.sha256(family.encode()).hexdigest(), 16) % len(PALETTE)]


def look(arm: str, family: str, folder: Path = ARMS) -> Look:
    """The presentation of ``arm`` whose rows come from distiller ``family``."""
    path = folder / f"{arm}.yaml"
    study = OmegaConf.select(OmegaConf.load(path), "study", default=None) if path.is_file() \
        else None
    study = study or {}
    match = study.get("match_bytes")
    versus = study.get("versus") or (str(match) if match and ":" not in str(match) else None)
    return Look(str(study.get("label") or arm), str(study.get("color") or default_color(family)),
                versus)


def looks(pairs: Iterable[tuple[str, str]], folder: Path = ARMS) -> dict[str, Look]:
    """``{arm: Look}`` for each (arm, family) pair."""
    return {arm: look(arm, family, folder) for arm, family in pairs}
