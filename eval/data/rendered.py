"""Face sets rendered from another set (faces shrunk into clutter, faces under a condition, faces
moved between frames): each written once into the cache as an ordinary .pts folder, keyed by
the source images, the renderer's version and its parameters, so score, sweep, tox and the
report read the same files. A render writes a folder of its own and renames it into place
(two runs may render the same set; a killed one leaves nothing that looks whole)."""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np

from facelm.eval.data.datasets import Dataset, read_pts_folder

#: A render's own folder untouched this long (seconds) was left by a killed run: the next render removes it.
STALE_S = 3600
#: JPEG quality of rendered images unless the renderer says otherwise. Reading them is most of
#: what an extra set costs `score` (a 454 px AFW canvas decodes in 2.4 ms at quality 95, 1.8 at 90).
QUALITY = 90

#: draw(i, sample, image, rng) -> (image, faces, quality, extra) or None to leave the sample out:
#: faces are (P, 2) arrays in the new image's pixels, quality its JPEG quality (None: QUALITY),
#: extra a JSON-able value kept per image in extra.json (e.g. the transform applied).
Draw = Callable


#: source_key's results while a same_sources() block runs (None outside one).
_KEYS: dict | None = None


def source_key(ds: Dataset) -> str:
    """What a rendered folder is keyed by: the source images (path, size, mtime)."""
    from facelm.core.files import fingerprint

    if _KEYS is not None and id(ds) in _KEYS:
        return _KEYS[id(ds)][1]
    key = fingerprint([s.image for s in ds.samples])[:12]
    if _KEYS is not None:
        _KEYS[id(ds)] = (ds, key)  # ds held, so its id stays its own
    return key


@contextmanager
def same_sources():
    """Within the block each set's source images are fingerprinted once (a run that renders
    eight conditions of one set stats its images once, not eight times)."""
    global _KEYS
    outer, _KEYS = _KEYS, ({} if _KEYS is None else _KEYS)
    try:
        yield
    finally:
        _KEYS = outer


def rendered(ds: Dataset, folder: Path, draw: Draw, seed, name: str, desc: str | None = None) -> Dataset:
    """The set `draw` makes of ds, from the cache (rendered first when absent); named `name`.
    seed: the random stream of every sample is default_rng([*seed, sample index])."""
    if not (folder / ".done").is_file():
        _render(ds, folder, draw, tuple(np.atleast_1d(seed).tolist()), desc)
    out = _read_index(folder) or read_pts_folder(folder, origin=0)
    out.name = name
    return out


def _read_index(folder: Path) -> Dataset | None:
    """The set from its faces.json (what the .pts files say, in one file: reading 337 .pts files
    took 0.11 s a set, most of what a small model's pass over a set costs beside its images)."""
    from facelm.eval.data.datasets import Sample

    f = folder / "faces.json"
    if not f.is_file():
        return None
    index = json.loads(f.read_text())
    samples = [Sample(folder / f"{stem}.jpg", tuple(np.asarray(p, np.float64) for p in faces))
               for stem, faces in sorted(index.items())]
    sizes = {len(p) for s in samples for p in s.faces}
    return Dataset(folder.name, folder, samples, sizes.pop() if len(sizes) == 1 else None)


def extras(folder: Path) -> dict:
    """extra.json of a rendered folder: image stem -> what its draw returned as extra."""
    f = Path(folder) / "extra.json"
    return json.loads(f.read_text()) if f.is_file() else {}


def _render(ds: Dataset, folder: Path, draw: Draw, seed: tuple, desc: str | None) -> None:
    import cv2

    from facelm.core.files import write_text_atomic
    from facelm.eval.data.images import read_image

    folder.parent.mkdir(parents=True, exist_ok=True)
    for old in folder.parent.glob(folder.name + ".*.tmp"):  # a killed render's (a live one writes often)
        if time.time() - old.stat().st_mtime > STALE_S:
            shutil.rmtree(old, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", suffix=".tmp", dir=folder.parent))
    extra, index = {}, {}
    items = list(enumerate(ds.samples))
    if desc:
        from facelm.core.progress import progress

        items = progress(items, desc=desc, unit="img")
    for i, s in items:
        img = read_image(s.image)
        if img is None:
            continue  # the rendered set lacks it; the evaluator reports the original as skipped
        got = draw(i, s, img, np.random.default_rng([*seed, i]))
        if got is None:
            continue
        canvas, faces, quality, ex = got
        stem = f"{i:05d}_{Path(s.image).stem}"
        cv2.imwrite(str(tmp / f"{stem}.jpg"), canvas, [cv2.IMWRITE_JPEG_QUALITY, quality or QUALITY])
        write_text_atomic(tmp / f"{stem}.pts", "".join(pts_block(f) for f in faces))
        index[stem] = [np.round(np.asarray(f, np.float64)[:, :2], 3).tolist() for f in faces]
        if ex is not None:
            extra[stem] = ex
    if extra:
        (tmp / "extra.json").write_text(json.dumps(extra))
    (tmp / "faces.json").write_text(json.dumps(index))
    (tmp / ".done").write_text("")
    if not (folder / ".done").is_file():  # else another run finished the same set first
        shutil.rmtree(folder, ignore_errors=True)  # an interrupted render's leftovers
        try:
            tmp.replace(folder)
            return
        except OSError:
            if not (folder / ".done").is_file():
                raise
    shutil.rmtree(tmp, ignore_errors=True)


def pts_block(points: np.ndarray) -> str:
    body = "\n".join(f"{x:.3f} {y:.3f}" for x, y in np.asarray(points)[:, :2])
    return f"version: 1\nn_points: {len(points)}\n{{\n{body}\n}}\n"


def moved(faces: list, f, offset) -> list:
    """Points through a resize by f (pixel centres map as (p + 0.5) * f - 0.5), then offset."""
    return [(np.asarray(p, np.float64)[:, :2] + 0.5) * np.asarray(f) - 0.5 + offset for p in faces]
