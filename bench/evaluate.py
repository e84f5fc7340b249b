"""Evaluation overhead: preprocessing (including image decoding), decoding and metrics, against
pure TFLite invoke time, for the 51-point YOLOv8n-pose at 320 on the shared AFW faces.
Target: overhead <= 15% of invoke time.

    python bench/evaluate.py [--imgsz 320]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from common import default_checkpoint


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--out", default="build/bench/evaluate")
    args = ap.parse_args()
    from compiler.offline import prepare

    prepare()
    from compiler.pipeline import CompileOptions, compile_checkpoint
    from eval.artifact import describe
    from eval.datasets import load_dataset
    from eval.defaults import default_eval_data
    from eval.evaluate import EvalOptions, evaluate
    from eval.runtimes import get_runtime

    res = compile_checkpoint(default_checkpoint(), Path(args.out) / f"m{args.imgsz}",
                             CompileOptions(imgsz=args.imgsz, targets=("tflite_fp32",)), progress=False)
    tfl = res[-1].path
    ds = load_dataset(default_eval_data())
    rt = get_runtime("tflite")
    rt.load(tfl, threads=1)
    evaluate(rt, describe(tfl), ds, EvalOptions(progress=False, max_images=10))  # warm caches
    r = evaluate(rt, describe(tfl), ds, EvalOptions(progress=False))
    n = r.n_images
    print(f"{n} images at {args.imgsz}: invoke {r.invoke_s / n * 1000:.2f} ms/img, "
          f"overhead {r.overhead_s / n * 1000:.2f} ms/img, ratio {r.overhead_s / r.invoke_s:.3f} (target <= 0.15)")


if __name__ == "__main__":
    main()
