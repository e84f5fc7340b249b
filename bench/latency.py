"""Which network fits a latency budget? Full-integer TFLite latency (1 thread) of YOLOv8-pose
variants (width multiple x input size, 51 keypoints), side by side in one run.

Latency does not depend on the weights, so each variant is built untrained from ultralytics'
YAML, exported and converted by the project's own stages (export, onnx2tf, full-integer
quantisation with real faces as calibration), then timed by the evaluator's TFLite runtime.
The committed model's int8 artifact, if built, is timed in the same run as the reference.

    python bench/latency.py [--variants 0.25@224,0.25@160,0.125@160] [--budget-ms 2]
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from common import ROOT, run_measured

EXPORT = """
import json
from pathlib import Path
from facelm.compiler.export import export_model
from facelm.core.checkpoint import load_pose_checkpoint
from tests.tiny import make_tiny_pose
out = []
for w, s in {variants!r}:
    d = Path({work!r}) / f"w{{w}}_{{s}}"
    d.mkdir(parents=True, exist_ok=True)
    ckpt = make_tiny_pose(d / "model.pt", n_kpts=51, imgsz=s, width=w)
    export_model(*load_pose_checkpoint(ckpt, s), d / "model.onnx", 17)
    out.append(str(d))
print(json.dumps({{"dirs": out}}))
"""


def _args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="0.25@224,0.25@192,0.25@160,0.1875@160,0.125@224,0.125@160",
                    help="width-multiple@imgsz list; 0.25 is YOLOv8n")
    ap.add_argument("--budget-ms", type=float, default=2.0)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--out", default="build/bench/latency")
    return ap.parse_args()


def main():
    args = _args()
    variants = [(float(v.split("@")[0]), int(v.split("@")[1])) for v in args.variants.split(",")]
    work = (ROOT / args.out).resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # ultralytics (torchvision) and TensorFlow do not share a process: export in a child.
    dirs = [Path(d) for d in run_measured(EXPORT.format(variants=variants, work=str(work)))["out"]["dirs"]]

    from facelm.core.offline import prepare

    prepare()
    import numpy as np
    from tabulate import tabulate

    from facelm.calib.select import CalibOptions, build_calibration
    from facelm.compiler.convert import quantize_tflite, simplify
    from facelm.compiler.tf_build import onnx2tf_saved_model
    from facelm.eval.defaults import DEFAULT_MODEL, default_calib_data
    from facelm.eval.cost.profile import LatencyOptions, file_mb, time_interleaved, tflite_cost
    from facelm.eval.infer.runtimes import open_runtime

    def timed(path: Path) -> tuple[float, float]:
        rt = open_runtime(path, threads=1)
        x = np.random.default_rng(0).random((1, 3, *rt.input_hw()), dtype=np.float32)
        t = time_interleaved({0: (rt, x)}, LatencyOptions(min_runs=args.runs))[0]
        return t.median_ms, t.p90_ms

    def row(network: str, imgsz, path: Path) -> dict:
        med, p90 = timed(path)
        gflops, params = tflite_cost(path)
        return {"network": network, "imgsz": imgsz, "params_M": round(params, 3), "GFLOPs": round(gflops, 3),
                "int8_MB": round(file_mb(path), 2), "ms_median": round(med, 2), "ms_p90": round(p90, 2),
                f"<= {args.budget_ms} ms": "yes" if med <= args.budget_ms else "no"}

    rows = []
    for i, ((w, s), d) in enumerate(zip(variants, dirs), 1):
        print(f"[{i}/{len(dirs)}] width {w} at {s}: onnxsim, onnx2tf, full-integer quantisation", flush=True)
        simplify(d / "model.onnx", d / "model.sim.onnx")
        calib = build_calibration(default_calib_data(), CalibOptions(n=32, imgsz=(s, s))).arrays
        onnx2tf_saved_model(d / "model.sim.onnx", d / "tf" / "saved_model", calib)
        quantize_tflite(d / "tf" / "saved_model", d / "int8.tflite", calib.transpose(0, 2, 3, 1), "int8")
        rows.append(row(f"width {w}" + (" (YOLOv8n)" if w == 0.25 else ""), s, d / "int8.tflite"))
    built = ROOT / "build" / DEFAULT_MODEL.stem / f"{DEFAULT_MODEL.stem}_int8.tflite"
    if built.exists():
        rows.append(row(f"committed {DEFAULT_MODEL.stem} (trained)", "", built))
    print(tabulate(rows, headers="keys", tablefmt="github"))
    (work / "latency.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
