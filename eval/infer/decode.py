"""One decoder for every runtime: raw outputs -> faces in original-image pixels.

Three layouts: this project's split head (core.contract: boxes [1,N,4], scores [1,N,nc],
offsets [1,N,2K] from each anchor's grid point and visibility [1,N,K], everything normalised; the
anchors are added here, in float), its earlier form with absolute landmarks [1,N,K*D], and the
packed [1, 4+nc+K*D, N] tensor of ultralytics' own exports (pixels)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from facelm.core.contract import LAYOUT_E2E, LAYOUT_V1, ModelSpec
from facelm.eval.infer.preprocess import Letterbox
from facelm.core.errors import InputError


@dataclass(frozen=True)
class DecodeOptions:
    """The decoder's thresholds: the one place they are set (evaluation, compile's checks,
    predict and the submission's model.json all take these)."""
    conf: float = 0.25
    iou: float = 0.45
    max_det: int = 100
    #: Landmark voting: a kept face's points are the score-weighted mean of those of every
    #: candidate (above conf, same class) whose box overlaps the kept box by at least this IoU;
    #: 0 keeps the top anchor's points alone. Neighbouring anchors predict the same face; one
    #: anchor alone makes the points jump when a moving face changes which anchor wins, and snaps
    #: them to a full-integer file's output grid (face51-s on AFW, 5 moved copies per face: jitter
    #: fp32 1.15 -> 1.04 %, full integer 1.65 -> 1.17 %; NME 5.043 -> 5.027, 5.172 -> 5.028).
    vote: float = 0.7

    def __post_init__(self):
        if not (0 <= self.conf <= 1 and 0 <= self.iou <= 1 and 0 <= self.vote <= 1 and self.max_det > 0):
            raise InputError("conf, iou and vote must be in 0..1 and max_det positive")


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
    if len(arrs) == 1 and spec.layout == LAYOUT_E2E:
        return _end_to_end(arrs[0], spec)
    if len(arrs) == 1:
        p = arrs[0]
        c = 4 + spec.nc + k * d
        p = p.T if p.shape[0] == c and p.shape[1] != c else p
        if p.ndim != 2 or p.shape[1] != c:
            raise InputError(f"packed output of shape {arrs[0].shape} does not fit 4+{spec.nc}+{k}x{d} channels")
        scale4 = np.array([w, h, w, h], np.float32)
        kp = p[:, 4 + spec.nc:].reshape(-1, k, d).copy()
        kp[..., 0] /= w
        kp[..., 1] /= h
        return p[:, :4] / scale4, p[:, 4:4 + spec.nc], kp
    if spec.layout == LAYOUT_V1 or (d == 3 and len(arrs) == 3):
        return _split_v1(arrs, spec)
    return _split_v2(arrs, spec)


def _end_to_end(p: np.ndarray, spec: ModelSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows x1, y1, x2, y2, score, class, points (pixels) -> the standard arrays; the score goes
    to its class's column (the decoder's threshold and NMS then keep what the top-k kept)."""
    k, d = spec.kpt_shape
    h, w = spec.imgsz
    if p.ndim != 2 or p.shape[1] != 6 + k * d:
        raise InputError(f"end-to-end output of shape {p.shape} does not fit 6+{k}x{d} columns")
    boxes = np.stack([(p[:, 0] + p[:, 2]) / 2 / w, (p[:, 1] + p[:, 3]) / 2 / h, (p[:, 2] - p[:, 0]) / w,
                      (p[:, 3] - p[:, 1]) / h], 1)
    scores = np.zeros((len(p), spec.nc), np.float32)
    scores[np.arange(len(p)), np.clip(p[:, 5].astype(int), 0, spec.nc - 1)] = p[:, 4]
    kp = p[:, 6:].reshape(-1, k, d).copy()
    kp[..., 0] /= w
    kp[..., 1] /= h
    return boxes, scores, kp


def _by_width(arrs: list[np.ndarray], widths: dict[str, int]) -> dict[str, np.ndarray]:
    by = {a.shape[-1]: a for a in arrs}
    if len(arrs) != len(widths) or len(by) != len(arrs) or set(by) != set(widths.values()):
        raise InputError(f"outputs {[a.shape for a in arrs]} do not fit {', '.join(widths)} of widths "
                         f"{list(widths.values())}")
    return {name: by[w] for name, w in widths.items()}


def _split_v1(arrs, spec):
    k, d = spec.kpt_shape
    o = _by_width(arrs, {"boxes": 4, "scores": spec.nc, "landmarks": k * d})
    # Planar landmarks: x of every point, then y, then visibility.
    return o["boxes"], o["scores"], o["landmarks"].reshape(-1, d, k).transpose(0, 2, 1)


def _split_v2(arrs, spec):
    k, d = spec.kpt_shape
    widths = {"boxes": 4, "scores": spec.nc, "offsets": 2 * k, **({"visibility": k} if d == 3 else {})}
    o = _by_width(arrs, widths)
    ax, ay = grid_points(len(o["offsets"]), tuple(spec.imgsz))
    off = o["offsets"].reshape(-1, 2, k)
    parts = [off[:, 0] + ax[:, None], off[:, 1] + ay[:, None]] + ([o["visibility"]] if d == 3 else [])
    return o["boxes"], o["scores"], np.clip(np.stack(parts, 2), 0, 1)


@lru_cache(maxsize=16)
def grid_points(n: int, imgsz: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Grid points (column x stride, row x stride, as fractions of the input: the origin of
    YOLOv8's keypoint offsets) of the n anchors of a head, level by level with the stride
    doubling from 8 (P3..), or from 4 or 16 when that is what adds up to n."""
    xs, ys, _ = _tiling(n, imgsz)
    return xs, ys


