"""Checkpoint load time: facelm's weights-only loader against ultralytics' own full-pickle one,
side by side in one process, interleaved, on the built-in models (and any .pt given).

    python bench/load.py [CKPT.pt ...] [--rounds 15]

Each round loads every file both ways through ultralytics' `load_checkpoint` (fused, float32,
eval: what `compile`, `score` and `predict` do), so the two differ only in how the file's pickle
is read: facelm's opcode scan and PyTorch's weights-only unpickler, or full pickle. Prints the
median seconds of each and their ratio; the target (files from elsewhere) is 'not slower'."""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from common import ROOT


def main() -> None:
    from facelm.core.offline import prepare

    prepare()
    from tabulate import tabulate
    import ultralytics.nn.tasks as tasks

    from facelm.core.safe_load import route_ultralytics

    ap = argparse.ArgumentParser()
    ap.add_argument("ckpts", nargs="*", type=Path)
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args()
    files = a.ckpts or sorted((ROOT / "models").glob("*.pt"))
    full_pickle = tasks.torch_safe_load
    route_ultralytics()
    weights_only = tasks.torch_safe_load
    times = {(f, way): [] for f in files for way in ("full", "weights-only")}
    for _ in range(a.rounds + 1):  # the first round warms imports and caches, and is dropped
        for f in files:
            for way, loader in (("full", full_pickle), ("weights-only", weights_only)):
                tasks.torch_safe_load = loader
                t = time.perf_counter()
                tasks.load_checkpoint(str(f), device="cpu", fuse=True)
                times[(f, way)].append(time.perf_counter() - t)
    tasks.torch_safe_load = weights_only
    rows = []
    for f in files:
        full, wo = (statistics.median(times[(f, w)][1:]) for w in ("full", "weights-only"))
        rows.append([f.name, f"{f.stat().st_size / 1e6:.2f}", f"{full * 1000:.0f}", f"{wo * 1000:.0f}",
                     f"x{wo / full:.2f}"])
    print(tabulate(rows, headers=["checkpoint", "MB", "full pickle ms", "weights-only ms", "ratio"]))


if __name__ == "__main__":
    main()
