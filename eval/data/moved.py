"""A still face between video frames: each labelled image in COPIES copies, each moved by a
small similarity transform (a shift of up to SHIFT of the face's size on each axis, a zoom of up
to ZOOM about the faces' centre), in the conditions' working frame. Each copy's transform is kept
(extra.json) so predictions can be mapped back and their spread measured (eval.metrics.stability).
Rendered once per (data, copy, seed) into the cache."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facelm.core.errors import UserError
from facelm.eval.data.datasets import Dataset
from facelm.eval.data.rendered import rendered, source_key

VERSION = 1
COPIES = 5
SHIFT = 0.02  # of the face's size (a 150 px face: up to 3 px), each axis
ZOOM = 0.02   # +-
QUALITY = 85  # as eval.data.conditions.QUALITY


def moved_copies(ds: Dataset, copies: int = COPIES, seed: int = 0, cache: Path | None = None,
                 progress: bool = False) -> list[Dataset]:
    """The copies, each a Dataset whose samples' images carry their transform in
    transforms(copy): working frame -> copy, a 2x3 matrix per image stem."""
    from facelm.core.offline import CACHE
    from facelm.eval.data.conditions import working_frame

    if not ds.labelled:
        raise UserError(f"{ds.root}: --stability needs labelled faces (jitter is measured per labelled face)")

    def draw(i, s, img, rng):
        import cv2

        img, faces, size = working_frame(img, s.faces)
        z = 1 + rng.uniform(-ZOOM, ZOOM)
        t = rng.uniform(-SHIFT, SHIFT, 2) * size
        c = np.concatenate(faces).mean(0)
        m = np.array([[z, 0, (1 - z) * c[0] + t[0]], [0, z, (1 - z) * c[1] + t[1]]])
        out = cv2.warpAffine(img, m, img.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return out, [p @ m[:, :2].T + m[:, 2] for p in faces], QUALITY, m.round(6).tolist()

    root = Path(cache or CACHE) / "moved" / f"{ds.name}-{source_key(ds)}-v{VERSION}-seed{seed}"
    return [rendered(ds, root / f"copy{k}", draw, (seed, k), f"{ds.name}~{k}",
                     f"rendering moved copy {k + 1}/{copies}" if progress else None) for k in range(copies)]


def transforms(copy: Dataset) -> dict:
    """image path -> the 2x3 matrix that moved it (from the working frame)."""
    from facelm.eval.data.rendered import extras

    ex = extras(copy.root)
    return {str(s.image): np.asarray(ex[s.image.stem]) for s in copy.samples if s.image.stem in ex}


def origin(image) -> int:
    """The source sample's index of a rendered image (its name starts with it)."""
    return int(Path(image).stem.split("_", 1)[0])