def anchor_strides(n: int, imgsz: tuple[int, int]) -> np.ndarray:
    """Each of the n anchors' stride in pixels (its level's), tiled as grid_points tiles them."""
    return _tiling(n, imgsz)[2]


@lru_cache(maxsize=16)
def _tiling(n: int, imgsz: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h, w = imgsz
    for first in (8, 4, 16):
        xs, ys, sts, total, st = [], [], [], 0, first
        while total < n and h % st == 0 and w % st == 0:
            gy, gx = np.mgrid[0:h // st, 0:w // st].astype(np.float32)
            xs.append((gx * st / w).ravel())
            ys.append((gy * st / h).ravel())
            sts.append(np.full(gx.size, st, np.float32))
            total, st = total + gx.size, st * 2
        if total == n:
            return np.concatenate(xs), np.concatenate(ys), np.concatenate(sts)
    raise InputError(f"{n} anchors do not tile a {h}x{w} input with strides doubling from 4, 8 or 16")


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
    shifted = xywh + np.concatenate([off, off, 0 * off, 0 * off], 1)
    idx = cv2.dnn.NMSBoxes(shifted.tolist(), conf[keep].tolist(), opts.conf, opts.iou, top_k=opts.max_det)
    faces = []
    for i in np.asarray(idx).reshape(-1)[: opts.max_det]:
        j = keep[i]
        x1y1x2y2 = np.concatenate([xywh[i, :2], xywh[i, :2] + xywh[i, 2:]]).reshape(2, 2).astype(np.float64)
        kp = _voted(kpts[keep], conf[keep], shifted, i, opts.vote) if opts.vote else kpts[j].astype(np.float64)
        pts = kp[:, :2] * (w, h)
        vis = kp[:, 2].astype(np.float32) if kpts.shape[2] == 3 else np.ones(len(pts), np.float32)
        faces.append(Face(lb.to_original(x1y1x2y2).reshape(4), float(conf[j]), int(cls[j]), lb.to_original(pts), vis))
    return sorted(faces, key=lambda f: -f.score)


def _voted(kpts: np.ndarray, conf: np.ndarray, xywh: np.ndarray, i: int, min_iou: float) -> np.ndarray:
    """The score-weighted mean of the points of every candidate whose box overlaps box i by at
    least min_iou (box i's own among them)."""
    a, b = xywh[i], xywh
    iw = np.clip(np.minimum(a[0] + a[2], b[:, 0] + b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[1] + a[3], b[:, 1] + b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = iw * ih
    iou = inter / np.maximum(a[2] * a[3] + b[:, 2] * b[:, 3] - inter, 1e-9)
    near = iou >= min_iou
    near[i] = True
    wt = conf[near].astype(np.float64)
    return (kpts[near].astype(np.float64) * wt[:, None, None]).sum(0) / wt.sum()
