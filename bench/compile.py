"""Compile benchmark: wall time and peak RSS per stage at 320 and 640 for the 51-point
YOLOv8n-pose, beside ultralytics' own export(format='saved_model') of the same checkpoint in
the same run, and the time of a no-op rerun.

    python bench/compile.py [--sizes 320,640] [--out build/bench]
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from common import default_checkpoint, run_measured, write_onnx2tf_sample

OURS = """
import json, sys
from pathlib import Path
from facelm.core.offline import prepare; prepare()
from facelm.compiler.pipeline import CompileOptions, compile_checkpoint
from facelm.core.files import read_manifest
res = compile_checkpoint(Path({ckpt!r}), Path({out!r}), CompileOptions(imgsz={s}, targets=("tflite_fp32", "tflite_fp16")), progress=False)
print(json.dumps({{r.stage: [r.seconds, read_manifest(r.path).get("peak_rss_mb"), r.cached] for r in res}}))
"""

THEIRS = """
import json
from facelm.core.offline import prepare; prepare()
from ultralytics import YOLO
YOLO({ckpt!r}, task="pose").export(format="saved_model", imgsz={s})
print(json.dumps({{"ok": True}}))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="320,640")
    ap.add_argument("--out", default="build/bench/compile")
    args = ap.parse_args()
    ckpt = default_checkpoint()
    from tabulate import tabulate

    summary = []
    for s in map(int, args.sizes.split(",")):
        out = Path(args.out).resolve() / f"ours{s}"
        shutil.rmtree(out, ignore_errors=True)
        ours = run_measured(OURS.format(ckpt=str(ckpt), out=str(out), s=s))
        rerun = run_measured(OURS.format(ckpt=str(ckpt), out=str(out), s=s))
        work = Path(args.out).resolve() / f"ultralytics{s}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        local = work / ckpt.name
        shutil.copy(ckpt, local)
        write_onnx2tf_sample(work)
        theirs = run_measured(THEIRS.format(ckpt=str(local), s=s), cwd=work)
        stages = [[s, st, f"{v[0]:.1f}", v[1]] for st, v in ours["out"].items()]
        print(tabulate(stages, headers=["imgsz", "stage", "seconds", "peak RSS MB"]))
        assert all(v[2] for v in rerun["out"].values()), "rerun did work"
        summary.append([s, f"{ours['wall_s']:.1f}", f"{ours['peak_rss_mb']:.0f}", f"{theirs['wall_s']:.1f}",
                        f"{theirs['peak_rss_mb']:.0f}", f"{ours['wall_s'] / theirs['wall_s']:.2f}",
                        f"{rerun['wall_s']:.2f}"])
    print()
    print(tabulate(summary, headers=["imgsz", "ours s (fp32+fp16, checked)", "ours RSS MB", "ultralytics s",
                                     "ultralytics RSS MB", "ratio ours/theirs", "no-op rerun s"]))


if __name__ == "__main__":
    main()
