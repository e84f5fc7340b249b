"""Cost figures: parameters and GFLOPs from the graph, file size, latency (median, p90) and
peak memory. GFLOPs count convolutions as 2 x MACs, as ultralytics' fused thop count does."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np


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
    from eval.runtimes.tflite_rt import _interpreter

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


def latency(run, x: np.ndarray, warmup: int = 5, runs: int = 30) -> tuple[float, float]:
    """(median, p90) milliseconds of run(x) after warm-up."""
    for _ in range(warmup):
        run(x)
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        run(x)
        ts.append((time.perf_counter() - t) * 1000)
    return float(np.median(ts)), float(np.percentile(ts, 90))


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
