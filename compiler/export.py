"""Stage `onnx`: a pose checkpoint -> fixed-shape ONNX with the split, normalised head; or an
existing .onnx adopted as the start (a packed ultralytics export is given split outputs)."""
from __future__ import annotations

import json
from pathlib import Path

from facelm.core.contract import LAYOUT, LAYOUT_E2E, LAYOUT_V1, META_KEY, ModelInfo, output_names
from facelm.core.errors import UserError


def set_metadata(model, info: ModelInfo, layout: str = LAYOUT) -> None:
    """Record the model's spec in the ONNX file so any later reader can decode it."""
    props = {p.key: p.value for p in model.metadata_props}
    props[META_KEY] = json.dumps({"layout": layout, "outputs": [o.name for o in model.graph.output], **info.to_json()})
    del model.metadata_props[:]
    for k, v in props.items():
        model.metadata_props.add(key=k, value=v)


def export_model(model, info: ModelInfo, dst: Path, opset: int) -> dict:
    """Trace a loaded pose model with the split head to ONNX at info's fixed 1x3xHxW shape;
    returns which head and branch were exported, for the manifest."""
    import onnx
    import torch

    from facelm.core.head import SplitPoseModel

    wrapped = SplitPoseModel(model, info.imgsz).eval()
    x = torch.zeros(1, 3, *info.imgsz)
    with torch.no_grad():
        torch.onnx.export(wrapped, x, str(dst), opset_version=opset, input_names=["images"],
                          output_names=output_names(info.kpt_shape), dynamo=False, do_constant_folding=True)
    m = onnx.load(str(dst))
    set_metadata(m, info)
    onnx.save(m, str(dst))
    return {"head": type(wrapped.head).__name__, "branch": wrapped.branch.name,
            "why": "an end-to-end head: ultralytics' fuse() keeps only its one-to-one branch, the one it "
                   "exports and trains for inference; the decoder still runs NMS, which one-to-one predictions leave little to do"
            if wrapped.branch.one2one else "the head's only inference branch"}


def onnx_info(src: Path, imgsz=None) -> ModelInfo:
    """ModelInfo of an existing ONNX start: it must load, have one fixed 1x3xHxW input and be
    a pose model; its input size is fixed, so a different imgsz is an error."""
    import onnx

    from facelm.core.contract import as_hw
    from facelm.eval.infer.artifact import describe

    try:
        m = onnx.load(str(src), load_external_data=False)
        onnx.checker.check_model(m)
    except Exception as e:
        raise UserError(f"{src}: not a valid ONNX model ({type(e).__name__}: {str(e)[:120]})") from None
    if len(m.graph.input) != 1 or any(d.dim_value <= 0 for d in m.graph.input[0].type.tensor_type.shape.dim):
        raise UserError(f"{src}: needs one input of fixed shape 1x3xHxW")
    spec = describe(src).spec
    if imgsz is not None and as_hw(imgsz) != spec.imgsz:
        raise UserError(f"{src}: an ONNX model's input size is fixed at {spec.imgsz[0]}x{spec.imgsz[1]}; "
                        f"--imgsz {imgsz} cannot change it (compile the .pt instead)")
    return ModelInfo(spec.kpt_shape, spec.nc, {i: str(i) for i in range(spec.nc)}, spec.imgsz, 32)


