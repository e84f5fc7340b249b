"""The faces INT8 calibrates on and is judged on, found before anything is built."""
from __future__ import annotations

from facelm.core.errors import UserError
from facelm.core.files import is_current, read_manifest


def with_faces(ctx, stages: list, say: bool):
    """The context with the INT8 stages' faces resolved into its options (so the cache keys,
    the manifests and the side process see them): --calib-data/--data, else the checkpoint's
    own training data when on disk, else the shared faces. Refuses INT8 with none."""
    import dataclasses
    import sys

    from facelm.eval.defaults import CompileFaces, compile_faces

    if not any("calib_data" in s.options for s in stages):
        return ctx
    o = ctx.opts
    trained = None
    if o.calib_data and o.verify_data:
        faces = CompileFaces(o.calib_data, o.verify_data, "--calib-data", "--data")
    else:
        faces = compile_faces(o.calib_data, o.verify_data, trained := _training_data(ctx))
    if faces.calib is None:
        int8 = ",".join(s.name for s in stages if "calib_data" in s.options)
        raise UserError(f"{ctx.source}: {int8} need faces like the ones the model will meet, to calibrate on and "
                        f"to judge the result by, and none were found ({_named(trained)}, no --calib-data, no "
                        "--data): give --data FACES (a .pts folder, images/+labels/ or a YOLO data YAML; "
                        "--calib-data too for separate calibration faces), or leave those stages out of --targets")
    if say and any(w in faces.calib_from + faces.guard_from for w in ("training data", "as no")):
        print(f"INT8 calibrates on {faces.calib} ({faces.calib_from}) and is judged on {faces.guard} "
              f"({faces.guard_from})", file=sys.stderr)
    new = type(ctx)(ctx.source, ctx.out, dataclasses.replace(o, calib_data=faces.calib, verify_data=faces.guard))
    new.paths.update(ctx.paths)
    return new


def _training_data(ctx) -> str | None:
    """The data YAML a .pt was trained on: from the current ONNX export's manifest (no
    checkpoint load), else from the checkpoint."""
    if ctx.source.suffix != ".pt":
        return None
    from facelm.compiler.pipeline import _key
    from facelm.compiler.stages import STAGES

    onnx = STAGES["onnx"]
    m = read_manifest(ctx.filename(onnx)) or {}
    if "training_data" in m.get("report", {}) and is_current(ctx.filename(onnx), _key(onnx, ctx)):
        return m["report"]["training_data"]
    from facelm.core.checkpoint import training_data

    return training_data(ctx.source)


def _named(trained: str | None) -> str:
    return f"the checkpoint's training data, {trained}, is not on disk" if trained else \
        "the checkpoint names no training data"
