"""Latency truth and evaluation overhead, on the built-in model at its own input size, one run:

1. `score` (the evaluator's scoring loop, 1 thread) on every artifact of the built-in build,
   on the shared AFW faces: NME, its latency column, evaluation overhead;
2. in the same process, a plain LiteRT interpreter loop for every TFLite artifact (XNNPACK,
   1 thread, tensors set once, 15 interleaved rounds of 20 invokes): the reference latency.

Targets: score's median within 5% of the plain loop for every TFLite artifact; int8-I/O <=
int8 float-I/O; ONNX Runtime INT8 <= 0.6 x ONNX Runtime fp32 with NME <= 1.03 x; evaluation
overhead <= 15% of the inference call.

    python bench/evaluate.py [--max-images N]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import default_checkpoint


def plain_loop(paths: list[Path], rounds: int = 15, per_round: int = 20) -> dict:
    """The interpreter's own invoke, nothing around it: the reference the column must equal."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    its = {}
    for p in paths:
        it = Interpreter(model_path=str(p), num_threads=1)
        it.allocate_tensors()
        d = it.get_input_details()[0]
        it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
        for _ in range(10):
            it.invoke()
        its[p] = (it, [])
    for _ in range(rounds):
        for it, ts in its.values():
            for _ in range(per_round):
                t = time.perf_counter()
                it.invoke()
                ts.append((time.perf_counter() - t) * 1000)
    return {p: float(np.median(ts)) for p, (_, ts) in its.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-images", type=int, default=None)
    args = ap.parse_args()
    from facelm.core.offline import prepare

    prepare()
    from facelm.compiler.pipeline import compile_checkpoint
    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.defaults import BUILD, default_eval_data
    from facelm.eval.cost.profile import machine
    from facelm.eval.scoring import ScoreOptions, find_artifacts, score_paths
    from facelm.scores.table import score_table

    ckpt = default_checkpoint()
    build = BUILD / ckpt.stem
    compile_checkpoint(ckpt, build, progress=False)
    rows = score_paths(find_artifacts(build), load_dataset(default_eval_data()),
                       ScoreOptions(threads=(1,), max_images=args.max_images))
    print(score_table(rows, machine=machine()))
    by = {Path(r.artifact).name.removeprefix(ckpt.stem): r for r in rows}
    tfl = [Path(r.artifact) for r in rows if r.artifact.endswith(".tflite")]
    plain = plain_loop(tfl)
    print("\nscore's ms vs a plain interpreter loop, same run (target: within 5%):")
    for p in tfl:
        r = by[p.name.removeprefix(ckpt.stem)]
        print(f"  {p.name:32s} score {r.ms(1):7.3f}  plain {plain[p]:7.3f}  x{r.ms(1) / plain[p]:.3f}  "
              f"(I/O conversion apart: {r.io_ms} ms)")
    i8, fio = by["_int8.tflite"], by["_int8_fio.tflite"]
    print(f"int8-I/O {i8.ms(1)} ms vs float-I/O {fio.ms(1)} ms: x{i8.ms(1) / fio.ms(1):.3f} (target <= 1)")
    q, f = by[".int8.onnx"], by[".sim.onnx"]
    print(f"ONNX Runtime INT8 vs fp32: latency x{q.ms(1) / f.ms(1):.3f} (target <= 0.6), NME {q.nme} vs {f.nme} "
          f"= x{q.nme / f.nme:.3f} (target <= 1.03), miss {q.miss}% vs {f.miss}%")
    over = by["_fp32.tflite"].eval_overhead
    print(f"evaluation overhead (reading, letterbox, decode, metrics) / invoke, fp32 TFLite: {over} (target <= 0.15)")


if __name__ == "__main__":
    main()
