"""Where a quantised model's error comes from: every intermediate tensor it shares with its
float parent, run side by side on the same real faces, compared value for value.

For each shared activation: its int8/int16 scale and zero point, the fraction of the parent's
values outside the representable range (clipped), and over the values inside it the error in
units of the scale (RMSE; rounding alone gives 1/sqrt(12) = 0.29, more is error carried in from
earlier layers) and the signal-to-quantisation-noise ratio (SQNR, dB). Then what each output costs in landmarks: the drift (NME, percent of
the inter-ocular distance, and pixels at the model's input) of the decoded faces when that one
output comes from the quantised model and the others from the float one."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from facelm.eval.infer.decode import decode
from facelm.eval.metrics.evaluate import drift

_CONST = re.compile(r"^(Const|arith\.constant|pseudo_qconst)[\w.]*$")
QUANTISED = ("int8", "uint8", "int16")


@dataclass
class TensorError:
    name: str
    op: str
    depth: int          # position of the producing op in the quantised graph's execution order
    shape: list
    dtype: str
    scale: float
    zero_point: int
    clipped: float      # fraction of the parent's values outside the int range
    rmse_steps: float   # RMS error / scale
    sqnr_db: float | None  # None: no error at all
    signal_steps: float    # RMS of the parent's values in units of the scale

    def row(self) -> dict:
        return asdict(self)


def tensor_key(name: str) -> str:
    """A tensor's name without the constants the converter appends (they differ between the
    float and the quantised conversion of the same graph)."""
    return ";".join(sorted(p for p in name.split(";") if not _CONST.match(p)))


def _open(path: Path):
    from facelm.eval.infer.runtimes.tflite_rt import TfliteRuntime

    rt = TfliteRuntime()
    rt.keep_all = True
    rt.load(Path(path), threads=2)
    return rt


def _activations(rt) -> dict[str, tuple[int, str, int, dict]]:
    """key -> (tensor index, producing op, its position, details) for every op output."""
    details = {t["index"]: t for t in rt.it.get_tensor_details()}
    out = {}
    for depth, op in enumerate(rt.it._get_ops_details()):
        for i in op["outputs"]:
            if i in details:
                out.setdefault(tensor_key(details[i]["name"]), (i, op["op_name"], depth, details[i]))
    return out


class _Acc:
    """Sums over every value of a tensor: the error of values inside its int range (rounding,
    plus what earlier layers passed on) apart from how many fell outside it (clipping), so a
    clamp the graph applies anyway does not hide a tensor whose precision is really short."""

    def __init__(self):
        self.sig = self.err = self.steps = self.clip = self.n = self.n_in = 0.0
        self.scale = 1.0

    def add(self, f: np.ndarray, q: np.ndarray, scale: float, zp: int, info) -> None:
        lo, hi = (info.min - zp - 0.5) * scale, (info.max - zp + 0.5) * scale
        inside = (f >= lo) & (f <= hi)
        f_in = f[inside]
        e = (q[inside].astype(np.float64) - zp) * scale - f_in
        self.sig += float(np.sum(np.square(f_in, dtype=np.float64)))
        self.err += float(np.sum(e * e))
        self.steps += float(np.sum(np.square(e / scale)))
        self.clip += float(f.size - f_in.size)
        self.n += f.size
        self.n_in += f_in.size
        self.scale = scale

    @property
    def rmse_steps(self) -> float:
        return float(np.sqrt(self.steps / self.n_in)) if self.n_in else 0.0

    @property
    def signal_steps(self) -> float:
        return round(float(np.sqrt(self.sig / self.n_in)) / self.scale, 3) if self.n_in else 0.0


def tflite_tensor_errors(quantised: Path, parent: Path, inputs: np.ndarray, progress=None):
    """(per-tensor errors ranked worst first, raw outputs of both models per input)."""
    q, f = _open(quantised), _open(parent)
    qa, fa = _activations(q), _activations(f)
    shared = {k: v for k, v in qa.items() if k in fa and np.dtype(v[3]["dtype"]).name in QUANTISED
              and tuple(v[3]["shape"]) == tuple(fa[k][3]["shape"]) and v[3]["quantization"][0] > 0}
    accs = {k: _Acc() for k in shared}
    outs = []
    for x in (progress(inputs) if progress else inputs):
        for rt in (q, f):
            rt.run(x[None])
        outs.append(_aligned(q.fetch(), f.fetch()))
        for k, (qi, _, _, d) in shared.items():
            scale, zp = d["quantization"]
            accs[k].add(f.it.get_tensor(fa[k][0]).astype(np.float64), q.it.get_tensor(qi), scale, zp,
                        np.iinfo(d["dtype"]))
    rows = []
    for k, (qi, op, depth, d) in shared.items():
        a = accs[k]
        rows.append(TensorError(d["name"], op, depth, [int(s) for s in d["shape"]], np.dtype(d["dtype"]).name,
                                float(d["quantization"][0]), int(d["quantization"][1]), a.clip / a.n,
                                a.rmse_steps, _sqnr(a.sig, a.err), a.signal_steps))
    return rank(rows), outs


def _aligned(qo: list, fo: list) -> tuple[list, list]:
    """The quantised outputs in the parent's order (converters may number them differently)."""
    left = list(qo)
    out = []
    for f in fo:
        j = next(i for i, q in enumerate(left) if q.shape == f.shape)
        out.append(left.pop(j))
    return out, list(fo)


