"""Turn labelled face folders into an ultralytics YOLO-pose dataset.

Images are linked, never copied (the source data may carry a licence that forbids copies);
labels are written as `cls cx cy w h (x y v)*K`, normalised, with the face box taken from the
landmarks plus a margin, and the data YAML carries flip_idx so horizontal flips stay correct."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from facelm.eval.data.datasets import Dataset, load_dataset
from facelm.eval.data.landmarks import canonical_indices, flip_indices
from facelm.core.errors import InputError

BOX_MARGIN = 0.10  # fraction of the landmarks' width/height added on each side


def face_box(points: np.ndarray, w: int, h: int, margin: float = BOX_MARGIN) -> np.ndarray:
    """Box (x1, y1, x2, y2) around the landmarks, widened by margin and clipped to the image."""
    lo, hi = points.min(0), points.max(0)
    pad = (hi - lo) * margin
    lo, hi = np.maximum(lo - pad, 0), np.minimum(hi + pad, [w, h])
    return np.concatenate([lo, hi])


def select_points(points68: np.ndarray, data_points: int, n_kpts: int) -> np.ndarray:
    """Pick the model's keypoints (iBUG-68 order or its 51-point subset) out of a data face."""
    data_ids = canonical_indices(data_points)
    want = canonical_indices(n_kpts)
    missing = [i for i in want if i not in data_ids]
    if missing:
        raise InputError(f"the data has {data_points} points; a {n_kpts}-point model needs points it lacks")
    return points68[[data_ids.index(i) for i in want]]


def label_line(points: np.ndarray, box_points: np.ndarray, w: int, h: int) -> str:
    """One YOLO-pose label row; points outside the image are marked invisible (0 0 0)."""
    x1, y1, x2, y2 = face_box(box_points, w, h)
    vals = [0, (x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h]
    for x, y in points:
        inside = 0 <= x < w and 0 <= y < h
        vals += [x / w, y / h, 2] if inside else [0.0, 0.0, 0]
    return " ".join(f"{v:.6f}" if isinstance(v, float) else str(v) for v in vals)


def write_split(ds: Dataset, out: Path, split: str, n_kpts: int, prefix: str = "") -> int:
    """Link a dataset's images under out/images/split (names prefixed) and write labels;
    returns faces written."""
    import cv2

    img_dir, lbl_dir = out / "images" / split, out / "labels" / split
    img_dir.mkdir(parents=True, exist_ok=True)
    lbl_dir.mkdir(parents=True, exist_ok=True)
    n = 0
    for s in ds.samples:
        im = cv2.imread(str(s.image))
        if im is None:
            continue
        h, w = im.shape[:2]
        rows = [label_line(select_points(f, ds.n_points, n_kpts), f, w, h) for f in s.faces]
        link = img_dir / f"{prefix}{s.image.name}"
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(s.image.resolve(), link)
        (lbl_dir / f"{prefix}{s.image.with_suffix('.txt').name}").write_text("\n".join(rows) + "\n")
        n += len(rows)
    return n


def build_yolo_dataset(train_dir: Path, val_dir: Path, out: Path, n_kpts: int = 51, zoom_out: tuple = (),
                       teacher: tuple | None = None, conditions: tuple = ()) -> Path:
    """Write a YOLO-pose dataset from two labelled folders; returns the data YAML's path.
    zoom_out: for each factor, every training face again, shrunk by it into a canvas of other
    training images (eval.data.scales, the renderer `score --scales` measures with; seeded apart), the
    faces of those other images labelled too. conditions: (name, severity) pairs: every training
    face once more, each image under one of them drawn at random (eval.data.conditions, the
    renderer `score --conditions` measures with; seeded apart). teacher: (checkpoint, weight):
    the training faces' points softened towards its landmarks first (train.teacher; its report in
    out/teacher.json)."""
    import yaml

    from facelm.core.files import write_json_atomic
    from facelm.eval.data.conditions import mixed_dataset
    from facelm.eval.data.scales import scaled_dataset
    from facelm.train.teacher import TEACHER, soft_targets

    counts = {}
    for split, src in (("train", train_dir), ("val", val_dir)):
        ds = load_dataset(src)
        if not ds.labelled:
            raise InputError(f"{src}: no landmark annotations found")
        if split == "train" and teacher:
            ds, report = soft_targets(ds, teacher[0], n_kpts, teacher[1])
            write_json_atomic(out / TEACHER, report)
        counts[split] = write_split(ds, out, split, n_kpts)
        for i, s in enumerate(zoom_out if split == "train" else ()):
            counts[split] += write_split(scaled_dataset(ds, s, seed=1000 + i, label_clutter=True), out, split, n_kpts, f"zoom{s:g}_")
        if conditions and split == "train":
            counts[split] += write_split(mixed_dataset(ds, conditions, seed=2000), out, split, n_kpts, "cond_")
    cfg = {
        "path": str(out.resolve()), "train": "images/train", "val": "images/val",
        "kpt_shape": [n_kpts, 3], "flip_idx": list(flip_indices(n_kpts)), "names": {0: "face"},
    }
    yaml_path = out / "data.yaml"
    yaml_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return yaml_path
