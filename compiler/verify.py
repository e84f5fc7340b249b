"""Every artifact is checked against its parent. Float artifacts tensor-to-tensor on the
normalised outputs with tolerances declared here; quantised ones by landmark drift."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facelm.core.contract import LAYOUT, as_hw
from facelm.core.errors import UserError
from facelm.eval.infer.artifact import describe
from facelm.eval.infer.decode import DecodeOptions, standardise
from facelm.eval.infer.runtimes import open_runtime

#: Max absolute difference on normalised coordinates and scores (0..1), per numeric kind and
#: output. `face landmarks` are those of the anchors the parent scores as a face (FACE_SCORE,
#: the decoder's threshold), which are what reaches the user. `landmarks` is every anchor's, each
#: scaled to the stride-8 level (x 8 / its stride): a point is 2 x raw offset x stride, so the same
#: rounding of the raw keypoint tensor moves a stride-32 anchor's points 4 x as far.
#: fp16 boxes and landmarks over all anchors get 1e-2: background anchors amplify fp16 weights'
#: rounding (boxes: expectations over 16 bins of flat softmaxes, measured 5.3e-3 on a 160 px
#: model; landmarks: 5.1e-3 at a score-0 anchor of face51-s (96 px), whose face anchors
#: differed by 5.8e-5; a YOLO11 at 96 px after 20 epochs: 0.0149 unscaled, 0.0037 scaled, at a
#: score-0.001 stride-32 anchor, its face anchors 1.2e-4), while the face anchors keep 5e-3
#: (0.5 px at 96 px).
TOLERANCES = {"fp32": {"boxes": 1e-4, "scores": 1e-4, "landmarks": 1e-4, "face landmarks": 1e-4},
              "fp16": {"boxes": 1e-2, "scores": 5e-3, "landmarks": 1e-2, "face landmarks": 5e-3}}
FACE_SCORE = DecodeOptions().conf
#: INT8 guard: anchor drift (percent of the inter-ocular distance) a quantised artifact may reach.
INT8_DRIFT_LIMIT = 3.0


class VerificationError(UserError):
    """An artifact whose outputs differ from its parent's beyond tolerance."""


def run_all(path: Path, inputs: np.ndarray, imgsz, shapes: list | None = None) -> list[tuple]:
    """Standardised (boxes, scores, landmarks) of a model for each input (a checkpoint runs at
    imgsz, the size being compiled). shapes: filled with the raw outputs' shapes, in the order
    the file lists them, when given."""
    spec = describe(path, imgsz).spec
    rt = open_runtime(path, threads=2, imgsz=imgsz)
    out = []
    for x in inputs:
        raw = rt.run(x[None])
        if shapes is not None and not shapes:
            shapes.extend(tuple(int(v) for v in np.shape(o)) for o in raw)
        try:
            out.append(standardise(raw, spec))
        except ValueError as e:  # outputs that are not the head's (names follow from widths)
            raise VerificationError(f"{Path(path).name}: {e}") from None
    return out


def compare_float(parent: Path, child: Path, inputs: np.ndarray, kind: str, imgsz) -> dict:
    """As optimum validates an export: the outputs' count and shapes first, then the values of
    every output; one error names every output beyond its tolerance, worst first."""
    tols = TOLERANCES[kind]
    pshapes, cshapes = [], []
    a, b = run_all(parent, inputs, imgsz, pshapes), run_all(child, inputs, imgsz, cshapes)
    # converters may list outputs in another order; a packed start (one output) rewritten to the
    # split layout has other outputs by design: its decoded values are compared below
    same_layout = parent.suffix == ".pt" or (len(pshapes) == 1) == (len(cshapes) == 1)
    if same_layout and sorted(pshapes) != sorted(cshapes):
        raise VerificationError(f"{child.name}: outputs of shapes {cshapes} do not match {parent.name}'s {pshapes}")
    child_spec = None if same_layout else describe(child).spec
    if child_spec is not None and child_spec.layout == LAYOUT:  # it clips what the packed head leaves unbounded
        from facelm.compiler.rewrite import clip_like_split

        a = [clip_like_split(x, child_spec.imgsz) for x in a]
    worst = _max_diffs(a, b, as_hw(imgsz) if imgsz is not None else tuple(describe(child).spec.imgsz))
    report = {"check": f"max abs diff <= {', '.join(f'{k} {v:g}' for k, v in tols.items())} ({kind}); "
                       f"face: parent score >= {FACE_SCORE:g}; landmarks: x 8 / the anchor's stride",
              "images": len(inputs), "output_shapes": [list(s) for s in cshapes],
              "max_abs_diff": {k: None if v is None else float(f"{v:.3g}") for k, v in worst.items()}}
    failed = sorted(((k, v) for k, v in worst.items() if v is not None and v > tols[k]), key=lambda kv: -kv[1] / tols[kv[0]])
    if failed:
        raise VerificationError(f"{child.name}: " + "; ".join(f"output '{k}' differs from {parent.name} by {v:.3g} (tolerance "
                                                         f"{tols[k]:g} for {kind})" for k, v in failed))
    return report


def _max_diffs(a: list, b: list, imgsz: tuple) -> dict:
    """Largest absolute difference per output over all images (landmark x, y only; all anchors'
    at the stride-8 scale); face landmarks: None when the parent scores no anchor as a face (an
    untrained model)."""
    from facelm.eval.infer.decode import anchor_strides

    out = {"boxes": 0.0, "scores": 0.0, "landmarks": 0.0, "face landmarks": None}
    for (pb, ps, pk), (cb, cs, ck) in zip(a, b):
        per_anchor = np.abs(pk[..., :2] - ck[..., :2]).max(axis=(1, 2))
        try:
            scale = 8 / anchor_strides(len(pk), imgsz)
        except ValueError:  # anchors that tile no pyramid: as they are
            scale = 1.0
        faces = ps.max(1) >= FACE_SCORE
        out["boxes"] = max(out["boxes"], float(np.abs(pb - cb).max()))
        out["scores"] = max(out["scores"], float(np.abs(ps - cs).max()))
        out["landmarks"] = max(out["landmarks"], float((per_anchor * scale).max()))
        if faces.any():
            out["face landmarks"] = max(out["face landmarks"] or 0.0, float(per_anchor[faces].max()))
    return out


def anchor_drift(parent: Path, child: Path, inputs: np.ndarray, imgsz, parent_outputs: list | None = None) -> dict:
    """Landmark drift at the parent's most confident anchor of each image (percent of that
    face's size): needs no labels and no detections, so it also works on untrained models.
    parent_outputs: run_all(parent, inputs, imgsz), when the caller already has it."""
    a, b = parent_outputs or run_all(parent, inputs, imgsz), run_all(child, inputs, imgsz)
    h, w = imgsz
    errs, flips = [], 0
    for pa, pb in zip(a, b):
        j = int(pa[1].max(1).argmax())
        pp, pc = pa[2][j, :, :2] * (w, h), pb[2][j, :, :2] * (w, h)
        size = max(np.sqrt(np.prod(np.ptp(pp, 0) + 1e-6)), 1.0)
        errs.append(np.linalg.norm(pp - pc, axis=1).mean() / size * 100)
        flips += int(abs(float(pa[1].max()) - float(pb[1][j].max())) > 0.1)
    return {"anchor_drift_pct": round(float(np.mean(errs)), 3), "anchor_drift_p90": round(float(np.percentile(errs, 90)), 3),
            "score_changes_over_0.1": flips, "images": len(inputs)}
