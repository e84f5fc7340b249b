"""Faces at other scales: each labelled image shrunk by a factor and placed, at a reproducible
random position, on a canvas of its own size tiled with other images of the same set (clutter,
other unlabelled faces), its points moved alike. The filler is drawn first and the shrunk
image pasted over it, so nothing ever covers the labelled face. Rendered once per (data, scale,
seed) into the cache as an ordinary .pts folder, so score, sweep and tox read the same files."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facelm.core.errors import UserError
from facelm.eval.data.datasets import Dataset
from facelm.eval.data.rendered import moved, rendered, source_key

VERSION = 2  # bump when the rendering changes: cached folders are keyed by it
#: JPEG quality of the rendered canvases. Reading them is most of what a scale costs `score`
#: (a 454 px AFW canvas decodes in 2.4 ms at quality 95, 1.8 at 90; a 64 px model's invoke is
#: 0.4 ms), and 95 kept --scales 1,0.5,0.35 at x2.9-3.1 of one scale (target <= 3).
QUALITY = 90
GRID = 2     # filler: GRID x GRID other images


def check_scales(values) -> tuple[float, ...]:
    """--scales "1,0.5,0.35": every value in (0, 1]; a usage error names the bad one."""
    out = []
    for v in values:
        try:
            s = float(v)
        except ValueError:
            raise UserError(f"--scales {v!r}: not a number (expected values in (0, 1], e.g. 1,0.5,0.35)") from None
        if not 0 < s <= 1:
            raise UserError(f"--scales {v}: outside (0, 1] (1 is the faces as they are, 0.5 half their size)")
        out.append(s)
    return tuple(dict.fromkeys(out))


def scaled_dataset(ds: Dataset, scale: float, seed: int = 0, cache: Path | None = None,
                   label_clutter: bool = False) -> Dataset:
    """ds with every labelled image shrunk by `scale` into clutter (cached; the same every time).

    label_clutter: also label the faces of the clutter (the other images' own, resized into their
    tiles; those the shrunk image covers left out). For training: unlabelled, the clutter's faces,
    as small as the shrunk one, teach a model that a face of that size is background half the time
    (it then scores small faces too low to keep). The evaluator's sets leave them unlabelled."""
    from facelm.core.offline import CACHE

    if not ds.labelled:
        raise UserError(f"{ds.root}: --scales needs labelled faces (the points move with the face)")
    if scale == 1:
        return ds
    folder = Path(cache or CACHE) / "scales" / f"{ds.name}-{source_key(ds)}-v{VERSION}-seed{seed}-x{scale:g}{'-lc' * label_clutter}"

    def draw(i, s, img, rng):
        filler, clutter = _filler(ds, i, rng, img.shape[:2])
        canvas, faces, (x0, y0, x1, y1) = place(img, [np.asarray(f, np.float64) for f in s.faces], scale, rng, filler)
        if label_clutter:  # each clutter face the shrunk image leaves wholly in view
            faces += [f for f in clutter if f[:, 0].max() < x0 or f[:, 0].min() > x1 or f[:, 1].max() < y0
                      or f[:, 1].min() > y1]
        return canvas, faces, QUALITY, None

    return rendered(ds, folder, draw, seed, f"{ds.name}@{scale:g}")


def place(img: np.ndarray, faces: list, scale: float, rng, canvas: np.ndarray) -> tuple[np.ndarray, list, tuple]:
    """Paste img shrunk by scale onto canvas (same size) at a random position; the faces' points
    follow the resize's own mapping of pixel centres, (p + 0.5) * f - 0.5, then the offset.
    Returns the canvas, the moved faces and the pasted box (x0, y0, x1, y1)."""
    import cv2

    h, w = img.shape[:2]
    sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
    y0, x0 = int(rng.integers(0, h - sh + 1)), int(rng.integers(0, w - sw + 1))
    canvas = canvas.copy()
    canvas[y0:y0 + sh, x0:x0 + sw] = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
    return canvas, moved(faces, (sw / w, sh / h), (x0, y0)), (x0, y0, x0 + sw, y0 + sh)


def _filler(ds: Dataset, i: int, rng, hw: tuple[int, int]) -> tuple[np.ndarray, list]:
    """A canvas of size hw tiled GRID x GRID with other images of the set (grey where unreadable),
    and those images' labelled faces where their tiles put them."""
    import cv2

    from facelm.eval.data.images import read_image

    h, w = hw
    canvas, faces = np.full((h, w, 3), 114, np.uint8), []
    others = [j for j in range(len(ds.samples)) if j != i]
    picks = rng.choice(others, size=min(GRID * GRID, len(others)), replace=False) if others else []
    for k, j in enumerate(picks):
        other = read_image(ds.samples[int(j)].image)
        if other is None:
            continue
        r, c = divmod(k, GRID)
        y0, y1, x0, x1 = r * h // GRID, (r + 1) * h // GRID, c * w // GRID, (c + 1) * w // GRID
        canvas[y0:y1, x0:x1] = cv2.resize(other, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        oh, ow = other.shape[:2]
        faces += moved(ds.samples[int(j)].faces, ((x1 - x0) / ow, (y1 - y0) / oh), (x0, y0))
    return canvas, faces


_SIZES: dict = {}


def face_size_px(ds: Dataset, imgsz) -> float | None:
    """The median labelled face's size (sqrt of its points' box area) in the model's input
    pixels, after the letterbox: what a scale means for this input (once per set and size)."""
    key = (str(ds.root), tuple(imgsz), len(ds.samples))
    if key not in _SIZES:
        _SIZES[key] = _face_size_px(ds, imgsz)
    return _SIZES[key]


def _face_size_px(ds: Dataset, imgsz) -> float | None:
    from PIL import Image  # reads the header alone: the size without decoding the pixels

    sizes = []
    for s in ds.samples:
        try:
            with Image.open(s.image) as im:
                hw = im.size[::-1]
        except OSError:
            continue
        r = min(imgsz[0] / hw[0], imgsz[1] / hw[1])
        sizes += [float(np.sqrt(np.prod(np.ptp(f[:, :2], 0)))) * r for f in s.faces]
    return round(float(np.median(sizes)), 1) if sizes else None
