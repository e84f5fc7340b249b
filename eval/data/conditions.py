"""Faces in the world: each labelled image rendered under one condition that a camera meets
(dim or blown-out light, defocus, motion, sensor noise, heavy compression, a tilted head, a hand
over the mouth), at severity 1 (mild), 2 (moderate, the default) or 3 (strong); points move with
the image where the condition moves it (roll). Rendered once per (data, condition, severity,
seed) into the cache, as --scales does, so every run reads the same files.

Every image is first brought to a working frame: one whose largest labelled face spans at most
WORK_FACE px (sqrt of its points' box area; smaller images stay as they are), the resolution a
phone's preview stream gives a face. Sizes and noise grain are then relative to the face, so a
severity means the same on a 400 px selfie and on a face in a 4000 px photo."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facelm.core.errors import UserError
from facelm.eval.data.datasets import Dataset
from facelm.eval.data.rendered import moved, rendered, source_key

VERSION = 1  # bump when a rendering changes: cached folders are keyed by it
WORK_FACE = 256  # px
GRAIN_FACE = 128  # px: sensor noise has one grain per face/GRAIN_FACE px of the working frame
#: JPEG quality of rendered images (but `jpeg`'s own): as a camera saves them, and they decode as
#: fast as AFW's originals (dark: 0.24 s for 337 against 0.26; at 95: 0.40), so a condition costs
#: `score` what the faces as they are cost.
QUALITY = 85
SEVERITIES = (1, 2, 3)
DEFAULT_SEVERITY = 2


@dataclass(frozen=True)
class Condition:
    name: str
    imitates: str   # what it imitates; {} is the severity's parameter
    levels: tuple   # the parameter at severities 1, 2, 3
    geometric: bool = False  # moves the points


CONDITIONS = {c.name: c for c in (
    Condition("dark", "a dim room or a car at night: exposure {} stops under, with the shot and read noise of a "
              "small sensor at high gain", (1.0, 1.5, 2.5)),
    Condition("bright", "a face against a window or in sun: exposure {} stops over, highlights clipped to white",
              (1.0, 1.5, 2.5)),
    Condition("blur", "a lens out of focus: a disc blur of radius {} of the face's size", (0.015, 0.03, 0.05)),
    Condition("motion", "a head or camera moving during the exposure: a line blur {} of the face's size long, "
              "at a random angle", (0.04, 0.08, 0.14)),
    Condition("noise", "a cheap sensor at high gain: Gaussian noise, sigma {} of full scale, per grain and channel",
              (0.02, 0.04, 0.07)),
    Condition("jpeg", "a low-bit-rate camera stream or a messaging app: JPEG quality {}", (30, 15, 8)),
    Condition("roll", "a tilted head or camera: the image turned {} degrees (a random side) about the faces' "
              "centre", (15, 25, 35), geometric=True),
    Condition("occlude", "a hand or an object in front of the face, in the face's own skin tone: over {}",
              ("half the mouth", "the mouth", "the mouth and the nose tip")),
)}


def check_conditions(text: str | list | tuple | None) -> tuple[tuple[str, int], ...]:
    """--conditions "dark,blur:3" (or "all"): (name, severity) pairs; a usage error names the bad one."""
    if not text:
        return ()
    items = [t.strip() for t in (text.split(",") if isinstance(text, str) else text) if str(t).strip()]
    if items == ["all"]:
        return tuple((n, DEFAULT_SEVERITY) for n in CONDITIONS)
    out = []
    for item in items:
        name, _, sev = str(item).partition(":")
        if name not in CONDITIONS:
            raise UserError(f"--conditions {item}: unknown condition {name!r} (known: {', '.join(CONDITIONS)}, or all)")
        try:
            s = int(sev) if sev else DEFAULT_SEVERITY
        except ValueError:
            s = None
        if s not in SEVERITIES:
            raise UserError(f"--conditions {item}: severity {sev!r} outside 1-3 (1 mild, 2 moderate, 3 strong)")
        out.append((name, s))
    return tuple(dict.fromkeys(out))


def key(name: str, severity: int) -> str:
    """How a condition is named in rows, tables and faces.csv: dark:2."""
    return f"{name}:{severity}"


def describe(name: str, severity: int) -> str:
    c = CONDITIONS[name]
    v = c.levels[severity - 1]
    return c.imitates.format(f"{v:.1%}" if isinstance(v, float) and v < 1 else v)


def conditioned_dataset(ds: Dataset, name: str, severity: int = DEFAULT_SEVERITY, seed: int = 0,
                        cache: Path | None = None, progress: bool = False) -> Dataset:
    """ds with every labelled image under the condition (cached; the same every time)."""
    from facelm.core.offline import CACHE

    if not ds.labelled:
        raise UserError(f"{ds.root}: --conditions needs labelled faces (NME is measured against them)")
    if name == "occlude" and ds.n_points not in (51, 68):
        raise UserError(f"{ds.root}: --conditions occlude needs 51- or 68-point faces (it covers the mouth)")
    folder = Path(cache or CACHE) / "conditions" / f"{ds.name}-{source_key(ds)}-v{VERSION}-seed{seed}-{name}{severity}"
    level = CONDITIONS[name].levels[severity - 1]

    def draw(i, s, img, rng):
        img, faces, size = working_frame(img, s.faces)
        return (*RENDER[name](img, faces, size, level, rng, ds.n_points), None)

    return rendered(ds, folder, draw, (seed, list(CONDITIONS).index(name), severity),
                    f"{ds.name}+{key(name, severity)}", f"rendering {key(name, severity)}" if progress else None)


def working_frame(img: np.ndarray, faces) -> tuple[np.ndarray, list, float]:
    """The image shrunk (never enlarged) so its largest face spans at most WORK_FACE px, its
    points moved alike; and that face's size in the new frame."""
    import cv2

    size = max(face_size(f) for f in faces)
    f = min(1.0, WORK_FACE / max(size, 1e-6))
    if f == 1.0:
        return img, [np.asarray(p, np.float64)[:, :2] for p in faces], size
    h, w = img.shape[:2]
    nw, nh = max(1, round(w * f)), max(1, round(h * f))
    out = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    return out, moved(faces, (nw / w, nh / h), (0, 0)), size * f


