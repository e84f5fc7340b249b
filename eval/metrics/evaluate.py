"""The one evaluation loop: the same preprocessing, decoder and metrics for every runtime."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from facelm.core.errors import DataMismatchError, InputError, UserError
from facelm.eval.infer.artifact import Artifact
from facelm.eval.data.datasets import Dataset
from facelm.eval.infer.decode import DecodeOptions
from facelm.eval.infer.image import Timing, detect
from facelm.eval.data.landmarks import common_points
from facelm.eval.metrics.nme import Summary, face_nme, match, summarise
from facelm.eval.data.images import read_ahead


@dataclass(frozen=True)
class EvalOptions:
    normaliser: str = "inter-ocular"
    decode: DecodeOptions = DecodeOptions()
    max_images: int | None = None
    progress: bool = True

    def __post_init__(self):
        if self.normaliser not in ("inter-ocular", "inter-pupil", "bbox"):
            raise InputError(f"unknown normaliser {self.normaliser!r}")


@dataclass
class EvalResult:
    summary: Summary | None                       # None for unlabelled data
    predictions: dict = field(default_factory=dict)  # image path -> list[Face]
    skipped: list = field(default_factory=list)      # (name, reason)
    invoke_s: float = 0.0                            # time inside the inference call alone
    convert_s: float = 0.0                           # input/output conversion around it
    overhead_s: float = 0.0                          # image reading, preprocess, decode, metrics
    n_images: int = 0
    matches: dict = field(default_factory=dict)      # image -> [(gt face, detection or None, nme)]
    false_positives: int = 0                         # detections that match no labelled face


def point_mapping(model_points: int, data_points: int, source: str) -> tuple[list[int], list[int], list[int]]:
    try:
        m, d, ids = common_points(model_points, data_points)
    except ValueError as e:
        raise DataMismatchError(f"{source}: model has {model_points} landmarks, data has {data_points}: {e}") from None
    if not ids:
        raise DataMismatchError(f"{source}: model ({model_points} points) and data ({data_points} points) share no landmarks")
    return m, d, ids


def evaluate(runtime, art: Artifact, ds: Dataset, opts: EvalOptions = EvalOptions(),
             images: dict | None = None) -> EvalResult:
    """Run every image through runtime and score the decoded faces against the labels.
    images: already decoded images by path (decode_all), read from disk when absent."""
    k = art.spec.kpt_shape[0]
    m_idx, d_idx, ids = point_mapping(k, ds.n_points, str(ds.root)) if ds.labelled else (list(range(k)), [], [])
    res = EvalResult(None, skipped=list(ds.skipped))
    nmes, perrs = [], []
    samples = ds.samples[: opts.max_images] if opts.max_images else ds.samples
    timing = Timing()
    t_start = time.perf_counter()
    read = zip(samples, read_ahead([s.image for s in samples], images))  # read on a worker thread, in order
    for s, (_, img) in _progress(read, f"{art.path.name} [{runtime.name}]", opts.progress, len(samples)):
        if img is None:
            res.skipped.append((str(s.image), "unreadable or corrupt image"))
            continue
        faces = detect(runtime, art.spec, img, opts.decode, timing)
        res.predictions[str(s.image)] = faces
        if ds.labelled:
            gts = [g[d_idx] for g in s.faces]
            preds = [f.points[m_idx] for f in faces]
            res.matches[str(s.image)] = found = []
            pairs = match(gts, preds)
            res.false_positives += len(preds) - sum(pi is not None for pi in pairs)
            for gi, pi in enumerate(pairs):
                if pi is None:
                    nmes.append(float("inf"))
                    found.append((gi, None, float("inf")))
                    continue
                nme, err = face_nme(preds[pi], gts[gi], ids, opts.normaliser, s.faces[gi])
                nmes.append(nme)
                perrs.append(err)
                found.append((gi, pi, nme))
        res.n_images += 1
    res.invoke_s, res.convert_s = timing.invoke, timing.convert
    res.overhead_s = time.perf_counter() - t_start - timing.invoke - timing.convert
    if ds.labelled:
        if not nmes:
            raise UserError(f"{ds.root}: no readable labelled images")
        res.summary = summarise(nmes, perrs, ids)
    return res


def evaluate_path(path, ds: Dataset, opts: EvalOptions = EvalOptions(progress=False), threads: int = 2,
                  imgsz=None, images: dict | None = None) -> EvalResult:
    """Evaluate a model file on the first runtime that can run it (images: as evaluate's)."""
    from facelm.eval.infer.artifact import describe
    from facelm.eval.infer.runtimes import open_runtime

    rt = open_runtime(path, threads, imgsz)
    return evaluate(rt, describe(path, imgsz), ds, opts, images)


def face_drifts(child_faces: list, parent_faces: list, k: int, normaliser: str = "inter-ocular") -> list:
    """For each of the parent's faces in one image: the child's NME against it (a fraction, the
    parent's points as ground truth), or None when the child has no face there."""
    ids = list(range(k))
    if k in (51, 68):
        from facelm.eval.data.landmarks import canonical_indices

        ids = list(canonical_indices(k))
    else:
        normaliser = "bbox"
    pts_p, pts_c = [f.points for f in parent_faces], [f.points for f in child_faces]
    return [None if pi is None else face_nme(pts_c[pi], pts_p[gi], ids, normaliser, pts_p[gi])[0]
            for gi, pi in enumerate(match(pts_p, pts_c))]


def drift(child: dict, parent: dict, k: int, normaliser: str = "inter-ocular") -> tuple[float, int]:
    """NME (percent) of an artifact's landmarks against its float parent's on the same images,
    with the parent's faces as ground truth; needs no labels. Returns (nme, parent faces the
    child missed)."""
    per_face = [d for img, pfaces in parent.items() for d in face_drifts(child.get(img, []), pfaces, k, normaliser)]
    nmes = [d for d in per_face if d is not None]
    return (round(float(np.mean(nmes) * 100), 3) if nmes else float("nan")), len(per_face) - len(nmes)


def face_records(res: EvalResult, parent: EvalResult | None, k: int, normaliser: str) -> list[dict]:
    """One record per labelled face: its NME (percent; None when missed) and its drift from the
    float parent's face matched to the same ground truth (percent; None without one)."""
    out = []
    for img, found in res.matches.items():
        pfaces = parent.predictions.get(img, []) if parent else []
        drifts = face_drifts(res.predictions.get(img, []), pfaces, k, normaliser) if pfaces else []
        parent_det = {gi: pi for gi, pi, _ in parent.matches.get(img, [])} if parent else {}
        for gi, pi, nme in found:
            d = drifts[parent_det[gi]] if parent_det.get(gi) is not None else None
            out.append({"image": img, "face": gi, "nme": None if pi is None else round(nme * 100, 4),
                        "drift": None if d is None else round(d * 100, 4), "missed": int(pi is None)})
    return out


def decode_all(datasets: list, budget_mb: float, progress: bool = False, max_images: int | None = None) -> dict:
    """Every image of the datasets decoded once, by path, read-only, until budget_mb is spent:
    what several artifacts scored on the same faces share (decoding a 454 px JPEG costs 2-6 x a
    small model's inference call)."""
    out, used = {}, 0
    paths = list(dict.fromkeys(str(s.image) for ds in datasets for s in ds.samples[:max_images or None]))
    for p, img in _progress(read_ahead(paths), "decoding the faces once", progress, len(paths)):
        if img is None:
            continue
        used += img.nbytes
        if used > budget_mb * 2**20:
            break
        img.setflags(write=False)
        out[p] = img
    return out


def _progress(items, desc: str, enabled: bool, total: int | None = None):
    if not enabled:
        return items
    from facelm.core.progress import progress

    return progress(items, total=total, desc=desc, unit="img")
