"""Cost figures: parameters and GFLOPs from the graph, file size, latency (median, p90) and
peak memory. GFLOPs count convolutions as 2 x MACs, as ultralytics' fused thop count does."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facelm.eval.infer.image import Timing, raw_outputs
from facelm.core.errors import InputError


def onnx_cost(path: Path) -> tuple[float, float]:
    """(GFLOPs, million parameters) of the Conv/Gemm/MatMul nodes of an ONNX graph; weights
    behind DequantizeLinear (QDQ models) are followed to their int8 initialisers."""
    import onnx
    from onnx import shape_inference

    m = shape_inference.infer_shapes(onnx.load(str(path)), data_prop=True)
    if not _conv_shapes_known(m):  # an unsimplified export: shapes hide behind Shape->Reshape chains
        try:
            from onnxsim import simplify

            m = shape_inference.infer_shapes(simplify(m)[0])
        except ImportError:
            return None, None  # no figure rather than a wrong one
    g = m.graph
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(g.value_info) + list(g.output) + list(g.input)}
    inits = {i.name: list(i.dims) for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}

    def weight_shape(name):
        while name not in inits and name in producer and producer[name].op_type in ("DequantizeLinear", "Identity", "Cast"):
            name = producer[name].input[0]
        return inits.get(name)

    flops = params = 0
    for n in g.node:
        if n.op_type == "Conv":
            w = weight_shape(n.input[1])
            out = shapes.get(n.output[0])
            if not w or not out:
                continue
            params += int(np.prod(w)) + (w[0] if len(n.input) > 2 else 0)
            flops += 2 * int(np.prod(out)) * int(np.prod(w[1:]))
        elif n.op_type in ("Gemm", "MatMul"):
            w = weight_shape(n.input[1])
            out = shapes.get(n.output[0])
            if w and out:
                params += int(np.prod(w))
                flops += 2 * int(np.prod(out)) * w[0 if n.op_type == "MatMul" else -1]
    return flops / 1e9, params / 1e6


def _conv_shapes_known(m) -> bool:
    g = m.graph
    known = {v.name for v in list(g.value_info) + list(g.output)
             if all(d.dim_value > 0 for d in v.type.tensor_type.shape.dim)}
    return all(n.output[0] in known for n in g.node if n.op_type == "Conv")


def tflite_cost(path: Path) -> tuple[float, float]:
    """The same count read from a .tflite's CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED ops."""
    from facelm.eval.infer.runtimes.tflite_rt import _interpreter

    it = _interpreter(path, 1)
    t = {d["index"]: list(d["shape"]) for d in it.get_tensor_details()}
    flops = params = 0
    for op in it._get_ops_details():
        name, ins, outs = op["op_name"], op["inputs"], op["outputs"]
        if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") or len(ins) < 2:
            continue
        w, out = t.get(ins[1]), t.get(outs[0])
        if not w or not out:
            continue
        params += int(np.prod(w)) + (w[-1 if name == "DEPTHWISE_CONV_2D" else 0] if len(ins) > 2 and ins[2] >= 0 else 0)
        per_out = int(np.prod(w[1:3])) if name == "DEPTHWISE_CONV_2D" else int(np.prod(w[1:]))
        flops += 2 * int(np.prod(out)) * per_out
    return flops / 1e9, params / 1e6


def torch_cost(model, hw: tuple[int, int]) -> tuple[float, float]:
    """Hand count of Conv2d layers on a fused torch model (the same definition)."""
    import torch

    flops = [0]

    def hook(m, x, y):
        flops[0] += 2 * y.numel() * (m.in_channels // m.groups) * int(np.prod(m.kernel_size))

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.inference_mode():
        model(torch.zeros(1, 3, *hw))
    for h in hs:
        h.remove()
    params = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.Conv2d) for p in m.parameters(recurse=False))
    return flops[0] / 1e9, params / 1e6


def file_mb(path: Path) -> float:
    return Path(path).stat().st_size / 1e6


def thread_counts(text: str) -> tuple[int, ...]:
    """--threads "1,2" as (1, 2); anything else is a one-line usage error."""
    from facelm.core.errors import UserError

    try:
        counts = tuple(int(t) for t in str(text).split(","))
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise UserError(f"--threads {text!r}: expected positive whole numbers like 1,2")
    return tuple(dict.fromkeys(counts))


@dataclass(frozen=True)
class LatencyOptions:
    """How latency is sampled: warm-up invokes, then at least min_runs invokes and min_seconds
    per artifact, spread over `rounds` interleaved rounds so machine noise falls on all alike."""
    warmup: int = 10
    min_runs: int = 100
    min_seconds: float = 1.0
    rounds: int = 10
    io_runs: int = 20

    def __post_init__(self):
        if self.min_runs < 1 or self.rounds < 1 or self.warmup < 0 or self.min_seconds < 0:
            raise InputError("latency: min_runs and rounds must be positive, warmup and min_seconds not negative")