def _sqnr(signal: float, error: float) -> float | None:
    if error <= 0:
        return None
    return round(float(10 * np.log10(signal / error)), 2) if signal > 0 else float(-99.0)


def rank(rows: list[TensorError]) -> list[TensorError]:
    """Worst first: lowest SQNR (error against the tensor's own signal), among tensors whose
    signal spans at least two quantisation steps (RMS); the near-empty ones (background scores,
    a sigmoid far in its tail), whose SQNR reflects rounding alone, follow, by RMSE in steps.
    Among equals (a tensor and its reshapes) the earliest, where the error arose."""
    def key(r: TensorError):
        used = r.signal_steps >= 2
        sq = np.inf if r.sqnr_db is None else r.sqnr_db
        return (not used, sq if used else -r.rmse_steps, r.depth)
    return sorted(rows, key=key)


def output_names(outs: list, spec) -> list[str]:
    """Names of a split head's outputs, by their widths (core.contract.OUTPUTS)."""
    k, _ = spec.kpt_shape
    by_width = {4: "boxes", spec.nc: "scores", 2 * k: "offsets", k: "visibility"}
    return [by_width.get(int(o.shape[-1]), f"output{i}") for i, o in enumerate(outs)]


def output_costs(spec, outs: list, names: list[str]) -> list[dict]:
    """For each output: the landmark drift of decoded faces when only that output is quantised
    (all of them together last), in input pixels. outs: (quantised, float) outputs per input."""
    from facelm.eval.infer.preprocess import Letterbox

    k = spec.kpt_shape[0]
    same = Letterbox(tuple(spec.imgsz), (1.0, 1.0), (0, 0))  # keep points in input pixels
    parent = {i: decode(fo, spec, same) for i, (_, fo) in enumerate(outs)}
    iod = _median_iod(parent, k)
    rows = []
    for j, name in enumerate(names + ["all outputs"]):
        child = {}
        for i, (qo, fo) in enumerate(outs):
            mixed = list(qo) if j == len(names) else [qo[m] if m == j else fo[m] for m in range(len(fo))]
            child[i] = decode(mixed, spec, same)
        nme, missed = drift(child, parent, k)
        rows.append({"output": name, "drift_nme": nme, "drift_px": round(nme / 100 * iod, 3) if iod else None,
                     "faces_lost": missed})
    return rows


def _median_iod(parent: dict, k: int) -> float | None:
    """Median inter-ocular distance (input pixels) of the parent's faces; None when unknown."""
    if k not in (51, 68):
        return None
    from facelm.eval.data.landmarks import OUTER_EYE_CORNERS, canonical_indices

    ids = list(canonical_indices(k))
    a, b = ids.index(OUTER_EYE_CORNERS[0]), ids.index(OUTER_EYE_CORNERS[1])
    d = [np.linalg.norm(f.points[a] - f.points[b]) for faces in parent.values() for f in faces]
    return float(np.median(d)) if d else None


def ort_tensor_errors(quantised: Path, parent: Path, inputs: np.ndarray, work: Path):
    """The same table for an ONNX Runtime QDQ model, matched by onnxruntime's qdq_loss_debug:
    SQNR of each dequantised tensor against the float model's (its xmodel_err)."""
    import onnx
    from onnxruntime.quantization.qdq_loss_debug import (collect_activations, create_activation_matching,
                                                          modify_model_output_intermediate_tensors)

    from facelm.eval.infer.runtimes.ort_rt import calibration_reader

    acts = {}
    for role, path in (("q", quantised), ("f", parent)):
        aug = work / f"{role}_{Path(path).name}"
        modify_model_output_intermediate_tensors(str(path), str(aug))
        name = onnx.load(str(aug), load_external_data=False).graph.input[0].name
        acts[role] = collect_activations(str(aug), calibration_reader(name, inputs))
        aug.unlink()
    qparams, depth = _qdq_params(onnx.load(str(quantised)))
    rows = []
    for name, m in create_activation_matching(acts["q"], acts["f"]).items():
        if name not in qparams or "float" not in m:
            continue
        scale, zp, dt, op = qparams[name]
        acc = _Acc()
        for f, q in zip(m["float"], m["post_qdq"]):
            acc.add(np.asarray(f, np.float64), np.round(np.asarray(q, np.float64) / scale + zp), scale, zp,
                    np.iinfo(dt))
        rows.append(TensorError(name, op, depth.get(name, -1), list(np.asarray(m["float"][0]).shape), dt.name,
                                scale, zp, acc.clip / acc.n, acc.rmse_steps,
                                _sqnr(acc.sig, acc.err), acc.signal_steps))
    return rank(rows)


def _qdq_params(model) -> tuple[dict, dict]:
    """tensor -> (scale, zero point, its dtype, producing op) for every activation a QuantizeLinear reads,
    and tensor -> position of its producing node."""
    from onnx import numpy_helper

    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    producer = {o: (i, n.op_type) for i, n in enumerate(model.graph.node) for o in n.output}
    out = {}
    for n in model.graph.node:
        if n.op_type == "QuantizeLinear" and n.input[1] in init and n.input[0] in producer:
            zp = init[n.input[2]] if len(n.input) > 2 and n.input[2] in init else np.array(0, np.uint8)
            if np.asarray(init[n.input[1]]).size == 1:
                out[n.input[0]] = (float(init[n.input[1]]), int(zp), np.dtype(zp.dtype), producer[n.input[0]][1])
    return out, {t: p[0] for t, p in producer.items()}
