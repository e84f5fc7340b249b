"""How much a full-integer file's figures hang on its calibration draw, and whether a calibration
set that covers the float model's low-score faces keeps marginal faces where they were.

For one compile build (its SavedModel and fp32 TFLite), --draws random draws of --calib-n faces
from the calibration folder, each quantised twice, paired so that the draw's own noise cancels:
as drawn, and with its last --low faces swapped for the calibration faces the fp32 file scores
lowest. Every file is scored on the evaluation faces twice: at the decoder's own threshold (NME
and misses, as `score` gives them) and at 0.02, so that a face's score is seen on both sides of
the threshold (how far the scores of the faces the fp32 file scores in [0.2, 0.5) moved, and how
many labelled faces crossed the threshold either way).

    python bench/calib_draws.py build/best [--draws 4] [--low 30] [--calib-n 100] [--per-tensor]
                                           [--calib FOLDER] [--data FOLDER]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from common import ROOT

LOW_CONF = 0.02
MARGINAL = (0.2, 0.5)


def _build_files(build: Path) -> tuple[Path, Path]:
    fp32 = sorted(build.glob("*_fp32.tflite"))
    if not fp32:
        sys.exit(f"{build}: no *_fp32.tflite here (give a folder that `compile` wrote)")
    sm = fp32[0].with_name(fp32[0].name.replace("_fp32.tflite", "_saved_model"))
    if not sm.is_dir():
        sys.exit(f"{build}: no {sm.name} beside {fp32[0].name}")
    return fp32[0], sm


def face_scores(res) -> dict:
    """(image, labelled face) -> the score of the detection matched to it (0 where none)."""
    return {(img, gi): (res.predictions[img][pi].score if pi is not None else 0.0)
            for img, found in res.matches.items() for gi, pi, _ in found}


def score_moves(child: dict, parent: dict, threshold: float) -> dict:
    """How the scores of the parent's marginal faces moved, and faces that crossed the threshold."""
    marginal = [k for k, s in parent.items() if MARGINAL[0] <= s < MARGINAL[1]]
    d = np.array([child.get(k, 0.0) - parent[k] for k in marginal]) if marginal else np.zeros(1)
    crossed = sum((parent[k] >= threshold) != (child.get(k, 0.0) >= threshold) for k in parent)
    return {"marginal faces": len(marginal), "score move": float(d.mean()), "|score move|": float(np.abs(d).mean()),
            "crossed": crossed}


def _lowest(fp32: Path, pool, hw, low_opts, n: int) -> list[str]:
    """The n calibration images whose lowest-scoring labelled face the fp32 file finds scores lowest."""
    from facelm.eval.metrics.evaluate import evaluate_path

    lowest = {}
    for (img, _), s in face_scores(evaluate_path(fp32, pool, imgsz=hw, opts=low_opts)).items():
        lowest[img] = min(lowest.get(img, 1.0), s) if s > LOW_CONF else lowest.get(img, 1.0)
    low = sorted(lowest, key=lowest.get)[:n]
    print(f"{pool.root}: the {n} lowest-scoring images score {lowest[low[0]]:.3f} to {lowest[low[-1]]:.3f}")
    return low