@dataclass(frozen=True)
class Latency:
    median_ms: float
    p90_ms: float
    runs: int
    io_ms: float  # input/output conversion around the call (feed + fetch), median


def time_interleaved(items: dict, opts: LatencyOptions = LatencyOptions(), desc: str | None = None) -> dict:
    """items: key -> (loaded runtime, preprocessed input). Times invoke() alone, the runtime's
    inference call on tensors already set, in interleaved rounds; conversion apart. desc: show
    a progress bar over the rounds."""
    est = {}
    for k, (rt, x) in items.items():
        rt.feed(x)
        calls = []
        for _ in range(max(opts.warmup, 1)):
            t = time.perf_counter()
            rt.invoke()
            calls.append(time.perf_counter() - t)
        # the fastest warm-up call: a slow first call (or one hiccup) would plan too few runs
        # and break the promise of at least min_seconds of timed calls
        est[k] = max(min(calls), 1e-6)
    per_round = {k: math.ceil(max(opts.min_runs, opts.min_seconds / est[k]) / opts.rounds) for k in items}
    samples = {k: [] for k in items}
    rounds = range(opts.rounds)
    if desc:
        from facelm.core.progress import progress

        rounds = progress(rounds, desc=desc, unit="round")
    for _ in rounds:
        for k, (rt, x) in items.items():
            for _ in range(per_round[k]):
                t = time.perf_counter()
                rt.invoke()
                samples[k].append((time.perf_counter() - t) * 1000)
    out = {}
    for k, (rt, x) in items.items():
        io = []
        for _ in range(opts.io_runs):
            t = Timing()
            raw_outputs(rt, x, t)  # the evaluator's own feed / invoke / fetch, conversion apart
            io.append(t.convert * 1000)
        ts = samples[k]
        out[k] = Latency(float(np.median(ts)), float(np.percentile(ts, 90)), len(ts), float(np.median(io)) if io else 0.0)
    return out


def time_artifacts(paths: list[Path], threads: int = 1, latency: LatencyOptions = LatencyOptions(), imgsz=None,
                   progress: bool = False) -> dict:
    """Latency of several model files, timed together in interleaved rounds on this machine,
    on a random input of each one's size: path -> Latency. A file that fails to open is left
    out (whoever scored it has its error already)."""
    from facelm.eval.infer.runtimes import open_runtime

    items = {}
    for p in paths:
        try:
            rt = open_runtime(p, threads, imgsz)
        except Exception:  # noqa: BLE001
            continue
        items[p] = (rt, np.random.default_rng(0).random((1, 3, *rt.input_hw()), dtype=np.float32))
    desc = f"latency, {threads} thread{'s' if threads > 1 else ''}" if progress else None
    return time_interleaved(items, latency, desc) if items else {}


def relative_latency(parent: Path, child: Path, imgsz, threads: int = 1) -> dict:
    """A quick side-by-side (child / parent invoke time, 1 thread) for compile's table."""
    quick = LatencyOptions(warmup=5, min_runs=20, min_seconds=0.3, rounds=4, io_runs=0)
    lat = time_artifacts([parent, child], threads, quick, imgsz)
    if parent not in lat or child not in lat:
        return {}
    return {"ratio": round(lat[child].median_ms / lat[parent].median_ms, 3),
            "parent_ms": round(lat[parent].median_ms, 3), "ms": round(lat[child].median_ms, 3), "threads": threads}


#: /proc/cpuinfo flags that decide int8 speed on x86 (and their names in the table's footer).
ISA = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_vnni": "AVX-512 VNNI", "avx_vnni": "AVX-VNNI",
       "amx_int8": "AMX-INT8", "asimddp": "Arm dot product", "i8mm": "Arm i8mm"}


def machine() -> dict:
    """The CPU that latency was measured on: model, cores, and its int8-relevant features."""
    import os
    import platform

    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, val = line.partition(":")
            if key.strip() == "model name" and model in ("", platform.machine(), platform.processor()):
                model = val.strip()
            elif key.strip() in ("flags", "Features"):
                flags |= set(val.split())
    except OSError:
        pass
    return {"cpu": model, "arch": platform.machine(), "cores": os.cpu_count(),
            "features": [name for f, name in ISA.items() if f in flags]}


def has_vnni() -> bool:
    return any("VNNI" in f or "AMX" in f for f in machine()["features"])


def reset_peak_rss() -> None:
    """Reset the kernel's high-water mark so the next reading is this row's peak (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _status_mb(field: str) -> float | None:
    """A memory line of /proc/self/status (Linux), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def current_rss_mb() -> float:
    return _status_mb("VmRSS") or 0.0


def peak_rss_mb() -> float:
    hwm = _status_mb("VmHWM")
    if hwm is not None:
        return hwm
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
