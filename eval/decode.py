"""One decoder for every runtime: raw outputs -> faces in original-image pixels.

Two layouts: this project's split head (boxes [1,N,4], scores [1,N,nc], landmarks [1,N,K*D]
planar: all x, all y, all visibility; everything normalised) and the packed [1, 4+nc+K*D, N] tensor of ultralytics' own exports (pixels)."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.contract import ModelSpec
from eval.preprocess import Letterbox


@dataclass(frozen=True)
class DecodeOptions:
    conf: float = 0.25
    iou: float = 0.45
    max_det: int = 100

    def __post_init__(self):
        if not (0 <= self.conf <= 1 and 0 <= self.iou <= 1 and self.max_det > 0):
            raise ValueError("conf and iou must be in 0..1 and max_det positive")


@dataclass(frozen=True)
class Face:
    box: np.ndarray     # x1, y1, x2, y2 (original pixels)
    score: float
    cls: int
    points: np.ndarray  # (K, 2) original pixels
    vis: np.ndarray     # (K,) visibility in 0..1 (ones when the model has none)


def standardise(outputs: list[np.ndarray], spec: ModelSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Any supported layout -> (boxes [N,4] cxcywh, scores [N,nc], kpts [N,K,D]), normalised to 0..1."""
    k, d = spec.kpt_shape
    h, w = spec.imgsz
    arrs = [np.asarray(o, np.float32).reshape(o.shape[-2:]) if o.ndim == 3 else np.asarray(o, np.float32) for o in outputs]
    if len(arrs) == 1:
        p = arrs[0]
        c = 4 + spec.nc + k * d
        p = p.T if p.shape[0] == c and p.shape[1] != c else p
        if p.ndim != 2 or p.shape[1] != c:
            raise ValueError(f"packed output of shape {arrs[0].shape} does not fit 4+{spec.nc}+{k}x{d} channels")
        scale4 = np.array([w, h, w, h], np.float32)
        kp = p[:, 4 + spec.nc:].reshape(-1, k, d).copy()
        kp[..., 0] /= w
        kp[..., 1] /= h
        return p[:, :4] / scale4, p[:, 4:4 + spec.nc], kp
    if len(arrs) != 3:
        raise ValueError(f"{len(arrs)} outputs: expected 1 (packed) or 3 (boxes, scores, landmarks)")
    by_width = {a.shape[-1]: a for a in arrs}
    if len(by_width) != 3 or 4 not in by_width or spec.nc not in by_width or k * d not in by_width:
        raise ValueError(f"outputs {[a.shape for a in arrs]} do not fit boxes/scores/landmarks of {k}x{d} points")
    # Planar landmarks: x of every point, then y, then visibility.
    return by_width[4], by_width[spec.nc], by_width[k * d].reshape(-1, d, k).transpose(0, 2, 1)


def decode(outputs: list[np.ndarray], spec: ModelSpec, lb: Letterbox, opts: DecodeOptions = DecodeOptions()) -> list[Face]:
    """Threshold, class-aware NMS (OpenCV), and map back to original-image pixels."""
    boxes, scores, kpts = standardise(outputs, spec)
    cls = scores.argmax(1)
    conf = scores[np.arange(len(scores)), cls]
    keep = np.flatnonzero(conf >= opts.conf)
    if keep.size == 0:
        return []
    h, w = spec.imgsz
    b = boxes[keep] * np.array([w, h, w, h], np.float32)
    xywh = np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 2], b[:, 3]], 1)
    # Offsetting boxes by class keeps NMS within a class, as ultralytics does.
    off = (cls[keep] * (max(h, w) * 4)).astype(np.float32)[:, None]
    idx = cv2.dnn.NMSBoxes((xywh + np.concatenate([off, off, 0 * off, 0 * off], 1)).tolist(),
                           conf[keep].tolist(), opts.conf, opts.iou, top_k=opts.max_det)
    faces = []
    for i in np.asarray(idx).reshape(-1)[: opts.max_det]:
        j = keep[i]
        x1y1x2y2 = np.concatenate([xywh[i, :2], xywh[i, :2] + xywh[i, 2:]]).reshape(2, 2).astype(np.float64)
        pts = kpts[j, :, :2].astype(np.float64) * (w, h)
        vis = kpts[j, :, 2] if kpts.shape[2] == 3 else np.ones(len(pts), np.float32)
        faces.append(Face(lb.to_original(x1y1x2y2).reshape(4), float(conf[j]), int(cls[j]), lb.to_original(pts), vis))
    return sorted(faces, key=lambda f: -f.score)
