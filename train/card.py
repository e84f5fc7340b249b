"""The model card a training run leaves beside its best checkpoint.

The figures come from the project's own evaluator (not ultralytics' validation), so the card
says what `score` will say; tests/test_default_model.py rescores the committed model against
its card.
"""
from __future__ import annotations

import csv
import json
import math
import os
import shutil
from pathlib import Path


def epochs_run(results_csv: Path) -> int:
    """Epochs ultralytics finished (one row each in results.csv)."""
    if not results_csv.exists():
        return 0
    with results_csv.open() as f:
        return sum(1 for _ in csv.DictReader(f))


def _finite(x: float):
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def _evaluate(ckpt: Path, val_dir: Path, progress: bool = False):
    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.metrics.evaluate import EvalOptions, evaluate_path

    return evaluate_path(ckpt, load_dataset(val_dir), EvalOptions(progress=progress)).summary


def pick_by_nme(weights: Path, val_dir: Path, progress: bool = False):
    """Make weights/best.pt the one of ultralytics' best.pt and last.pt that misses fewer faces
    of val_dir, then has the lower NME.

    ultralytics keeps best.pt by its box + pose mAP fitness, which on faces tracks the box more
    than the landmarks: a 256 px fine-tune's best.pt scored 4.764% NME with 2 faces missed, its
    last.pt 4.711% with none. Misses come first because NME counts only the faces found: face51-xs's
    fitness pick had 6.185% with 4 missed, its last epoch 6.280% with 2. Ties and unscorable runs
    keep ultralytics' pick; a replaced pick is kept as best_fitness.pt. Returns (best.pt, its
    Summary, what was chosen and why)."""
    best, last = weights / "best.pt", weights / "last.pt"
    runs = {"best.pt": _evaluate(best, val_dir, progress)}
    if last.is_file():
        runs["last.pt"] = _evaluate(last, val_dir, progress)

    def key(name):
        nme = _finite(runs[name].nme)
        return (nme is None, runs[name].n_missed, math.inf if nme is None else nme, name != "best.pt")

    chosen = min(runs, key=key)
    if chosen == "last.pt":
        tmp = weights / ".best.pt.tmp"
        shutil.copy2(last, tmp)
        os.replace(best, weights / "best_fitness.pt")
        os.replace(tmp, best)
    why = {"by": "fewer missed faces, then lower NME, on val of ultralytics' best.pt (mAP fitness) and last.pt",
           "chose": chosen,
           **{name: {"nme": _finite(s.nme), "missed": s.n_missed} for name, s in runs.items()}}
    return best, runs[chosen], why


def card_for(best: Path, val_dir: Path, s, *, command: str, train_desc: str, wall_seconds: float,
             arch: str, device: str) -> dict:
    """The card of best, whose Summary on val_dir (from pick_by_nme) is s, as a dict."""
    from facelm.eval.infer.artifact import describe

    art = describe(best)
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
        "val": _val(s, art.spec.kpt_shape[0]),
        "licence": "Trained on 300-W data, which is for research use only; so is this model.",
    }


def val_of(ckpt: Path, val_dir: Path) -> dict:
    """A card's val section for ckpt, scored afresh on val_dir."""
    from facelm.eval.infer.artifact import describe

    return _val(_evaluate(ckpt, val_dir), describe(ckpt).spec.kpt_shape[0])


def _val(s, points: int) -> dict:
    return {
        "faces": s.n_faces, "missed": s.n_missed, "nme": _finite(s.nme),
        "fr08": _finite(s.fr[0.08]), "fr10": _finite(s.fr[0.10]), "auc10": _finite(s.auc[0.10]),
        "normaliser": f"inter-ocular (outer eye corners), {points} points", "regions": s.regions,
    }


def write_card(card: dict, path: Path) -> Path:
    from facelm.core.files import write_json_atomic

    return write_json_atomic(path, card)


def summary(best: Path) -> str:
    """One line on a trained checkpoint, from the card beside it."""
    card_path = Path(best).with_suffix(".card.json")
    card = json.loads(card_path.read_text())
    v, t = card["val"], card["train"]
    return (f"best checkpoint: {best} ({t['epochs']} epochs, {t['wall_seconds']} s); on {t['val']}: NME {v['nme']}%, "
            f"FR@0.10 {v['fr10']}%, {v['missed']} missed; card: {card_path}")


CARD_COLUMNS = ("model", "input", "architecture", "last run", "AFW faces", "NME %", "FR@0.08 %", "FR@0.10 %",
                "AUC@0.10", "missed", "brows", "eyes", "nose", "mouth")


def cards_table(cards: dict) -> str:
    """The model card's table, from the .card.json files ({name: card}): what each card says, as it
    says it (the test holds models/MODEL_CARD.md to this)."""
    rows = ["| " + " | ".join(CARD_COLUMNS) + " |", "|" + "---|" * len(CARD_COLUMNS)]
    for name, c in cards.items():
        v, t, r = c["val"], c["train"], c["val"]["regions"]
        cells = [f"**{name}**", "x".join(map(str, c["imgsz"])), c["architecture"],
                 f"{t['epochs']} epochs, {t['device'].split(',')[0]}", v["faces"], v["nme"], v["fr08"], v["fr10"],
                 v["auc10"], v["missed"], r["brows"], r["eyes"], r["nose"], r["mouth"]]
        rows.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(rows)

