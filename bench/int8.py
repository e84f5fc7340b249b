"""INT8 benchmark at each model's own input size, one run, shared AFW faces, 1 thread.

For each checkpoint: this code's build (fp32, full-integer int8, int16x8, int8-mixed TFLite and
ONNX Runtime INT8) beside the full-integer TFLite that an earlier revision of this project
compiles from the same checkpoint ("today's" artifact, built in a git worktree of --baseline-rev),
all scored by this evaluator with every latency measured together, interleaved.
Targets: full-integer TFLite NME <= 1.03 x fp32 TFLite, no extra misses; ORT INT8 the same
against its float ONNX; full-integer latency <= 1.10 x today's full-integer artifact.

    python bench/int8.py [CKPT ...] [--baseline-rev 665b93f]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from common import ROOT, default_checkpoint

def baseline_int8(rev: str, ckpt: Path, out: Path) -> Path:
    """The full-integer TFLite of ckpt as revision rev compiles it (same venv, same faces)."""
    tree = out / f"rev-{rev}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev], check=True,
                       capture_output=True)
    dst = out / f"today-{ckpt.stem}"
    subprocess.run([sys.executable, "cli.py", "compile", str(ckpt.resolve()), "--out", str(dst), "--targets",
                    "tflite_int8"], cwd=tree, check=True)
    today = dst / f"{ckpt.stem.replace('.', '_')}_int8.tflite"
    renamed = dst / f"today_{today.name}"
    shutil.copyfile(today, renamed)
    return renamed


def bench_one(ckpt: Path, out: Path, rev: str, ds):
    from facelm.compiler.pipeline import DEFAULT_TARGETS, CompileOptions, compile_checkpoint
    from facelm.compiler.stages import OPT_IN as VARIANTS
    from facelm.eval.scoring import ScoreOptions, score_paths
    from facelm.scores.table import score_table

    built = compile_checkpoint(ckpt, out / ckpt.stem, CompileOptions(targets=DEFAULT_TARGETS + VARIANTS))
    by_stage = {r.stage: r.path for r in built}
    paths = [by_stage[s] for s in ("sim", "tflite_fp32", "tflite_int8", *VARIANTS, "ort_int8")]
    paths.append(baseline_int8(rev, ckpt, out))
    rows = score_paths(paths, ds, ScoreOptions(threads=(1,)))
    print(score_table(rows))
    by = {(Path(r.artifact).name, r.runtime): r for r in rows}

    def row(stage, runtime):
        return by[(by_stage[stage].name, runtime)]
    fp32, int8, sim, ort = (row("tflite_fp32", "tflite"), row("tflite_int8", "tflite"), row("sim", "onnxruntime"),
                            row("ort_int8", "onnxruntime"))
    today = by[(paths[-1].name, "tflite")]
    from facelm.eval.infer.artifact import describe

    print(f"\n{ckpt.name} at its own {describe(by_stage['tflite_fp32']).spec.imgsz[0]} px:")
    print(f"  full-integer vs fp32 TFLite: NME {int8.nme} vs {fp32.nme} = x{int8.nme / fp32.nme:.3f} (target <= 1.03), "
          f"misses {int8.miss}% vs {fp32.miss}% (target: no more)")
    print(f"  ORT INT8 vs float ONNX:      NME {ort.nme} vs {sim.nme} = x{ort.nme / sim.nme:.3f} (target <= 1.03), "
          f"misses {ort.miss}% vs {sim.miss}%")
    print(f"  full-integer latency vs today's full-integer: {int8.ms(1)} vs {today.ms(1)} ms = "
          f"x{int8.ms(1) / today.ms(1):.3f} (target <= 1.10); today's NME {today.nme}, misses {today.miss}%")
    for s in VARIANTS:
        v = row(s, "tflite")
        print(f"  {s}: kind {v.kind}, NME x{v.nme / fp32.nme:.3f}, misses {v.miss}%, {v.ms(1)} ms "
              f"(x{v.ms(1) / int8.ms(1):.2f} of full-integer)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoints", nargs="*", type=Path)
    ap.add_argument("--baseline-rev", default="665b93f", help="Revision whose full-integer artifact is 'today'.")
    ap.add_argument("--out", default="build/bench/int8", type=Path)
    args = ap.parse_args()
    from facelm.core.offline import prepare

    prepare()
    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.defaults import default_eval_data

    ds = load_dataset(default_eval_data())
    for ckpt in args.checkpoints or [default_checkpoint()]:
        bench_one(ckpt, args.out.resolve(), args.baseline_rev, ds)


if __name__ == "__main__":
    main()
