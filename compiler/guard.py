"""The INT8 accuracy guard: score each quantised attempt against its float parent on held-out
faces, try the stage's remedies in order while it drifts too far, keep the best, record all,
and say how fast the kept one is beside its parent."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from facelm.compiler.verify import INT8_DRIFT_LIMIT, anchor_drift
from facelm.core.clock import part
from facelm.eval.infer.artifact import describe
from facelm.eval.infer.decode import DecodeOptions


@dataclass(frozen=True)
class Attempt:
    """One way to quantise: a label for the manifest, the calibration size as a multiple of
    --calib-n, per-channel weights, and the head's last convolutions and decoding kept in float
    (only where the format allows float islands: ONNX Runtime QDQ, not full-integer TFLite)."""
    label: str
    calib_scale: int = 1
    per_channel: bool = True
    float_head: bool = False


#: Full-integer TFLite: every op integer, so the remedies are weights and calibration.
TFLITE_ATTEMPTS = (Attempt("per-channel weights"), Attempt("per-tensor weights", per_channel=False),
                   Attempt("larger calibration set", calib_scale=2))
#: ONNX Runtime QDQ: the float head first (measured on a 224 px YOLOv8n-pose: NME x1.001 of fp32 at
#: 0.43 x its latency, against x1.09 fully quantised), then the fully quantised graph.
ORT_ATTEMPTS = (Attempt("per-channel weights, float head", float_head=True), Attempt("per-channel weights"),
                Attempt("larger calibration set, float head", calib_scale=2, float_head=True))

#: int16x8 and int8-mixed: one way each, judged by the same criterion.
VARIANT_ATTEMPTS = (Attempt("as built"),)


#: A guard that judged fewer faces than this says nothing about the file (three sample faces once
#: read "ok"): it is marked not judged, and compile exits 1.
MIN_GUARD_FACES = 50


def faces_judged(ds) -> int:
    """Labelled faces of the guard's set, or its images when it has no labels."""
    return sum(len(s.faces) for s in ds.samples) if ds.labelled else len(ds.samples)


def halves(ds) -> tuple:
    """(choose, confirm): the guard's images alternately, when each half holds MIN_GUARD_FACES;
    else (ds, None). The remedies are judged and chosen on the first half; the chosen file is
    confirmed on the second, which no choice saw (choosing on every face once kept per-tensor
    weights for face51-s because per-channel lost one marginal AFW face, though per-channel did
    better on faces the guard never saw)."""
    from dataclasses import replace

    a, b = (replace(ds, samples=ds.samples[i::2], name=f"{ds.name}[{i}::2]") for i in (0, 1))
    if min(faces_judged(a), faces_judged(b)) < MIN_GUARD_FACES:
        return ds, None
    return a, b


#: The guard's faces are decoded once per compile, up to this much memory (AFW's 337: 156 MB).
GUARD_DECODED_MB = 1024


def guard_score(parent: Path, child: Path, ctx, ds=None) -> dict:
    """Drift on decoded faces (and NME against labels when present), plus anchor drift, on ds
    (default: every guard face). The float parent is evaluated once per set and reused."""
    from facelm.compiler.verify import run_all
    from facelm.eval.metrics.evaluate import decode_all, drift, evaluate_path

    ds, hw = ds or ctx.guard_dataset(), ctx.info.imgsz
    images = ctx.memo("guard-images", lambda: decode_all([ctx.guard_dataset()], GUARD_DECODED_MB))

    def parent_eval():
        with part("guard evaluation [float parent, once]"):
            return evaluate_path(parent, ds, imgsz=hw, images=images)

    results = {"parent": ctx.memo(("guard-eval", parent, ds.name), parent_eval),
               "child": evaluate_path(child, ds, imgsz=hw, images=images)}
    out = {}
    for role, r in results.items():
        if r.summary:
            out[f"{role}_nme"] = r.summary.nme
            out[f"{role}_missed"] = r.summary.n_missed
    k = describe(child).spec.kpt_shape[0]
    out["drift_nme"], out["drift_missed"] = drift(results["child"].predictions, results["parent"].predictions, k)
    out["parent_faces"] = sum(len(v) for v in results["parent"].predictions.values())
    if results["parent"].summary:
        out["lost_sure"] = lost_sure_faces(results["parent"], results["child"])
    inputs = ctx.verify_inputs()
    parent_outs = ctx.memo(("outputs", parent), lambda: run_all(parent, inputs, hw))
    out.update(anchor_drift(parent, child, inputs, hw, parent_outs))
    return out


#: A labelled face the parent scores below the threshold + this is marginal: INT8 rounding moves
#: such a score by up to 0.08 on sound models (face51-m's marginal face: 0.265 -> 0.184), so
#: losing it is not damage. A 51-point YOLO11 whose ORT INT8 took a 0.65 face to 0.23 is.
SURE_MARGIN = 0.1
SURE_SCORE = DecodeOptions().conf + SURE_MARGIN


