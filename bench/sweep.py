"""Sweep against the same work done by hand, side by side in one run: 2 checkpoints x 3 input
sizes x {fp32, int8} full-integer TFLite, compiled and scored on the shared AFW faces.

  sequential: for each (checkpoint, size), `cli.py compile --targets tflite_fp32,tflite_int8`
              then `cli.py score` of its two artifacts (tflite, 1 thread), one after another;
  sweep:      `cli.py sweep` of the same checkpoints, sizes and precisions (fresh output);
  rerun:      the same sweep again, nothing changed.

Targets: sweep <= 0.75 x sequential wall time; rerun < 10 s.

    python bench/sweep.py [--sizes 128,160,224] [--second CKPT]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, default_checkpoint, run_measured

SECOND = """
import json
from pathlib import Path
from tests.tiny import make_tiny_pose
make_tiny_pose(Path({path!r}), n_kpts=51, imgsz=160, width=0.125)
print(json.dumps({{}}))
"""


def cli(*args, cache: Path) -> float:
    """One command in a fresh process; each side gets its own empty cache (calibration arrays)."""
    import os

    t = time.perf_counter()
    p = subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "FACELM_CACHE": str(cache)})
    if p.returncode not in (0, 1):
        raise RuntimeError(f"cli.py {' '.join(map(str, args))} failed:\n{p.stderr[-2000:]}")
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="128,160,224")
    ap.add_argument("--second", help="a second checkpoint (default: a width-0.125 network from YAML, untrained)")
    ap.add_argument("--out", default="build/bench/sweep")
    args = ap.parse_args()
    work = (ROOT / args.out).resolve()
    shutil.rmtree(work, ignore_errors=True)
    (work / "ckpts").mkdir(parents=True)
    first = work / "ckpts" / "builtin.pt"
    shutil.copy(default_checkpoint(), first)
    second = Path(args.second) if args.second else work / "ckpts" / "narrow.pt"
    if not args.second:
        run_measured(SECOND.format(path=str(second)))
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = "100"

    t_seq = 0.0
    for ck in (first, second):
        for s in sizes:
            out = work / "seq" / f"{ck.stem}_{s}"
            t_seq += cli("compile", ck, "--imgsz", s, "--out", out, "--targets", "tflite_fp32,tflite_int8",
                         cache=work / "cache_seq")
            t_seq += cli("score", out / f"{ck.stem}_fp32.tflite", out / f"{ck.stem}_int8.tflite", "--runtimes",
                         "tflite", "--threads", "1", "--latency-runs", runs, "--out", out / "scores",
                         cache=work / "cache_seq")
            print(f"sequential {ck.stem}@{s}: {t_seq:.0f} s so far", flush=True)
    sweep_args = ("sweep", work / "ckpts", "--imgsz", args.sizes, "--precision", "fp32,int8", "--latency-runs", runs,
                  "--out", work / "sweep")
    t_sweep = cli(*sweep_args, cache=work / "cache_sweep")
    t_rerun = cli(*sweep_args, cache=work / "cache_sweep")
    print(f"\nsequential compile + score: {t_seq:.1f} s")
    print(f"sweep:                      {t_sweep:.1f} s  (x{t_sweep / t_seq:.3f}; target <= 0.75)")
    print(f"sweep rerun, nothing changed: {t_rerun:.1f} s  (target < 10 s)")
    print((work / "sweep" / "sweep.md").read_text())


if __name__ == "__main__":
    main()
