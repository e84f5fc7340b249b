"""INT8 benchmark: the project's full-integer TFLite against its fp32 TFLite, and ultralytics'
own INT8 exports of the same checkpoint, all scored by this evaluator on the shared AFW faces
in one run. Targets: full-integer NME <= 1.03 x fp32 NME with no more misses; 1-thread latency
<= 0.35 x fp32.

    python bench/int8.py [--imgsz 320]
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from common import default_checkpoint, run_measured

THEIRS = """
import json, numpy as np
from pathlib import Path
from core.offline import prepare; prepare()
from calib.select import CalibOptions, build_calibration, onnx2tf_sample
from eval.defaults import default_calib_data
np.save("calibration_image_sample_data_20x128x128x3_float32.npy",
        onnx2tf_sample(build_calibration(default_calib_data(), CalibOptions(n=20, imgsz=(128, 128))).arrays))
from ultralytics import YOLO
YOLO({ckpt!r}, task="pose").export(format="saved_model", imgsz={s}, quantize=8, data={data!r})
print(json.dumps({{"ok": True}}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--out", default="build/bench/int8")
    args = ap.parse_args()
    from core.offline import prepare

    prepare()
    from compiler.pipeline import CompileOptions, compile_checkpoint
    from eval.datasets import load_dataset
    from eval.defaults import default_eval_data, shared_faces
    from eval.scoring import ScoreOptions, score_paths
    from scores.table import score_table
    from train.yolo_data import build_yolo_dataset

    ckpt, s, out = default_checkpoint(), args.imgsz, Path(args.out).resolve()
    ours = compile_checkpoint(ckpt, out / f"ours{s}", CompileOptions(imgsz=s), progress=True)
    faces = shared_faces()
    data = build_yolo_dataset(faces / "helen_train", faces / "afw", out / "yolo_data", 51)
    work = out / f"ultralytics{s}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copy(ckpt, work / ckpt.name)
    run_measured(THEIRS.format(ckpt=str(work / ckpt.name), s=s, data=str(data.resolve())), cwd=work)
    theirs = sorted((work / f"{ckpt.stem}_saved_model").glob("*.tflite"))
    paths = [r.path for r in ours if r.path.suffix == ".tflite"] + theirs
    rows = score_paths(paths, load_dataset(default_eval_data()), ScoreOptions(threads=(1,)))
    print(score_table(rows))
    by = {Path(r.artifact).name: r for r in rows}
    fp32, int8 = by[f"ours{s}_fp32.tflite"], by[f"ours{s}_int8.tflite"]
    print(f"\nfull-integer vs fp32 TFLite: NME x{int8.nme / fp32.nme:.3f} (target <= 1.03), "
          f"misses {int8.miss}% vs {fp32.miss}%, latency x{int8.ms_1t / fp32.ms_1t:.3f} (target <= 0.35)")
    for r in rows:
        if "ultralytics" in r.artifact and r.nme is not None:
            print(f"  ultralytics {Path(r.artifact).name}: kind {r.kind}, NME x{r.nme / fp32.nme:.3f}, "
                  f"miss {r.miss}%, latency x{r.ms_1t / fp32.ms_1t:.3f}")
        elif "ultralytics" in r.artifact:
            print(f"  ultralytics {Path(r.artifact).name}: kind {r.kind}, miss {r.miss}% {r.error or ''}")


if __name__ == "__main__":
    main()
