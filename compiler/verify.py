"""Every artifact is checked against its parent. Float artifacts tensor-to-tensor on the
normalised outputs with tolerances declared here; quantised ones by landmark drift."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import UserError
from eval.artifact import describe
from eval.decode import standardise
from eval.runtimes import open_runtime

#: Max absolute difference on normalised coordinates and scores (0..1), per numeric kind and
#: output. fp16 boxes get 1e-2: the box sides are expectations over 16 bins of a softmax, whose
#: flat distributions at background anchors amplify fp16 weights' rounding (measured 5.3e-3
#: on a 160 px model whose landmarks and scores stayed within 5e-3).
TOLERANCES = {"fp32": {"boxes": 1e-4, "scores": 1e-4, "landmarks": 1e-4},
              "fp16": {"boxes": 1e-2, "scores": 5e-3, "landmarks": 5e-3}}
#: INT8 guard: anchor drift (percent of the inter-ocular distance) a quantised artifact may reach.
INT8_DRIFT_LIMIT = 3.0


class VerificationError(UserError):
    """An artifact whose outputs differ from its parent's beyond tolerance."""


def run_all(path: Path, inputs: np.ndarray, imgsz) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Standardised (boxes, scores, landmarks) of a model for each input (a checkpoint runs at
    imgsz, the size being compiled)."""
    spec = describe(path, imgsz).spec
    rt = open_runtime(path, threads=2, imgsz=imgsz)
    return [standardise(rt.run(x[None]), spec) for x in inputs]


def compare_float(parent: Path, child: Path, inputs: np.ndarray, kind: str, imgsz) -> dict:
    """Collect the largest difference of every output; raise one error naming the worst."""
    tols = TOLERANCES[kind]
    a, b = run_all(parent, inputs, imgsz), run_all(child, inputs, imgsz)
    worst = {}
    for name, i in (("boxes", 0), ("scores", 1), ("landmarks", 2)):
        d = max(float(np.abs(pa[i][..., :2] - pb[i][..., :2]).max() if i == 2 else np.abs(pa[i] - pb[i]).max())
                for pa, pb in zip(a, b))
        worst[name] = d
    name, d = max(worst.items(), key=lambda kv: kv[1] / tols[kv[0]])
    report = {"check": f"max abs diff <= {', '.join(f'{k} {v:g}' for k, v in tols.items())} ({kind})",
              "images": len(inputs), "max_abs_diff": {k: float(f"{v:.3g}") for k, v in worst.items()}}
    if d > tols[name]:
        raise VerificationError(f"{child}: output '{name}' differs from {parent.name} by {d:.3g} "
                                f"(tolerance {tols[name]:g} for {kind})")
    return report


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