def _draws(a, sm: Path, stem: str, pool: list[str], low: list[str], faces, parent: dict, hw, low_opts,
           threshold: float) -> list[dict]:
    """Each draw quantised as drawn and with its last a.low faces swapped for the lowest-scoring."""
    from facelm.compiler import convert
    from facelm.eval.metrics.evaluate import evaluate_path
    from facelm.eval.infer.preprocess import preprocess, read_image

    cache = {}  # each image read and preprocessed once: the draws' arms share most of their faces

    def arrays(paths):
        for p in paths:
            if p not in cache:
                cache[p] = preprocess(read_image(Path(p)), hw)[0]
        return np.concatenate([cache[p] for p in paths]).transpose(0, 2, 3, 1)

    chosen_low = set(low)
    rest = [p for p in pool if p not in chosen_low]
    a.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for draw in range(a.draws):
        picked = list(np.random.default_rng(draw).choice(rest, a.calib_n, replace=False))
        for tag, arm, paths in (("drawn", "as drawn", picked),
                                ("low", f"{a.low} lowest swapped in", picked[: a.calib_n - a.low] + low)):
            out = a.out / f"{stem}_draw{draw}_{tag}.tflite"
            convert.quantize_tflite(sm, out, arrays(paths), "int8", not a.per_tensor)
            full = evaluate_path(out, faces, imgsz=hw).summary
            child = face_scores(evaluate_path(out, faces, imgsz=hw, opts=low_opts))
            rows.append({"draw": draw, "calibration": arm, "NME": full.nme, "missed": full.n_missed,
                         **score_moves(child, parent, threshold)})
            print(f"draw {draw}, {arm}: NME {full.nme:.3f}, missed {full.n_missed}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("build", type=Path, help="A folder `compile` wrote (its SavedModel and fp32 TFLite).")
    ap.add_argument("--draws", type=int, default=4)
    ap.add_argument("--low", type=int, default=30, help="Faces of each draw swapped for the lowest-scoring ones.")
    ap.add_argument("--calib-n", type=int, default=100)
    ap.add_argument("--per-tensor", action="store_true", help="Per-tensor weights (default: per-channel).")
    ap.add_argument("--calib", type=Path, help="Calibration folder (default: the default calibration faces).")
    ap.add_argument("--data", type=Path, help="Evaluation faces (default: the default evaluation faces).")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "calib_draws")
    a = ap.parse_args()
    if not 0 < a.low < a.calib_n or a.draws < 1:
        sys.exit("--low must be between 0 and --calib-n, and --draws at least 1")
    fp32, sm = _build_files(a.build)
    from facelm.core.offline import prepare

    prepare()
    from tabulate import tabulate

    from facelm.eval.infer.artifact import describe
    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.infer.decode import DecodeOptions
    from facelm.eval.defaults import default_calib_data, default_eval_data
    from facelm.eval.metrics.evaluate import EvalOptions, evaluate_path

    hw = describe(fp32).spec.imgsz
    low_opts, threshold = EvalOptions(decode=DecodeOptions(conf=LOW_CONF), progress=False), DecodeOptions().conf
    pool, faces = load_dataset(a.calib or default_calib_data()), load_dataset(a.data or default_eval_data())
    if len(pool.samples) < a.calib_n + a.low:
        sys.exit(f"{pool.root}: {len(pool.samples)} images, fewer than --calib-n + --low")
    low = _lowest(fp32, pool, hw, low_opts, a.low)
    parent = face_scores(evaluate_path(fp32, faces, imgsz=hw, opts=low_opts))
    rows = _draws(a, sm, fp32.stem.replace("_fp32", ""), [str(s.image) for s in pool.samples], low,
                  faces, parent, hw, low_opts, threshold)
    ref = evaluate_path(fp32, faces, imgsz=hw).summary
    print(tabulate(rows, headers="keys", tablefmt="github", floatfmt=".4f"))
    print(f"\nfp32 TFLite: NME {ref.nme:.3f}, missed {ref.n_missed}; {'per-tensor' if a.per_tensor else 'per-channel'} "
          f"weights; marginal = fp32 score in [{MARGINAL[0]}, {MARGINAL[1]}), threshold {threshold}")
    for arm in dict.fromkeys(r["calibration"] for r in rows):
        rs = [r for r in rows if r["calibration"] == arm]
        nmes = [r["NME"] for r in rs]
        print(f"{arm}: NME x{np.mean(nmes) / ref.nme:.3f} of fp32 on average (x{min(nmes) / ref.nme:.3f} to "
              f"x{max(nmes) / ref.nme:.3f}), missed {np.mean([r['missed'] for r in rs]):.2f}, "
              f"|score move| {np.mean([r['|score move|'] for r in rs]):.4f}, "
              f"crossed {np.mean([r['crossed'] for r in rs]):.2f}")


if __name__ == "__main__":
    main()
