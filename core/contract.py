"""The model contract shared by the compiler, the evaluator and the submission runner: the split
head's output layout, what a decoder must know of a model (ModelSpec), and what a checkpoint is
(ModelInfo, its input size resolved and validated once). numpy-free and torch-free, so reading
it costs nothing and the submission runner can vendor it."""
from __future__ import annotations

from dataclasses import dataclass

from facelm.core.errors import InputError, UserError

#: Recorded in every artifact's metadata and manifest.
LAYOUT = "split-anchor-v2"
#: [1,N,4] cxcywh 0..1, [1,N,nc], [1,N,2K] planar offsets (x.., y..) from each anchor's grid point
#: (column and row times the stride)
#: as fractions of the input, and for (x, y, visibility) points [1,N,K] visibility.
OUTPUTS = ("boxes", "scores", "offsets", "visibility")
#: The earlier layout, still decoded: [1,N,K*D] planar absolute landmarks (x.., y.., v..) 0..1
#: in place of offsets and visibility. Adopted packed ONNX files are split into it.
LAYOUT_V1 = "split-norm-v1"
#: ultralytics' end-to-end (NMS-free) export: one output [1, max_det, 6 + K x D] of rows x1, y1,
#: x2, y2 (pixels), score, class, points (pixels) after its own top-k (YOLO26 with nms=False).
LAYOUT_E2E = "end-to-end"
#: The ONNX metadata key holding the layout and the model's spec.
META_KEY = "facelm"

#: The one vocabulary of "kind": what an artifact computes in, read from its own tensors
#: (eval.infer.artifact.describe), never from its file name. Rows, manifests, tables and the sweep use it.
KINDS = {
    "fp32": "float32 throughout",
    "fp16": "float16 weights, float compute",
    "dynamic-range": "int8 weights, float activations",
    "int8-int8-io": "full integer, int8 input and output (scale and zero-point in the file)",
    "int8-float-io": "full integer, float input and output",
    "int16-act-int8-io": "int16 activations, int8 weights, integer input and output",
    "int16-act-float-io": "int16 activations, int8 weights, float input and output",
    "int8-mixed": "int8 with the layers that lose most kept in float",
    "int8-qdq": "ONNX Runtime QDQ: uint8 activations, int8 weights",
}
QUANTISED_KINDS = frozenset(KINDS) - {"fp32", "fp16"}
#: Kinds whose every convolution runs on quantised tensors (inspect compares them tensor by tensor).
INTEGER_KINDS = QUANTISED_KINDS - {"dynamic-range"}
#: What a compile stage promises to make; it decides the check: float precisions are compared
#: tensor to tensor with their tolerances, the others must pass the INT8 guard.
PRECISIONS = ("fp32", "fp16", "int8", "int16x8", "int8-mixed")
FLOAT_PRECISIONS = ("fp32", "fp16")


def is_quantised(kind: str) -> bool:
    """True for every kind that stores weights or activations in integers (int16x8 included):
    these get the "slower than its float parent" note and quantised regression tolerances."""
    if kind not in KINDS:
        raise InputError(f"unknown artifact kind {kind!r}; known: {', '.join(KINDS)}")
    return kind in QUANTISED_KINDS


@dataclass(frozen=True)
class ModelSpec:
    """What the decoder must know about a model's outputs."""
    kpt_shape: tuple[int, int]
    nc: int
    imgsz: tuple[int, int]  # (h, w)
    layout: str = LAYOUT


def output_names(kpt_shape) -> list[str]:
    """The split head's output names for keypoints of (K, D)."""
    return list(OUTPUTS if kpt_shape[1] == 3 else OUTPUTS[:3])


@dataclass(frozen=True)
class ModelInfo:
    """What a pose model is: keypoints, classes, names, input size (validated against the
    stride when made) and stride."""
    kpt_shape: tuple[int, int]
    nc: int
    names: dict
    imgsz: tuple[int, int]  # (h, w)
    stride: int

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec(self.kpt_shape, self.nc, self.imgsz)

    def to_json(self) -> dict:
        return {"kpt_shape": list(self.kpt_shape), "nc": self.nc, "names": {str(k): v for k, v in self.names.items()},
                "imgsz": list(self.imgsz), "stride": self.stride}


def as_hw(imgsz) -> tuple[int, int]:
    """An int or a 1/2-element sequence as (h, w)."""
    if isinstance(imgsz, int):
        return imgsz, imgsz
    h, w = (list(imgsz) * 2)[:2] if len(imgsz) == 1 else imgsz[:2]
    return int(h), int(w)


def resolve_imgsz(imgsz, stride: int, source) -> tuple[int, int]:
    """The one place an input size is validated: positive and a multiple of the model's stride."""
    hw = as_hw(imgsz)
    if min(hw) <= 0 or hw[0] % stride or hw[1] % stride:
        valid = ", ".join(str(stride * i) for i in range(2, 11))
        raise UserError(f"{source}: imgsz {hw[0]}x{hw[1]} is not a multiple of the model stride {stride} "
                        f"(e.g. {valid})")
    return hw
