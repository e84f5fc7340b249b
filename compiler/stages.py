"""The compile stages, each a small function (source, reference, output, context) -> report,
and the one visible PIPELINE list that composes them. PIPELINE is the single source of truth:
its rows are the dependency graph (builds_from), the check plan (checks_against, also the INT8
guard's parent), the cache key (options), the order artifacts are listed and scored in (each
manifest records its row's position), and SHIP_ORDER names the artifact a submission takes."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from facelm.compiler import convert, export
from facelm.compiler.guard import ORT_ATTEMPTS, TFLITE_ATTEMPTS, VARIANT_ATTEMPTS, int8_with_guard, passes
from facelm.compiler.verify import compare_float
from facelm.core.clock import part
from facelm.core.contract import FLOAT_PRECISIONS, PRECISIONS
from facelm.core.errors import InputError


@dataclass(frozen=True)
class Stage:
    name: str
    builds_from: str     # the stage whose artifact this one is made from ("source": the input)
    filename: str        # formatted with {stem}, the checkpoint's name
    precision: str | None  # core.contract.PRECISIONS: decides the check; None: not checked itself
    checks_against: str  # the stage whose artifact this one must match numerically
    build: Callable      # (src, ref, dst, ctx) -> dict (report for the manifest)
    options: tuple = ()  # the option fields that change this stage's output (the cache key)


def _export(src: Path, ref: Path, dst: Path, ctx) -> dict:
    if src.suffix == ".onnx":
        return export.adopt_onnx(src, dst, ctx.info, ctx.verify_inputs())
    from facelm.core.checkpoint import training_data

    with part("load checkpoint"):
        model, info = ctx.checkpoint()
    with part("torch.onnx export"):
        return {"from": "pt", "opset": ctx.opts.opset, "training_data": training_data(src),
                **export.export_model(model, info, dst, ctx.opts.opset)}


def _simplify(src: Path, ref: Path, dst: Path, ctx) -> dict:
    with part("simplify"):
        return {"tool": convert.simplify(src, dst)}


def _saved_model(src: Path, ref: Path, dst: Path, ctx) -> dict:
    from facelm.compiler.tf_build import onnx2tf_saved_model

    # The verification faces serve: selecting a calibration set here would cost seconds.
    return {"tool": "onnx2tf", **onnx2tf_saved_model(src, dst, ctx.verify_inputs())}


def _tflite(kind: str):
    def build(src: Path, ref: Path, dst: Path, ctx) -> dict:
        from facelm.compiler.tf_build import float_tflite

        float_tflite(src, dst, kind)
        return {"tool": "onnx2tf + TFLiteConverter"}
    return build


def _tflite_int8(io_dtype: str):
    """Full integer; the float-I/O file has the same integer body, so it starts from the attempt
    the int8-I/O file's manifest says was kept and settles for a pass (the search is not paid
    twice: on a 51-point YOLO26 this stage took 5.4 s with one attempt, 16 s with three). That
    remedy is in the stage's cache key (pipeline._key), so what it builds depends on files on
    disk alone, never on what else the same process rebuilt."""
    def build(src: Path, ref: Path, dst: Path, ctx) -> dict:
        def make(out: Path, calib, attempt):
            convert.quantize_tflite(src, out, calib.nhwc(), io_dtype, attempt.per_channel)
        kept = ctx.int8_remedy() if io_dtype == "float32" else None
        attempts = sorted(TFLITE_ATTEMPTS, key=lambda a: a.label != kept)  # stable: the rest keep their order
        return int8_with_guard(make, dst, ctx, ref, tuple(attempts), enough=passes if kept else None)
    return build


def _tflite_int16x8(src: Path, ref: Path, dst: Path, ctx) -> dict:
    def make(out: Path, calib, attempt):
        convert.quantize_tflite_int16x8(src, out, calib.nhwc())
    return int8_with_guard(make, dst, ctx, ref, VARIANT_ATTEMPTS)


def _tflite_int8_mixed(src: Path, ref: Path, dst: Path, ctx) -> dict:
    chosen = {}

    def make(out: Path, calib, attempt):
        debug = ctx.verify_inputs().transpose(0, 2, 3, 1)
        chosen.update(convert.quantize_tflite_mixed(src, out, calib.nhwc(), debug))
    return {**int8_with_guard(make, dst, ctx, ref, VARIANT_ATTEMPTS), "mixed": chosen}


def _ort_int8(src: Path, ref: Path, dst: Path, ctx) -> dict:
    from facelm.eval.cost.profile import has_vnni

    reduce_range = not has_vnni()  # 7-bit weights avoid AVX2's u8 x s8 saturation; VNNI has none

    def make(out: Path, calib, attempt):
        convert.quantize_ort(src, out, calib.arrays, attempt.per_channel, attempt.float_head, reduce_range)
    return {**int8_with_guard(make, dst, ctx, ref, ORT_ATTEMPTS), "format": "QDQ U8S8", "reduce_range": reduce_range}


#: Every input that can change which INT8 attempt the guard keeps.
INT8 = ("calib_n", "calib_data", "verify_data", "guard_images", "verify_images")
PIPELINE = [
    Stage("onnx", "source", "{stem}.onnx", "fp32", "source", _export, ("imgsz", "opset")),
    Stage("sim", "onnx", "{stem}.sim.onnx", "fp32", "onnx", _simplify),
    Stage("saved_model", "sim", "{stem}_saved_model", None, "sim", _saved_model),
    Stage("tflite_fp32", "saved_model", "{stem}_fp32.tflite", "fp32", "sim", _tflite("float32")),
    Stage("tflite_fp16", "saved_model", "{stem}_fp16.tflite", "fp16", "sim", _tflite("float16")),
    Stage("tflite_int8", "saved_model", "{stem}_int8.tflite", "int8", "tflite_fp32", _tflite_int8("int8"), INT8),
    Stage("tflite_int8_fio", "saved_model", "{stem}_int8_fio.tflite", "int8", "tflite_fp32", _tflite_int8("float32"),
          INT8),
    Stage("ort_int8", "sim", "{stem}.int8.onnx", "int8", "sim", _ort_int8, INT8),
    # Variants for a model whose full-integer artifact fails its guard (not built by default):
    Stage("tflite_int16x8", "saved_model", "{stem}_int16x8.tflite", "int16x8", "tflite_fp32", _tflite_int16x8, INT8),
    Stage("tflite_int8_mixed", "saved_model", "{stem}_int8_mixed.tflite", "int8-mixed", "tflite_fp32",
          _tflite_int8_mixed, INT8),
]
#: What `compile` builds only when --targets names it, and everything else (the default).
OPT_IN = ("tflite_int16x8", "tflite_int8_mixed")
DEFAULT_TARGETS = tuple(s.name for s in PIPELINE if s.name not in OPT_IN)
STAGES = {s.name: s for s in PIPELINE}
#: What a submission takes from a build, first available wins: full integer first.
SHIP_ORDER = ("tflite_int8", "tflite_int8_fio", "tflite_fp32", "tflite_fp16")
assert set(SHIP_ORDER) <= set(STAGES)
assert all(s.precision in (*PRECISIONS, None) for s in PIPELINE)


def check(stage: Stage, parent: Path, artifact: Path, ctx) -> dict:
    """Numeric check of a float artifact against its parent (int8 stages check themselves)."""
    if stage.precision in FLOAT_PRECISIONS:
        return compare_float(parent, artifact, ctx.verify_inputs(), stage.precision, ctx.info.imgsz)
    return {}


def with_ancestors(targets: list[str]) -> list[Stage]:
    """The stages needed for targets, in pipeline order."""
    need, todo = set(), list(targets)
    while todo:
        t = todo.pop()
        if t == "source" or t in need:
            continue
        if t not in STAGES:
            raise InputError(f"unknown target {t!r}; known: {', '.join(STAGES)}")
        need.add(t)
        todo += [STAGES[t].builds_from, STAGES[t].checks_against]
    return [s for s in PIPELINE if s.name in need]
