"""Jitter: how much a model's landmarks move while the face holds still. Each labelled face is
seen in several copies moved by small similarity transforms (eval.data.moved); the landmarks
found in each copy are mapped back through the copy's own transform, and a face's jitter is
their RMS deviation from their own mean position (over copies and points), as a percentage of
the normaliser (inter-ocular by default), as NME is. A face missed in any copy has no jitter
(the copies' misses are counted apart); the summary is the median over faces."""
from __future__ import annotations

import numpy as np

from facelm.eval.data.landmarks import normaliser


def face_jitters(source, copies: list, results: list, point_map: tuple, norm: str = "inter-ocular") -> list[dict]:
    """One record per labelled face of source: {"image", "face", "jitter" (percent or None),
    "missed" (copies without it), "copies"}. copies: the moved Datasets; results: an EvalResult each;
    point_map: (model indices, data indices, iBUG-68 ids) of the shared points."""
    from facelm.eval.data.moved import origin, transforms

    m_idx, d_idx, ids = point_map
    seen: dict = {}
    gts: dict = {}
    for copy, res in zip(copies, results):
        mats = transforms(copy)
        for s in copy.samples:
            img = str(s.image)
            if img not in res.matches or img not in mats:
                continue  # unreadable: the original's row already says so
            back = _inverse(mats[img])
            preds = res.predictions.get(img, [])
            for gi, pi, _ in res.matches[img]:
                k = (origin(img), gi)
                gts.setdefault(k, _apply(back, np.asarray(s.faces[gi])[:, :2]))
                seen.setdefault(k, []).append(None if pi is None else _apply(back, preds[pi].points[m_idx]))
    out = []
    for (i, gi), found in sorted(seen.items()):
        got = [p for p in found if p is not None]
        j = None
        if len(got) == len(copies) > 1:
            gt = gts[(i, gi)]
            d = normaliser({c: gt[d_idx][n] for n, c in enumerate(ids)}, norm, gt)
            pts = np.stack(got)
            j = float(np.sqrt(((pts - pts.mean(0)) ** 2).sum(-1).mean()) / d * 100)
        out.append({"image": str(source.samples[i].image), "face": gi, "jitter": None if j is None else round(j, 4),
                    "missed": len(found) - len(got), "copies": len(found)})
    return out


def summary(records: list[dict]) -> dict:
    """{"jitter": median percent over the faces found in every copy, "faces": how many,
    "unsteady": faces found in some copies and missed in others}."""
    v = [r["jitter"] for r in records if r["jitter"] is not None]
    return {"jitter": round(float(np.median(v)), 3) if v else None, "faces": len(v),
            "unsteady": sum(1 for r in records if 0 < r["missed"] < r["copies"])}


def _inverse(m: np.ndarray) -> np.ndarray:
    a = np.linalg.inv(np.asarray(m)[:, :2])
    return np.hstack([a, -a @ np.asarray(m)[:, 2:]])


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return np.asarray(pts, np.float64)[:, :2] @ m[:, :2].T + m[:, 2]
