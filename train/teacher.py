"""`train --teacher`: distillation from a larger model through soft targets.

The teacher (any checkpoint or artifact the evaluator runs, e.g. face51-m) is run once over the
training faces with the project's own preprocessing and decoder. Each labelled face it finds
gets, as its training target, `weight` x the teacher's landmarks + (1 - weight) x the annotation,
on the points the model predicts (the annotation's other points, e.g. the jaw of a 51-point
model, stay as they are; they still shape the face box). A small network fits a larger one's
consistent landmarks more easily than the annotators' scatter, while the label keeps it
anchored. The soft targets flow through everything the training set becomes: flips, mosaics and
the zoom-out copies. Validation faces keep their annotations: the card scores against them."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

#: Beside the dataset: what the teacher changed (for the card).
TEACHER = "teacher.json"
#: A teacher's face becomes a soft target only within this NME of its label (percent): farther,
#: it found the face but not its points, and the annotation alone is the better target.
MAX_TEACHER_NME = 15.0


def check_teacher(teacher: Path, n_kpts: int) -> None:
    """Exit-2 errors before any work: the teacher must load and predict the student's points."""
    from facelm.core.errors import UserError
    from facelm.eval.infer.artifact import describe

    if not Path(teacher).is_file():
        raise UserError(f"--teacher {teacher}: no such model file")
    try:
        k = describe(Path(teacher)).spec.kpt_shape[0]
    except Exception as e:  # noqa: BLE001 - any reason it cannot be read is the user's one line
        raise UserError(f"--teacher {teacher}: not a pose model the evaluator runs ({e})") from None
    if k != n_kpts:
        raise UserError(f"--teacher {teacher}: it predicts {k} points, the student {n_kpts}: soft targets need the same points")


def soft_targets(ds, teacher: Path, n_kpts: int, weight: float, progress: bool = True):
    """(the dataset with each found face's model points moved towards the teacher's, a report)."""
    import numpy as np

    from facelm.eval.metrics.evaluate import EvalOptions, evaluate_path, point_mapping

    check_teacher(teacher, n_kpts)
    res = evaluate_path(Path(teacher), ds, EvalOptions(progress=progress))
    m_idx, d_idx, _ = point_mapping(n_kpts, ds.n_points, str(ds.root))
    samples, moved, shifts = [], 0, []
    for s in ds.samples:
        faces = [np.array(f, dtype=np.float64) for f in s.faces]
        preds = res.predictions.get(str(s.image), [])
        for gi, pi, nme in res.matches.get(str(s.image), []):
            if pi is None or nme * 100 > MAX_TEACHER_NME:
                continue
            target = (1 - weight) * faces[gi][d_idx] + weight * preds[pi].points[m_idx]
            shifts.append(float(np.abs(target - faces[gi][d_idx]).mean()))
            faces[gi][d_idx] = target
            moved += 1
        samples.append(replace(s, faces=tuple(faces)))
    total = sum(len(s.faces) for s in ds.samples)
    report = {"checkpoint": str(teacher), "weight": weight, "faces_softened": moved, "faces": total,
              "teacher_nme_on_train": round(res.summary.nme, 3) if res.summary else None,
              "mean_shift_px": round(float(np.mean(shifts)), 3) if shifts else 0.0}
    return replace(ds, samples=samples), report