def lost_sure_faces(parent, child) -> int:
    """Labelled faces the parent finds at score >= SURE_SCORE that the child misses."""
    lost = 0
    for img, found in parent.matches.items():
        child_found = {gi: pi for gi, pi, _ in child.matches.get(img, [])}
        lost += sum(pi is not None and parent.predictions[img][pi].score >= SURE_SCORE and child_found.get(gi) is None
                    for gi, pi, _ in found)
    return lost


#: What users judge: labelled NME at most this multiple of the float parent's...
NME_RATIO_LIMIT = 1.03
#: ...and, on unlabelled faces, landmark drift from the parent (NME, percent) within the
#: precision budget that ratio leaves: sqrt(1.03^2 - 1) = 0.25 of the parent's NME: 1.2 at the
#: 4.85 % of the 224 px model this was set on (face51-s, 4.99 %: 1.24; face51-m, 4.48 %: 1.11).
DRIFT_BUDGET_NME = 1.2


def passes(r: dict) -> bool:
    """The guard's decision on one attempt's measurements (see guard_score)."""
    if r["parent_faces"] == 0:  # nothing detected (an untrained model): judge by anchors
        return r["anchor_drift_pct"] <= INT8_DRIFT_LIMIT
    if "child_nme" in r and "parent_nme" in r:  # labelled: the users' own measure, no sure face lost
        return r["child_nme"] <= NME_RATIO_LIMIT * r["parent_nme"] and r["lost_sure"] == 0
    # unlabelled: the parent's detections include marginal ones near the threshold
    return r["drift_nme"] <= DRIFT_BUDGET_NME and r["drift_missed"] <= 0.05 * r["parent_faces"]


def criterion(r: dict) -> str:
    if r["parent_faces"] == 0:
        return f"anchor drift <= {INT8_DRIFT_LIMIT}% (the parent detects no face)"
    if "child_nme" in r and "parent_nme" in r:
        return (f"labelled NME <= {NME_RATIO_LIMIT} x parent's, no face lost that the parent scores "
                f">= {SURE_SCORE:g}")
    return f"drift NME <= {DRIFT_BUDGET_NME}%, <= 5% of the parent's faces lost"


def clean(r: dict) -> bool:
    """A pass that loses no labelled face the parent finds, marginal ones included: the search
    ends here. A pass that loses marginal faces goes on to the stage's other remedies (each costs
    one quantisation and one guard evaluation) and keeps the best."""
    return r["passed"] and r.get("child_missed", 0) <= r.get("parent_missed", 0)


def _badness(r: dict) -> tuple:
    """Among attempts: a pass, no sure face lost, then the drift of every face from the parent
    (not whether one marginal face crossed the threshold: that tracks the guard's own faces)."""
    return (not r["passed"], r.get("lost_sure", 0), r["drift_nme"] if r["parent_faces"] else r["anchor_drift_pct"])


def int8_with_guard(make, dst: Path, ctx, parent: Path, attempts: tuple[Attempt, ...], enough=None) -> dict:
    """make(out_path, calib_set, attempt) builds one attempt; the best lands at dst. The search
    ends at the first attempt that is enough (default: clean)."""
    enough = enough or clean
    from facelm.eval.cost.profile import relative_latency

    tried, best = [], None
    choose, confirm = halves(ctx.guard_dataset())
    for i, a in enumerate(attempts):
        out = dst.with_name(f"attempt{i}_{dst.name}")
        calib = ctx.calibration(ctx.opts.calib_n * a.calib_scale)
        with part(f"quantise [{a.label}]"):
            make(out, calib, a)
        with part(f"guard evaluation [{a.label}]"):
            r = {"remedy": a.label, "calibration_images": len(calib.images), **guard_score(parent, out, ctx, choose)}
        r["kind"] = describe(out).kind
        r["passed"] = passes(r)
        tried.append(r)
        if best is None or _badness(r) < _badness(best[1]):
            best = (out, r)
        if enough(r):
            break
    held = None
    if confirm is not None:
        with part("guard confirmation [the held-out half]"):
            held = guard_score(parent, best[0], ctx, confirm)
        held.update(passed=passes(held), faces=faces_judged(confirm))
    shutil.move(best[0], dst)
    for f in dst.parent.glob(f"attempt*_{dst.name}"):
        f.unlink()
    with part("latency beside the parent"):
        speed = relative_latency(parent, dst, ctx.info.imgsz)
    n = faces_judged(ctx.guard_dataset())
    return {"guard": {"criterion": criterion(best[1]), "passed": best[1]["passed"] and (held or {}).get("passed", True),
                      "chosen": best[1]["remedy"], "faces": n, "judged": n >= MIN_GUARD_FACES,
                      "chosen_on": faces_judged(choose), "held_out": held, "attempts": tried},
            "kind": best[1]["kind"], "latency_vs_parent": speed}
