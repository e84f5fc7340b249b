"""The model card a training run leaves beside its best checkpoint.

The figures come from the project's own evaluator (not ultralytics' validation), so the card
says what `score` will say; tests/test_default_model.py rescores the committed model against
its card.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path


def epochs_run(results_csv: Path) -> int:
    """Epochs ultralytics finished (one row each in results.csv)."""
    if not results_csv.exists():
        return 0
    with results_csv.open() as f:
        return sum(1 for _ in csv.DictReader(f))


def _finite(x: float):
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def card_for(best: Path, val_dir: Path, *, command: str, train_desc: str, wall_seconds: float,
             arch: str, device: str = "CPU, amp off, fliplr 0.5 with flip_idx", progress: bool = False) -> dict:
    """Evaluate best on val_dir (a .pt: the PyTorch runtime) and return the card as a dict."""
    from eval.artifact import describe
    from eval.datasets import load_dataset
    from eval.evaluate import EvalOptions, evaluate_path

    art = describe(best)
    s = evaluate_path(best, load_dataset(val_dir), EvalOptions(progress=progress)).summary
    return {
        "architecture": arch,
        "kpt_shape": list(art.spec.kpt_shape),
        "imgsz": list(art.spec.imgsz),
        "train": {
            "data": train_desc,
            "val": f"{val_dir.name}, {s.n_faces} faces",
            "command": command,
            "epochs": epochs_run(best.parent.parent / "results.csv"),
            "wall_seconds": round(wall_seconds),
            "device": device,
        },
        "val": {
            "faces": s.n_faces, "missed": s.n_missed, "nme": _finite(s.nme),
            "fr08": _finite(s.fr[0.08]), "fr10": _finite(s.fr[0.10]), "auc10": _finite(s.auc[0.10]),
            "normaliser": "inter-ocular (outer eye corners), "
                          f"{art.spec.kpt_shape[0]} points", "regions": s.regions,
        },
        "licence": "Trained on 300-W data, which is for research use only; so is this model.",
    }


def write_card(card: dict, path: Path) -> Path:
    from core.files import write_json_atomic

    return write_json_atomic(path, card)