def adopt_onnx(src: Path, dst: Path, info: ModelInfo, images) -> dict:
    """Start from an existing ONNX and record the contract. A packed ultralytics export is
    rewritten to the split layout and verified against itself on `images` (compiler/rewrite.py);
    where it cannot be, its output is only sliced apart (split_packed), and one line warns that
    its full-integer files will lose faces. Returns the report for the manifest."""
    import sys
    import tempfile

    import onnx

    from facelm.compiler.rewrite import RewriteError, rewrite_packed, verify_rewrite
    from facelm.eval.infer.artifact import describe

    art = describe(src)
    if art.layout == LAYOUT_E2E:
        raise UserError(f"{src}: an end-to-end (NMS-free, top-k) export: its top-k leaves no per-anchor outputs to "
                        "split for INT8; compile the .pt, or an export with nms=None")
    if art.layout != "packed":
        m = onnx.load(str(src))
        set_metadata(m, info, art.layout)
        onnx.save(m, str(dst))
        return {"from": "onnx"}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            m, plan = rewrite_packed(src, info.kpt_shape, info.nc, info.imgsz, Path(tmp))
            set_metadata(m, info, LAYOUT)
            onnx.save(m, str(dst))
            diff = verify_rewrite(src, dst, art.spec, images)
        return {"from": "onnx", "rewritten": f"packed {plan['head']} head -> {LAYOUT}", "levels": len(plan["levels"]),
                "max_diff_vs_original": diff}
    except RewriteError as e:
        print(f"warning: {src}: its packed output cannot be rewritten to the INT8-friendly layout ({e}); full-integer "
              "files will lose faces: compile the .pt instead", file=sys.stderr)
        m = split_packed(onnx.load(str(src)), info)
        set_metadata(m, info, LAYOUT_V1)
        onnx.save(m, str(dst))
        return {"from": "onnx", "rewritten": None, "why_not": str(e)}


def split_packed(m, info: ModelInfo):
    """Append Slice/Transpose/Div nodes that turn [1, 4+nc+K*D, N] pixels into the split,
    normalised outputs of the earlier layout (absolute landmarks): its anchors are added inside
    the graph, so INT8 loses more here than from a .pt start."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    g = m.graph
    src = g.output[0].name
    k, d = info.kpt_shape
    h, w = info.imgsz
    n = [dim.dim_value for dim in g.output[0].type.tensor_type.shape.dim][2]
    c = [0, 4, 4 + info.nc, 4 + info.nc + k * d]
    inits = {
        "fl_starts": [c[0], c[1], c[2]], "fl_ends": [c[1], c[2], c[3]],
        "fl_box_scale": np.array([w, h, w, h], np.float32).reshape(1, 1, 4),
        "fl_kpt_scale": np.array(([w, h, 1.0] if d == 3 else [w, h]) * k, np.float32).reshape(1, 1, k * d),
        "fl_planar": np.array([p * d + c for c in range(d) for p in range(k)], np.int64),
    }
    for name, v in inits.items():
        arr = np.asarray(v, np.int64 if any(t in name for t in ("starts", "ends", "planar")) else np.float32)
        g.initializer.append(numpy_helper.from_array(arr, name))
    axes = numpy_helper.from_array(np.array([1], np.int64), "fl_axes")
    g.initializer.append(axes)
    nodes, outs = [], []
    for i, (name, scale) in enumerate([("boxes", "fl_box_scale"), ("scores", None), ("landmarks", "fl_kpt_scale")]):
        for nm, val in ((f"fl_s{i}", c[i]), (f"fl_e{i}", c[i + 1])):
            g.initializer.append(numpy_helper.from_array(np.array([val], np.int64), nm))
        nodes.append(helper.make_node("Slice", [src, f"fl_s{i}", f"fl_e{i}", "fl_axes"], [f"fl_sl{i}"]))
        nodes.append(helper.make_node("Transpose", [f"fl_sl{i}"], [name if scale is None else f"fl_t{i}"], perm=[0, 2, 1]))
        if scale == "fl_box_scale":
            nodes.append(helper.make_node("Div", [f"fl_t{i}", scale], [name]))
        elif scale:  # landmarks: normalise, then reorder interleaved (x, y, v) to planar
            nodes.append(helper.make_node("Div", [f"fl_t{i}", scale], [f"fl_d{i}"]))
            nodes.append(helper.make_node("Gather", [f"fl_d{i}", "fl_planar"], [name], axis=2))
        width = c[i + 1] - c[i]
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, n, width]))
    g.node.extend(nodes)
    del g.output[:]
    g.output.extend(outs)
    return m
