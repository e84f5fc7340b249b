"""The same artifact on face sets other than the faces as they are: shrunk into clutter
(--scales, eval.data.scales), under a condition (--conditions, eval.data.conditions) and moved
between frames (--stability, eval.data.moved + eval.metrics.stability). Each set is rendered (or
read from the cache) once per run and decoded once for every artifact; each artifact runs on it
with the runtime its clean pass opened."""
from __future__ import annotations

from dataclasses import dataclass, field

from facelm.eval.data.datasets import Dataset
from facelm.eval.metrics.evaluate import evaluate, face_records, point_mapping


@dataclass
class ExtraSets:
    scaled: dict = field(default_factory=dict)       # scale -> Dataset
    conditioned: dict = field(default_factory=dict)  # "dark:2" -> Dataset
    copies: list = field(default_factory=list)       # moved copies (stability)

    def datasets(self) -> list:
        return [*self.scaled.values(), *self.conditioned.values(), *self.copies]


def extra_sets(ds: Dataset, opts) -> ExtraSets:
    """Every extra set the options ask for, made (or read from the cache) once per run."""
    from facelm.eval.data.conditions import conditioned_dataset, key
    from facelm.eval.data.moved import moved_copies
    from facelm.eval.data.rendered import same_sources
    from facelm.eval.data.scales import scaled_dataset

    with same_sources():
        return ExtraSets({s: scaled_dataset(ds, s) for s in opts.scales if s != 1},
                         {key(n, v): conditioned_dataset(ds, n, v, progress=opts.progress) for n, v in opts.conditions},
                         moved_copies(ds, opts.stability, progress=opts.progress) if opts.stability else [])


def scored_extras(rt, art, ds: Dataset, sets: ExtraSets, opts, images: dict, preds: dict, me: tuple,
                  parent: tuple | None, faces: list) -> dict:
    """The row's fields for every extra set; conditions' per-face records (with "set") go into
    faces, each clean face's jitter onto its own record there. preds: results by (artifact,
    runtime[, set]) of the artifacts scored so far (a parent's, for drift and the jitter ratio)."""
    from facelm.eval.data.conditions import describe

    k = art.spec.kpt_shape[0]
    out = {"scales": {f"{s:g}": at_scale(rt, art, sds, opts, images) for s, sds in sets.scaled.items()},
           "conditions": {}}
    for name, cds in sets.conditioned.items():
        res = evaluate(rt, art, cds, opts, images)
        preds[(*me, name)] = res
        p_res = preds.get((*parent, name)) if parent else None
        s = res.summary
        out["conditions"][name] = {"nme": s.nme, "fr10": s.fr[0.10], "miss": round(100 * s.n_missed / max(s.n_faces, 1), 2),
                                   "faces": s.n_faces, "imitates": describe(*_parse(name))}
        faces += [{**r, "set": name} for r in face_records(res, p_res, k, opts.normaliser)]
    if sets.copies:
        out.update(_stability(rt, art, ds, sets.copies, opts, images, preds, me, parent, faces))
    return out


def _parse(name: str) -> tuple[str, int]:
    n, _, v = name.partition(":")
    return n, int(v)


def at_scale(rt, art, ds: Dataset, opts, images: dict) -> dict:
    """Accuracy and misses on the faces of one other scale, and what the scale means in this
    model's input pixels."""
    from facelm.eval.data.scales import face_size_px

    s = evaluate(rt, art, ds, opts, images).summary
    return {"nme": s.nme, "fr10": s.fr[0.10], "auc10": s.auc[0.10], "miss": round(100 * s.n_missed / max(s.n_faces, 1), 2),
            "faces": s.n_faces, "face_px": face_size_px(ds, art.spec.imgsz)}


def _stability(rt, art, ds, copies, opts, images, preds, me, parent, faces) -> dict:
    from facelm.eval.metrics.stability import face_jitters, summary

    results = [evaluate(rt, art, c, opts, images) for c in copies]
    recs = face_jitters(ds, copies, results, point_mapping(art.spec.kpt_shape[0], ds.n_points, str(ds.root)),
                        opts.normaliser)
    by_face = {(r["image"], r["face"]): r["jitter"] for r in recs}
    for f in faces:
        if not f.get("set"):
            f["jitter"] = by_face.get((f["image"], f["face"]))
    s = summary(recs)
    preds[(*me, "jitter")] = s["jitter"]
    p = preds.get((*parent, "jitter")) if parent else None
    return {"jitter": s["jitter"], "jitter_faces": s["faces"], "unsteady": s["unsteady"],
            "jitter_x": round(s["jitter"] / p, 3) if p and s["jitter"] is not None else None}
