"""Shared helpers for the benchmarks: run a Python snippet in a fresh process and report its
wall time and peak RSS, so rival paths are measured side by side in one run."""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_measured(code: str, cwd: Path | None = None) -> dict:
    """Run `code` in a child interpreter; returns wall seconds, child peak RSS (MB) and the
    JSON the code printed last (if any)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code], cwd=cwd or ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if p.returncode:
        raise RuntimeError(f"benchmark child failed:\n{p.stderr[-3000:]}")
    last = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    return {"wall_s": wall, "peak_rss_mb": max(rss, before) / 1024, "out": json.loads(last[-1]) if last else None}


def default_checkpoint() -> Path:
    from facelm.eval.defaults import DEFAULT_MODEL

    if not DEFAULT_MODEL.exists():
        sys.exit(f"{DEFAULT_MODEL} is missing: train it first (python cli.py train) or set FACELM_MODEL")
    return DEFAULT_MODEL


def built_artifact(build: Path, stage: str = "int8") -> Path:
    """A build's TFLite of one precision (<stem>_<stage>.tflite), compiling the built-in model of
    the build's name (build/face51_xs: face51-xs) when the file is missing."""
    art = build / f"{build.name.replace('-', '_')}_{stage}.tflite"
    if not art.is_file():
        from facelm.compiler.pipeline import CompileOptions, compile_checkpoint
        from facelm.eval.defaults import resolve_model

        compile_checkpoint(resolve_model(build.name.replace("_", "-")), build, CompileOptions(), progress=False)
    if not art.is_file():
        sys.exit(f"{art}: not built (a build folder is named after its model, e.g. build/face51_s)")
    return art


def write_onnx2tf_sample(work: Path) -> None:
    """onnx2tf fetches this file from the network unless it is present: give it real faces
    (made here, outside the timed process)."""
    import numpy as np

    from facelm.calib.select import CalibOptions, build_calibration, onnx2tf_sample
    from facelm.core.offline import prepare
    from facelm.eval.defaults import default_calib_data

    prepare()
    cs = build_calibration(default_calib_data(), CalibOptions(n=20, imgsz=(128, 128)))
    np.save(work / "calibration_image_sample_data_20x128x128x3_float32.npy", onnx2tf_sample(cs.arrays))


def built_in_builds() -> str:
    """The --builds default of the benches over the built-in models: build/<model> of each."""
    from facelm.eval.defaults import BUILD, MODELS

    return ",".join(str(BUILD / Path(m).stem) for m in MODELS.values())
