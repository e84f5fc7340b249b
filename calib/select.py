"""Representative calibration faces for INT8.

The evaluator's own preprocessing, then greedy k-center selection on cheap descriptors (a
small grey thumbnail, a colour histogram, and the landmark pose when labels exist), so the
chosen N cover the data's variety instead of being its first N files. Selection and arrays
are cached on disk, keyed by the sources and options."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facelm.core.errors import InputError, UserError
from facelm.core.files import atomic_output, fingerprint
from facelm.core.offline import CACHE
from facelm.eval.data.datasets import DatasetError, load_dataset
from facelm.eval.infer.preprocess import preprocess, read_image


@dataclass(frozen=True)
class CalibOptions:
    n: int = 100
    imgsz: tuple[int, int] = (320, 320)

    def __post_init__(self):
        if self.n < 1:
            raise InputError("the calibration set needs at least one image")


@dataclass(frozen=True)
class CalibSet:
    images: tuple[str, ...]   # chosen files, in selection order
    arrays: np.ndarray        # [n, 3, h, w] float32 in 0..1, the model's exact input
    available: int            # usable images in the source
    note: str                 # e.g. "asked for 100, the folder has 40: using 40"

    def nhwc(self) -> np.ndarray:
        return self.arrays.transpose(0, 2, 3, 1)


def descriptor(img_bgr: np.ndarray, faces: tuple) -> np.ndarray:
    """Cheap features: 8x8 grey thumbnail, 4x4x4 HSV histogram, and the first face's pose."""
    thumb = cv2.resize(cv2.cvtColor(img_bgr, cv2.COLOR_BGR2GRAY), (8, 8), interpolation=cv2.INTER_AREA)
    thumb = (thumb.astype(np.float32).ravel() - thumb.mean()) / (thumb.std() + 1e-6)
    hsv = cv2.cvtColor(img_bgr, cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [4, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    hist = np.sqrt(hist / max(hist.sum(), 1.0)) * 8
    pose = np.zeros(len(faces[0]) * 2 if faces else 0, np.float32)
    if faces:
        p = faces[0]
        pose = ((p - p.mean(0)) / (np.ptp(p, 0).max() + 1e-6)).ravel() * 4
    return np.concatenate([thumb / 2, hist, pose]).astype(np.float32)


def k_center(features: np.ndarray, n: int) -> list[int]:
    """Greedy farthest-point selection from the point nearest the mean: deterministic, and it
    covers every cluster before sampling any one densely."""
    first = int(np.argmin(((features - features.mean(0)) ** 2).sum(1)))
    chosen = [first]
    dist = ((features - features[first]) ** 2).sum(1)
    while len(chosen) < min(n, len(features)):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, ((features - features[nxt]) ** 2).sum(1))
    return chosen


def _cache_key(files: list[Path], opts: CalibOptions) -> str:
    options = json.dumps([opts.n, list(opts.imgsz), "v3"])
    return hashlib.sha256((options + fingerprint(files)).encode()).hexdigest()[:20]


def build_calibration(source: Path, opts: CalibOptions, cache_dir: Path | None = None) -> CalibSet:
    """Choose and preprocess the calibration faces from any folder the evaluator can read."""
    try:
        ds = load_dataset(source)
    except DatasetError as e:
        raise UserError(f"calibration: {e}") from None
    cache_dir = Path(cache_dir or CACHE / "calib")
    key = _cache_key([s.image for s in ds.samples], opts)
    hit = cache_dir / f"{key}.npz"
    if hit.exists():
        z = np.load(hit, allow_pickle=False)
        return CalibSet(tuple(z["images"].tolist()), z["arrays"], int(z["available"]), str(z["note"]))
    names, feats = _descriptors(ds, cache_dir)
    if not names:
        raise UserError(f"{source}: no readable images for calibration")
    order = k_center(feats, opts.n)
    arrays = [preprocess(read_image(names[i]), opts.imgsz)[0][0] for i in order]
    note = (f"asked for {opts.n}, {source} has {len(names)} usable images: using {len(names)}"
            if len(names) < opts.n else f"{len(order)} of {len(names)} images chosen by k-center")
    cs = CalibSet(tuple(names[i] for i in order), np.stack(arrays).astype(np.float32), len(names), note)
    with atomic_output(hit) as tmp:
        np.savez_compressed(tmp, images=np.array(cs.images), arrays=cs.arrays, available=cs.available, note=cs.note)
    return cs


def _descriptors(ds, cache_dir: Path) -> tuple[list[str], np.ndarray]:
    """Every readable image's descriptor, computed once per folder (decoding is most of a
    calibration set's cost and does not depend on N or the input size: a sweep over four
    sizes and an INT8 stage's larger set reuse it), on every core."""
    from concurrent.futures import ThreadPoolExecutor

    key = hashlib.sha256(("descriptors v1" + fingerprint([s.image for s in ds.samples])).encode()).hexdigest()[:20]
    hit = cache_dir / f"descriptors-{key}.npz"
    if hit.exists():
        z = np.load(hit, allow_pickle=False)
        return z["names"].tolist(), z["feats"]

    def one(s):
        img = read_image(s.image)  # OpenCV releases the GIL while it decodes
        return None if img is None else (str(s.image), descriptor(img, s.faces if ds.labelled else ()))

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        done = [r for r in pool.map(one, ds.samples) if r is not None]
    names, feats = [n for n, _ in done], [f for _, f in done]
    widths = {len(f) for f in feats}
    if len(widths) > 1:  # a few unlabelled images among labelled ones: drop the pose part
        w = min(widths)
        feats = [f[:w] for f in feats]
    feats = np.stack(feats) if feats else np.zeros((0, 0), np.float32)
    if names:
        with atomic_output(hit) as tmp:
            np.savez(tmp, names=np.array(names), feats=feats)
    return names, feats


def onnx2tf_sample(arrays: np.ndarray, n: int = 20, size: int = 128) -> np.ndarray:
    """The 20x128x128x3 array onnx2tf wants for its own checks, made from real faces
    (preprocessed NCHW model inputs, repeated when there are fewer than n)."""
    out = [cv2.resize(a.transpose(1, 2, 0), (size, size), interpolation=cv2.INTER_AREA) for a in arrays[:n]]
    while len(out) < n:
        out.append(out[len(out) % len(arrays)])
    return np.stack(out).astype(np.float32)


def describe_selection(cs: CalibSet, show: int = 20) -> str:
    """A short table of the chosen faces (selection order: the most different come first)."""
    from tabulate import tabulate

    rows = [[i + 1, Path(p).name, str(Path(p).parent)] for i, p in enumerate(cs.images[:show])]
    more = f"\n... and {len(cs.images) - show} more" if len(cs.images) > show else ""
    return f"{cs.note}\n" + tabulate(rows, headers=["#", "image", "folder"]) + more
