"""An ultralytics pose ONNX (one packed [1, 4 + nc + 3K, N] output in pixels, decoded inside the
graph) rewritten to the split layout, as if compiled from its .pt.

ultralytics' own export is the ONNX users have most, and its in-graph decoding is what makes
full-integer files lose their faces (core/head.py). The head's raw tensors are still in the
graph: each level's last box, score and keypoint 1x1 convolutions (no activation, read only by
the decoding). The graph is cut there and the same SplitDecode the PyTorch path uses is attached,
built from the keypoint convolutions' own weights; the family (`head` in ultralytics' metadata)
decides the keypoint arithmetic. The result is verified against the original graph on images
before it is used; anything that does not match is a RewriteError, never a silent fallback."""
from __future__ import annotations

from pathlib import Path

import numpy as np

#: ultralytics' metadata `head` -> (keypoint scale a, shift b): offset = (a raw + b) x stride.
FAMILIES = {"Pose": (2.0, 0.0), "Pose26": (1.0, 0.5)}


class RewriteError(ValueError):
    """The graph cannot be rewritten safely; the message says why."""


def head_class(m) -> str | None:
    """The head class ultralytics' export metadata names (its `head` key)."""
    return next((p.value for p in m.metadata_props if p.key == "head"), None)


def _head_convs(m, imgsz) -> dict:
    """level grid (h, w) -> {out channels: (conv node, weight, bias)} of the 1x1 convolutions
    that end the head: weights in initializers, on a level's grid, read only by Reshape."""
    from onnx import numpy_helper, shape_inference

    inferred = shape_inference.infer_shapes(m)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*inferred.graph.value_info, *inferred.graph.input]}
    inits = {i.name: i for i in m.graph.initializer}
    readers: dict = {}
    for n in m.graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    levels: dict = {}
    for n in m.graph.node:
        if n.op_type != "Conv" or len(n.input) < 3 or n.input[1] not in inits or \
                {r.op_type for r in readers.get(n.output[0], [])} != {"Reshape"} or _convs_after(n, readers) > 1:
            continue
        w = numpy_helper.to_array(inits[n.input[1]])
        shape = shapes.get(n.input[0]) or []
        on_grid = len(shape) == 4 and min(shape[2:]) > 0 and imgsz[0] % shape[2] == 0 and imgsz[1] % shape[3] == 0 \
            and imgsz[0] // shape[2] == imgsz[1] // shape[3] >= 4
        if w.shape[2:] != (1, 1) or not on_grid:
            continue  # e.g. the DFL's fixed convolution, on [1, 16, 4, N]
        by_ch = levels.setdefault((shape[2], shape[3]), {})
        if w.shape[0] in by_ch:
            raise RewriteError(f"two head convolutions with {w.shape[0]} outputs on the {shape[2]}x{shape[3]} grid")
        by_ch[w.shape[0]] = (n, w, numpy_helper.to_array(inits[n.input[2]]))
    return levels


def _convs_after(node, readers: dict, limit: int = 2) -> int:
    """How many convolutions the node's output reaches (up to limit): the head's last ones reach
    at most the DFL's; a backbone layer's (an attention block also reshapes) reaches many."""
    seen, todo, convs = set(), list(node.output), 0
    while todo and convs < limit:
        for r in readers.get(todo.pop(), []):
            if id(r) not in seen:
                seen.add(id(r))
                convs += r.op_type == "Conv"
                todo += list(r.output)
    return convs