def face_size(points) -> float:
    """sqrt of the area of the points' box (px)."""
    return float(np.sqrt(np.prod(np.ptp(np.asarray(points)[:, :2], 0)) + 1e-9))


def _to_linear(img):
    return (img.astype(np.float32) / 255.0) ** 2.2


def _to_image(lin):
    return (np.clip(lin, 0, 1) ** (1 / 2.2) * 255 + 0.5).astype(np.uint8)


def _grain_noise(shape, size: float, sigma, rng) -> np.ndarray:
    """Noise with one independent value per grain (face size / GRAIN_FACE px) and channel."""
    import cv2

    g = max(1, round(size / GRAIN_FACE))
    h, w, c = shape
    n = rng.standard_normal(((h + g - 1) // g, (w + g - 1) // g, c)).astype(np.float32)
    if g > 1:
        n = cv2.resize(n, (n.shape[1] * g, n.shape[0] * g), interpolation=cv2.INTER_NEAREST)[:h, :w]
    return n * sigma


def _dark(img, faces, size, stops, rng, _):
    lin = _to_linear(img) * 2.0 ** -stops
    shot = np.sqrt(np.maximum(lin, 0) * 0.002)  # photon noise grows with the signal
    noisy = lin + _grain_noise(img.shape, size, 1.0, rng) * np.sqrt(shot ** 2 + 0.002 ** 2)
    return _to_image(noisy), faces, QUALITY


def _bright(img, faces, size, stops, rng, _):
    return _to_image(_to_linear(img) * 2.0 ** stops), faces, QUALITY


def _blur(img, faces, size, frac, rng, _):
    import cv2

    r = max(0.5, frac * size)
    n = int(np.ceil(r))
    yy, xx = np.mgrid[-n:n + 1, -n:n + 1]
    k = (xx ** 2 + yy ** 2 <= r * r + 1e-6).astype(np.float32)
    return cv2.filter2D(img, -1, k / k.sum(), borderType=cv2.BORDER_REFLECT), faces, QUALITY


def _motion(img, faces, size, frac, rng, _):
    import cv2

    length = max(2.0, frac * size)
    n = int(np.ceil(length / 2)) + 1
    k = np.zeros((2 * n + 1, 2 * n + 1), np.float32)
    a = rng.uniform(0, np.pi)
    dx, dy = np.cos(a) * length / 2, np.sin(a) * length / 2
    cv2.line(k, (round((n - dx) * 16), round((n - dy) * 16)), (round((n + dx) * 16), round((n + dy) * 16)), 1.0, 1,
             cv2.LINE_AA, shift=4)
    return cv2.filter2D(img, -1, k / k.sum(), borderType=cv2.BORDER_REFLECT), faces, QUALITY


def _noise(img, faces, size, sigma, rng, _):
    out = img.astype(np.float32) + _grain_noise(img.shape, size, sigma * 255, rng)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), faces, QUALITY


def _jpeg(img, faces, size, quality, rng, _):
    return img, faces, quality


def _roll(img, faces, size, degrees, rng, _):
    import cv2

    centre = np.concatenate(faces).mean(0)
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), float(degrees * rng.choice([-1, 1])), 1.0)
    out = cv2.warpAffine(img, m, img.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out, [p @ m[:, :2].T + m[:, 2] for p in faces], QUALITY


#: iBUG-68 points that bound each occluder: half the mouth (a random side); the mouth; mouth and nose tip
_COVER = ((48, 49, 50, 51, 57, 58, 59, 60, 61, 62, 66, 67), tuple(range(48, 68)), tuple(range(31, 36)) + tuple(range(48, 68)))


def _occlude(img, faces, size, what, rng, n_points):
    import cv2

    from facelm.eval.data.landmarks import FLIP68, canonical_indices

    ids = canonical_indices(n_points)
    which = CONDITIONS["occlude"].levels.index(what)
    out = img.copy()
    for p in faces:
        cover = _COVER[which] if which or rng.random() < 0.5 else [FLIP68[i] for i in _COVER[0]]
        pts = np.asarray([p[ids.index(i)] for i in cover if i in ids])
        lo, hi = pts.min(0), pts.max(0)
        m = (hi - lo) * 0.25
        x0, y0 = np.maximum(lo - m, 0).astype(int)
        x1, y1 = np.minimum(hi + m, img.shape[1::-1]).astype(int)
        if x1 <= x0 or y1 <= y0:
            continue
        skin = np.median(img[y0:y1, x0:x1].reshape(-1, 3), 0) * rng.uniform(0.75, 1.1)
        patch = np.full((y1 - y0, x1 - x0, 3), skin, np.float32)
        patch += cv2.GaussianBlur(rng.normal(0, 12, patch.shape).astype(np.float32), (0, 0), max(1.0, size / 64))
        mask = np.zeros(patch.shape[:2], np.uint8)
        cv2.ellipse(mask, (((patch.shape[1] - 1) / 2, (patch.shape[0] - 1) / 2), (patch.shape[1], patch.shape[0]), 0),
                    255, -1)
        region = out[y0:y1, x0:x1]
        region[mask > 0] = np.clip(patch[mask > 0], 0, 255).astype(np.uint8)
    return out, faces, QUALITY


RENDER = {"dark": _dark, "bright": _bright, "blur": _blur, "motion": _motion, "noise": _noise, "jpeg": _jpeg,
          "roll": _roll, "occlude": _occlude}


def mixed_dataset(ds: Dataset, conditions, seed: int = 0, cache: Path | None = None) -> Dataset:
    """ds again, each image under one of conditions (as check_conditions takes them) drawn at
    random: a copy for training (train --conditions); extra.json says which each image got."""
    from facelm.core.offline import CACHE

    picks = sorted(set(check_conditions(conditions)))
    tag = "+".join(f"{n}{v}" for n, v in picks)
    folder = Path(cache or CACHE) / "conditions" / f"{ds.name}-{source_key(ds)}-v{VERSION}-seed{seed}-mixed-{tag}"

    def draw(i, s, img, rng):
        name, severity = picks[int(rng.integers(len(picks)))]
        img, faces, size = working_frame(img, s.faces)
        level = CONDITIONS[name].levels[severity - 1]
        return (*RENDER[name](img, faces, size, level, rng, ds.n_points), key(name, severity))

    return rendered(ds, folder, draw, (seed, 99), f"{ds.name}+mixed")
