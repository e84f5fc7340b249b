"""The report's plots (matplotlib, written as PNG beside the page)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def short(artifact: str, runtime: str) -> str:
    return f"{Path(artifact).name} [{runtime}]"


def ced_curves(faces: list[dict], rows) -> dict:
    """(artifact, runtime) -> sorted per-face NME (percent), misses as inf: the cumulative error
    distribution of every scored row, from faces.csv."""
    out = {}
    for r in rows:
        v = [np.inf if f["missed"] else f["nme"] for f in faces if f["artifact"] == r.artifact and f["runtime"] == r.runtime]
        if v:
            out[(r.artifact, r.runtime)] = np.sort(np.asarray(v, float))
    return out


def ced_plot(curves: dict, png: Path, limit: float = 10.0) -> Path:
    """Every row's CED on one plot: fraction of faces with NME at most x (misses never count)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.6), dpi=100)
    xs = np.linspace(0, limit, 201)
    styles = ["-", "--", ":", "-."]
    for i, ((art, rt), v) in enumerate(curves.items()):
        ax.plot(xs, [(v <= x).mean() for x in xs], styles[(i // 10) % 4], lw=1.4, label=short(art, rt))
    ax.set_xlim(0, limit)
    ax.set_ylim(0, 1)
    ax.set_xlabel("NME % (inter-ocular unless the table says otherwise)")
    ax.set_ylabel("fraction of faces")
    ax.set_title("Cumulative error distribution (a missed face never counts)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right", ncol=2 if len(curves) > 8 else 1)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png


def region_table(rows) -> tuple[list[str], list[dict]]:
    """Regions in a stable order and, per row with regions, each NME with its bar width (0-100,
    against the largest value shown)."""
    regions = []
    for r in rows:
        regions += [k for k in r.regions if k not in regions]
    top = max((v for r in rows for v in r.regions.values()), default=1.0) or 1.0
    out = [{"label": short(r.artifact, r.runtime),
            "cells": [(r.regions.get(k), 100 * r.regions[k] / top if k in r.regions else 0) for k in regions]}
           for r in rows if r.regions]
    return regions, out


def condition_plot(rows, png: Path) -> Path | None:
    """NME of every row on the faces as they are and under each condition, grouped by condition
    (score --conditions); a hatched bar where faces were missed under it."""
    keys = list(dict.fromkeys(k for r in rows for k in r.conditions))
    rows = [r for r in rows if r.conditions and r.nme is not None]
    if not keys or not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(8, 1.1 * (len(keys) + 1)), 4.6), dpi=100)
    width = 0.8 / len(rows)
    for i, r in enumerate(rows):
        vals = [r.nme] + [(r.conditions.get(k) or {}).get("nme") or 0 for k in keys]
        missed = [bool(r.miss)] + [bool((r.conditions.get(k) or {}).get("miss")) for k in keys]
        bars = ax.bar(np.arange(len(vals)) + (i - (len(rows) - 1) / 2) * width, vals, width, label=short(r.artifact, r.runtime))
        for b, m in zip(bars, missed):
            b.set_hatch("//" if m else "")
    ax.set_xticks(range(len(keys) + 1), ["as they are", *keys], rotation=20)
    ax.set_ylabel("NME %")
    ax.set_title("NME under each condition (hatched: some faces missed; misses in the table)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", ncol=2 if len(rows) > 6 else 1)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png