def plan(m, kpt_shape, nc: int, imgsz) -> dict:
    """Where to cut: per level (finest first) the box, score and keypoint convolutions, and the
    family's constants. Raises RewriteError naming what does not fit."""
    head = head_class(m)
    if head not in FAMILIES:
        raise RewriteError(f"head {head!r} is not one of {', '.join(FAMILIES)} (ultralytics' metadata)")
    nk = kpt_shape[0] * kpt_shape[1]
    levels = _head_convs(m, imgsz)
    out = []
    for grid in sorted(levels, key=lambda g: -g[0] * g[1]):
        by = levels[grid]
        box = [c for c in by if c not in (nc, nk)]
        if nc not in by or nk not in by or len(box) != 1 or box[0] % 4:
            raise RewriteError(f"the {grid[0]}x{grid[1]} level lacks a box ({nc}/{nk} excluded), score ({nc}) or "
                               f"keypoint ({nk}) convolution: found {sorted(by)}")
        out.append({"grid": grid, "stride": imgsz[0] / grid[0], "box": by[box[0]], "cls": by[nc], "kpt": by[nk]})
    if not out or len({lv["box"][1].shape[0] for lv in out}) != 1:
        raise RewriteError("no head convolutions found" if not out else "levels disagree on the box channels")
    a, b = FAMILIES[head]
    return {"levels": out, "reg_max": out[0]["box"][1].shape[0] // 4, "kpt_a": a, "kpt_b": b, "head": head}


def _tail(p: dict, kpt_shape, imgsz, opset: int, path: Path) -> list[str]:
    """The split decoding as its own ONNX graph, inputs box_i, cls_i, trunk_i; returns them."""
    import torch
    from torch import nn

    from facelm.core.contract import output_names
    from facelm.core.head import SplitDecode

    convs = []
    for lv in p["levels"]:
        _, w, bias = lv["kpt"]
        c = nn.Conv2d(w.shape[1], w.shape[0], 1)
        with torch.no_grad():
            c.weight.copy_(torch.from_numpy(w))
            c.bias.copy_(torch.from_numpy(bias))
        convs.append(c)
    dec = SplitDecode(convs, [lv["stride"] for lv in p["levels"]], p["reg_max"], kpt_shape, imgsz, p["kpt_a"],
                      p["kpt_b"]).eval()
    n = len(p["levels"])

    class Tail(nn.Module):
        def forward(self, *t):
            return dec(list(t[:n]), list(t[n:2 * n]), list(t[2 * n:]))

    names = [f"{k}_{i}" for k in ("box", "cls", "trunk") for i in range(n)]
    ins = [torch.zeros(1, lv[k][1].shape[1 if k == "kpt" else 0], *lv["grid"])
           for k in ("box", "cls", "kpt") for lv in p["levels"]]
    with torch.no_grad():
        torch.onnx.export(Tail(), tuple(ins), str(path), opset_version=opset, input_names=names,
                          output_names=output_names(kpt_shape), dynamo=False, do_constant_folding=True)
    return names


def rewrite_packed(src: Path, kpt_shape, nc: int, imgsz, tmp: Path):
    """The packed ONNX at src rewritten to the split layout (an onnx ModelProto, not verified)."""
    import onnx
    from onnx import compose, shape_inference, utils

    m = onnx.load(str(src))
    p = plan(m, kpt_shape, nc, imgsz)
    cut = [lv[k][0].output[0] for k in ("box", "cls") for lv in p["levels"]] + \
          [lv["kpt"][0].input[0] for lv in p["levels"]]
    body = utils.Extractor(shape_inference.infer_shapes(m)).extract_model([m.graph.input[0].name],
                                                                          list(dict.fromkeys(cut)))
    opset = next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    names = _tail(p, kpt_shape, imgsz, opset, tmp / "tail.onnx")
    tail = compose.add_prefix(onnx.load(str(tmp / "tail.onnx")), "split/", rename_inputs=False, rename_outputs=False)
    tail.ir_version = body.ir_version
    merged = compose.merge_models(body, tail, io_map=list(zip(cut, names)))
    merged.graph.name = m.graph.name
    ops = {o.domain: o.version for o in merged.opset_import}  # merge_models lists the default domain twice
    del merged.opset_import[:]
    merged.opset_import.extend(onnx.helper.make_opsetid(d, v) for d, v in ops.items())
    return merged, p


def clip_like_split(std: tuple, imgsz) -> tuple:
    """A packed head's standardised (boxes, scores, points) brought into the split head's range:
    boxes clipped to the input, each point's offset from its grid point clamped to KPT_REACH,
    then points clipped to the input (core/head.py, eval/infer/decode.py), so the two compare exactly."""
    from facelm.core.head import KPT_REACH
    from facelm.eval.infer.decode import grid_points

    boxes, scores, kp = std
    gx, gy = grid_points(len(boxes), tuple(imgsz))
    kp = kp.copy()
    kp[..., 0] = np.clip(np.clip(kp[..., 0] - gx[:, None], -KPT_REACH, KPT_REACH) + gx[:, None], 0, 1)
    kp[..., 1] = np.clip(np.clip(kp[..., 1] - gy[:, None], -KPT_REACH, KPT_REACH) + gy[:, None], 0, 1)
    return np.clip(boxes, 0, 1), scores, kp


def verify_rewrite(original: Path, rewritten: Path, spec, images: np.ndarray, tol: float = 1e-4) -> float:
    """Largest difference between the two graphs' boxes, scores and points on images (NCHW
    float, 0..1), the original's brought into the split head's range; RewriteError above tol."""
    import onnxruntime as ort

    from facelm.eval.infer.decode import standardise

    runs = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (original, rewritten)]
    worst = 0.0
    for x in images:
        a, b = (standardise(s.run(None, {s.get_inputs()[0].name: x[None]}), spec) for s in runs)
        a = clip_like_split(a, spec.imgsz)
        diffs = [np.abs(a[0] - b[0]), np.abs(a[1] - b[1]), np.abs(a[2][..., :2] - b[2][..., :2])]
        worst = max(worst, *(float(d.max()) for d in diffs))
    if worst > tol:
        raise RewriteError(f"the rewritten graph differs from the original by {worst:.2g} (tolerance {tol:g})")
    return worst
