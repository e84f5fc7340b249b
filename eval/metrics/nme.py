"""Landmark metrics: NME (inter-ocular, inter-pupil, bounding box), failure rate and AUC at
0.08/0.10, per-region NME, miss rate, and matching of ground-truth faces to detections."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facelm.eval.data.landmarks import REGIONS, normaliser

THRESHOLDS = (0.08, 0.10)


def face_nme(pred: np.ndarray, gt: np.ndarray, ids68: list[int], norm: str, gt_all: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean point-to-point error over the shared points divided by the normaliser.
    Returns (nme as a fraction, per-point errors as fractions)."""
    gt68 = {i: gt[k] for k, i in enumerate(ids68)}
    d = normaliser(gt68, norm, gt_all)
    err = np.linalg.norm(pred - gt, axis=1) / d
    return float(err.mean()), err


def box_of(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points.min(0), points.max(0)])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    lt, rb = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = np.prod(np.clip(rb - lt, 0, None))
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter
    return float(inter / union) if union > 0 else 0.0


def match(gt_faces: list[np.ndarray], pred_faces: list[np.ndarray], min_iou: float = 0.3) -> list[int | None]:
    """Greedy one-to-one matching by IoU of the landmark boxes (on the shared points);
    returns for each ground-truth face the index of its detection, or None (a miss)."""
    pairs = sorted(((iou(box_of(g), box_of(p)), gi, pi) for gi, g in enumerate(gt_faces)
                    for pi, p in enumerate(pred_faces)), reverse=True)
    out: list[int | None] = [None] * len(gt_faces)
    used = set()
    for v, gi, pi in pairs:
        if v < min_iou:
            break
        if out[gi] is None and pi not in used:
            out[gi] = pi
            used.add(pi)
    return out


def auc(nmes: np.ndarray, threshold: float, steps: int = 1000) -> float:
    """Area under the cumulative error curve up to threshold, normalised to 0..1 (misses are inf)."""
    xs = np.linspace(0, threshold, steps)
    ced = [(nmes <= x).mean() for x in xs]
    return float(_trapezoid(ced, xs) / threshold)


#: numpy 2 renamed trapz to trapezoid (and removed trapz); numpy 1.26, which the lock pins for
#: TensorFlow, has only trapz.
_trapezoid = getattr(np, "trapezoid", None) or np.trapz


@dataclass(frozen=True)
class Summary:
    """Aggregates over all ground-truth faces (misses count as failures, never dropped)."""
    n_faces: int
    n_missed: int
    nme: float          # percent, over matched faces
    fr: dict            # threshold -> percent
    auc: dict           # threshold -> 0..1
    regions: dict       # region -> percent NME


def summarise(nmes: list[float], point_errs: list[np.ndarray], ids68: list[int]) -> Summary:
    """nmes: one per GT face (inf for a miss); point_errs: per-point errors of matched faces."""
    arr = np.asarray(nmes, np.float64)
    hit = np.isfinite(arr)
    regions = {}
    if point_errs:
        pe = np.stack(point_errs)
        for name, idx in REGIONS.items():
            cols = [k for k, i in enumerate(ids68) if i in idx]
            if cols:
                regions[name] = round(float(pe[:, cols].mean() * 100), 3)
    return Summary(
        n_faces=len(arr), n_missed=int((~hit).sum()),
        nme=round(float(arr[hit].mean() * 100), 3) if hit.any() else float("nan"),
        fr={t: round(float((arr > t).mean() * 100), 2) if len(arr) else float("nan") for t in THRESHOLDS},
        auc={t: round(auc(arr, t), 4) if len(arr) else float("nan") for t in THRESHOLDS},
        regions=regions,
    )
