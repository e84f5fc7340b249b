"""What an artifact is, read from the file itself (and its manifest when compile made it):
the decoder's spec, the output layout, the numeric kind, and its float parent."""
from __future__ import annotations

import ast
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facelm.core.contract import LAYOUT, LAYOUT_E2E, LAYOUT_V1, META_KEY, ModelSpec
from facelm.core.errors import UserError
from facelm.core.files import read_manifest


@dataclass(frozen=True)
class Artifact:
    path: Path
    spec: ModelSpec
    layout: str          # core.contract.LAYOUT, LAYOUT_V1 or "packed"
    kind: str            # one of core.contract.KINDS, read from the file's tensors
    parent: Path | None  # the artifact it was verified against, when a manifest says


def describe(path: Path, imgsz: int | None = None) -> Artifact:
    """Read an artifact's spec and kind; raises UserError naming the file when it cannot."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such artifact")
    manifest = read_manifest(path)
    parent = (path.parent / manifest["parent"]) if manifest and manifest.get("parent") else None
    try:
        if path.suffix == ".pt":
            from facelm.core.checkpoint import load_pose_checkpoint

            _, info = load_pose_checkpoint(path, imgsz)
            return Artifact(path, info.spec, LAYOUT, "fp32", parent)
        if path.suffix == ".onnx":
            spec, layout = _onnx_spec(path)
            return Artifact(path, spec, layout, onnx_kind(path), parent)
        if path.suffix == ".tflite":
            spec, layout = _tflite_spec(path, manifest)
            return Artifact(path, spec, layout, tflite_kind(path), parent)
    except UserError:
        raise
    except Exception as e:
        raise UserError(f"{path}: cannot be read as a model ({type(e).__name__}: {str(e)[:120]})") from None
    raise UserError(f"{path}: unknown model format (expected .pt, .onnx or .tflite)")


def _onnx_spec(path: Path) -> tuple[ModelSpec, str]:
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    meta = {p.key: p.value for p in m.metadata_props}
    ins = m.graph.input[0].type.tensor_type.shape.dim
    hw = (ins[2].dim_value, ins[3].dim_value)
    if META_KEY in meta:
        d = json.loads(meta[META_KEY])
        return ModelSpec(tuple(d["kpt_shape"]), int(d["nc"]), tuple(d["imgsz"]), d["layout"]), d["layout"]
    if "kpt_shape" in meta:  # ultralytics' own export
        names = ast.literal_eval(meta.get("names", "{0: 'face'}"))
        layout = LAYOUT_E2E if meta.get("end2end") == "True" else "packed"
        return ModelSpec(tuple(ast.literal_eval(meta["kpt_shape"])), len(names), hw, layout), layout
    out = [d.dim_value for d in m.graph.output[0].type.tensor_type.shape.dim]
    return _infer_packed(out, hw, path), "packed"


def _infer_packed(shape, hw, path) -> ModelSpec:
    """No metadata: assume one face class and (x, y, visibility) keypoints."""
    c = min(shape[1:])
    if len(shape) != 3 or (c - 5) % 3:
        raise UserError(f"{path}: no keypoint metadata and output shape {shape} is not a packed pose output")
    return ModelSpec(((c - 5) // 3, 3), 1, hw)


def _tflite_spec(path: Path, manifest: dict | None) -> tuple[ModelSpec, str]:
    from facelm.eval.infer.runtimes.tflite_rt import _interpreter

    it = _interpreter(path, 1)
    s = it.get_input_details()[0]["shape"]
    hw = (int(s[1]), int(s[2])) if s[-1] == 3 else (int(s[2]), int(s[3]))
    if manifest and "model" in manifest:
        d = manifest["model"]
        layout = manifest.get("layout", LAYOUT)
        return ModelSpec(tuple(d["kpt_shape"]), int(d["nc"]), hw, layout), layout
    outs = it.get_output_details()
    meta = _embedded_metadata(path)
    if len(outs) in (3, 4):  # split head without a manifest: (x, y, visibility) points assumed
        return _split_spec(sorted(int(o["shape"][-1]) for o in outs), hw, path)
    if meta and "kpt_shape" in meta:
        names = meta.get("names", {0: "face"})
        layout = LAYOUT_E2E if meta.get("end2end") in (True, "True") else "packed"
        return ModelSpec(tuple(meta["kpt_shape"]), len(names), hw, layout), layout
    return _infer_packed(list(outs[0]["shape"]), hw, path), "packed"


def _split_spec(widths: list[int], hw, path: Path) -> tuple[ModelSpec, str]:
    """Widths 4, nc, 2K, K (this layout) or 4, nc, 3K (the earlier one), K > max(4, nc)."""
    rest = list(widths)
    if 4 in rest:
        rest.remove(4)
    if len(widths) == 4 and len(rest) == 3 and rest[2] == 2 * rest[1]:
        return ModelSpec((rest[1], 3), rest[0], hw, LAYOUT), LAYOUT
    if len(widths) == 3 and len(rest) == 2 and rest[1] % 3 == 0:
        return ModelSpec((rest[1] // 3, 3), rest[0], hw, LAYOUT_V1), LAYOUT_V1
    raise UserError(f"{path}: outputs of widths {widths} are not a split pose head")


def _embedded_metadata(path: Path) -> dict | None:
    """ultralytics appends a zip holding metadata.txt to the .tflite files it writes."""
    try:
        with zipfile.ZipFile(path) as z:
            return ast.literal_eval(z.read(z.namelist()[0]).decode())
    except Exception:
        return None


def onnx_kind(path: Path) -> str:
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    ops = {n.op_type for n in m.graph.node}
    if ops & {"QuantizeLinear", "DequantizeLinear", "QLinearConv"}:
        return "int8-qdq"
    if any(t.data_type == onnx.TensorProto.FLOAT16 for t in m.graph.initializer):
        return "fp16"
    return "fp32"


def tflite_kind(path: Path) -> str:
    """Classify by tensor dtypes, not by file name: a file called int8 whose convolutions run
    on float activations is dynamic-range, and is reported so."""
    from facelm.eval.infer.runtimes.tflite_rt import _interpreter

    it = _interpreter(path, 1)
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    ops = [o for o in it._get_ops_details() if o["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    act = {np.dtype(tensors[o["inputs"][0]]["dtype"]).name for o in ops if o["inputs"][0] in tensors}
    io = {np.dtype(d["dtype"]).name for d in it.get_input_details() + it.get_output_details()}
    outputs = {d["index"] for d in it.get_output_details()}
    inner_float = any(o["op_name"] == "DEQUANTIZE" and not set(o["outputs"]) <= outputs
                      and tensors[o["inputs"][0]]["dtype"] in (np.int8, np.int16) for o in it._get_ops_details())
    if act and "int8" in act and (inner_float or "float32" in act):  # some layers kept in float
        return "int8-mixed"
    if act and act <= {"int8", "int16"}:
        base = "int16-act" if "int16" in act else "int8"
        return f"{base}-int8-io" if io <= {"int8", "uint8"} else f"{base}-float-io"
    if any(np.dtype(t["dtype"]).name == "float16" for t in tensors.values()):
        return "fp16"
    if any(np.dtype(tensors[o["inputs"][1]]["dtype"]).name == "int8" for o in ops if o["inputs"][1] in tensors):
        return "dynamic-range"
    return "fp32"
