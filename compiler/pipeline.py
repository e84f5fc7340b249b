"""Run the PIPELINE for one checkpoint: caching, atomic writes, checks and manifests."""
from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

from facelm.compiler.faces import with_faces
from facelm.compiler.guard import MIN_GUARD_FACES
from facelm.compiler.stages import DEFAULT_TARGETS, PIPELINE, STAGES, Stage, check, with_ancestors
from facelm.core.clock import part, recording
from facelm.core.errors import InputError, UserError
from facelm.core.files import (atomic_output, is_current, read_manifest, remove_stale_temporaries, sha256,
                               write_json_atomic)



#: The float checks' inputs are spread over this many of the guard's images (the guard's own
#: count until it took every face), so they stay the images they were.
VERIFY_POOL = 64


@dataclass(frozen=True)
class CompileOptions:
    imgsz: int | None = None            # None: the checkpoint's training size (validated against its stride)
    opset: int = 17
    targets: tuple = DEFAULT_TARGETS
    verify_images: int = 8
    verify_data: Path | None = None     # None: the default evaluation faces
    calib_data: Path | None = None      # None: the default calibration faces
    calib_n: int = 100
    guard_images: int = 400             # every face of AFW (337); at 96 px about 2 s an evaluation

    def __post_init__(self):
        if self.imgsz is not None and self.imgsz <= 0:
            raise InputError(f"imgsz {self.imgsz} must be positive")
        if not 7 <= self.opset <= 21:
            raise InputError(f"opset {self.opset} is outside 7..21")
        with_ancestors(list(self.targets))


@dataclass
class StageResult:
    stage: str
    path: Path
    cached: bool
    seconds: float
    report: dict = field(default_factory=dict)
    error: str | None = None  # its check failed (nothing landed), or a stage it needs did

    @property
    def failed(self) -> str | None:
        """Why this artifact must not ship: its error, or an INT8 guard it did not pass."""
        guard = self.report.get("guard")
        if self.error or not guard:
            return self.error
        if not guard.get("judged", True):
            return f"{self.path.name}: INT8 guard not judged (it saw {guard['faces']} faces; at least {MIN_GUARD_FACES} " \
                   "are needed: give --data FACES)"
        return None if guard["passed"] else f"{self.path.name}: fails its INT8 guard"


class Context:
    """What stages share: options, the model's contract (resolved once), the artifacts so far,
    and lazily built image sets."""

    def __init__(self, source: Path, out: Path, opts: CompileOptions):
        self.source, self.out, self.opts = source, out, opts
        self.stem = source.stem.replace(".", "_")  # artifacts are named after the checkpoint
        self.paths: dict[str, Path] = {"source": source}
        self._calib = {}
        self._memo = {}

    def checkpoint(self):
        """(torch model, ModelInfo) of a .pt source, loaded once per process."""
        from facelm.core.checkpoint import load_pose_checkpoint

        return load_pose_checkpoint(self.source, self.opts.imgsz)

    @cached_property
    def info(self):
        """The model's contract, its input size validated once: from the checkpoint (against
        its real stride) or, for an .onnx start, from the file's fixed input."""
        if self.source.suffix == ".pt":
            return self.checkpoint()[1]
        from facelm.compiler.export import onnx_info

        return onnx_info(self.source, self.opts.imgsz)

    def filename(self, stage: Stage) -> Path:
        return self.out / stage.filename.format(stem=self.stem)

    def memo(self, key, make):
        """A value computed once per compile run (a parent's evaluation, the model's spec)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def int8_remedy(self) -> str | None:
        """The remedy the full-integer (int8 I/O) file kept, as its manifest records it; None
        when that file is not built or not current. The float-I/O file starts from it."""
        stage = STAGES["tflite_int8"]
        dst = self.filename(stage)
        if stage.builds_from not in self.paths or not is_current(dst, _key(stage, self)):
            return None
        return ((read_manifest(dst) or {}).get("report", {}).get("guard") or {}).get("chosen")

    def layout(self) -> str:
        """This build's output layout, as its ONNX records it."""
        from facelm.eval.infer.artifact import describe

        return self.memo(("layout", self.paths["onnx"]), lambda: describe(self.paths["onnx"]).layout)

    def calibration(self, n: int | None = None):
        from facelm.calib.select import CalibOptions, build_calibration
        from facelm.eval.defaults import default_calib_data

        n = n or self.opts.calib_n
        if n not in self._calib:
            src = self.opts.calib_data or default_calib_data()
            with part(f"calibration set ({n} faces)"):
                self._calib[n] = build_calibration(Path(src), CalibOptions(n=n, imgsz=self.info.imgsz))
        return self._calib[n]

    def guard_dataset(self):
        return self._guard_ds

    @cached_property
    def _guard_ds(self):
        from facelm.eval.data.datasets import load_dataset, spread
        from facelm.eval.defaults import default_eval_data

        ds = load_dataset(self.opts.verify_data or default_eval_data())
        ds.samples = spread(ds.samples, self.opts.guard_images)
        return ds

    @cached_property
    def _verify_arrays(self):
        import numpy as np

        from facelm.eval.data.datasets import spread
        from facelm.eval.infer.preprocess import preprocess, read_image

        imgs = [read_image(s.image) for s in spread(self._guard_ds.samples, VERIFY_POOL)]
        imgs = spread([i for i in imgs if i is not None], self.opts.verify_images)
        if not imgs:
            raise UserError("verification: no readable face images")
        return np.concatenate([preprocess(i, self.info.imgsz)[0] for i in imgs])

    def verify_inputs(self):
        return self._verify_arrays


#: Stages whose conversion changed in a way their inputs do not show.
_GUARD_REVISION = "chosen on half the guard's faces by the drift of all, confirmed on the other half"
REVISIONS = {"saved_model": "attention products as sums; written once as a tf.function",
             **{s: _GUARD_REVISION for s in ("tflite_int8", "tflite_int8_fio", "ort_int8")}}


def _key(stage: Stage, ctx: Context) -> dict:
    parent = ctx.paths[stage.builds_from]
    opts = {f: str(getattr(ctx.opts, f)) for f in stage.options}
    key = {"stage": stage.name, "parent_sha256": _digest(parent), "options": opts,
           "checked_against_sha256": _digest(ctx.paths[stage.checks_against])}
    if stage.name in REVISIONS:  # a build made before the stage's last change is stale
        key["revision"] = REVISIONS[stage.name]
    if stage.name == "tflite_int8_fio":  # it starts from the int8 file's remedy: part of what it is
        key["starts_from"] = ctx.int8_remedy()
    return key


def _digest(p: Path) -> str:
    if p.is_dir():  # a SavedModel folder: its manifest already names what made it
        m = read_manifest(p)
        return (m or {}).get("sha256", "")
    return sha256(p)


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("torch", "ultralytics", "onnx", "onnxruntime", "onnxsim", "onnx2tf", "tensorflow-cpu", "tensorflow"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def run_stage(stage: Stage, ctx: Context) -> StageResult:
    dst = ctx.filename(stage)
    key = _key(stage, ctx)
    if is_current(dst, key):
        ctx.paths[stage.name] = dst
        return StageResult(stage.name, dst, True, 0.0, read_manifest(dst).get("report", {}))
    from facelm.eval.cost.profile import peak_rss_mb, reset_peak_rss

    reset_peak_rss()
    t = time.perf_counter()
    src, ref = ctx.paths[stage.builds_from], ctx.paths[stage.checks_against]
    with atomic_output(dst) as tmp, recording() as parts:
        report = stage.build(src, ref, tmp, ctx) or {}
        with part("float check"):
            report.update(check(stage, ref, tmp, ctx))
    report["parts"] = parts
    if src == ctx.source and src.suffix == ".pt":  # how the file from elsewhere was read
        from facelm.core.safe_load import load_mode

        report["source_load"] = load_mode()
    secs = round(time.perf_counter() - t, 2)
    ctx.paths[stage.name] = dst
    own = sha256(next(dst.glob("saved_model.pb"))) if dst.is_dir() else sha256(dst)
    write_json_atomic(dst.with_name(dst.name + ".json"), {
        "stage": stage.name, "step": PIPELINE.index(stage), "artifact": dst.name, "parent": _rel(ref, dst),
        "built_from": _rel(src, dst), "key": key, "options": asdict(ctx.opts), "sha256": own,
        "tool_versions": _versions(), "wall_seconds": secs, "peak_rss_mb": round(peak_rss_mb(), 1),
        "report": report, "layout": ctx.layout(), "model": _model_json(ctx.info),
        **({"source_load": report["source_load"]} if "source_load" in report else {}),
    })
    return StageResult(stage.name, dst, False, secs, report)


def _rel(p: Path, artifact: Path) -> str:
    """A sibling by name (so a build folder can be moved or copied whole), else the full path."""
    return p.name if p.parent == artifact.parent else str(p)


def _model_json(info) -> dict:
    d = info.to_json()
    return {k: d[k] for k in ("kpt_shape", "nc", "imgsz", "stride")}


def compile_checkpoint(source: Path, out: Path | None = None, opts: CompileOptions = CompileOptions(),
                       progress: bool = True) -> list[StageResult]:
    """Run every stage needed for opts.targets; unchanged inputs and options do no work. A
    failed check stops only the stages that need the failed artifact: each gets a result with
    its error, and the rest are still built and checked."""
    source = Path(source)
    if not source.is_file():
        raise UserError(f"{source}: no such checkpoint file")
    if source.suffix not in (".pt", ".onnx"):
        raise UserError(f"{source}: expected an ultralytics .pt checkpoint or an .onnx model")
    from facelm.core.safe_load import check_sources
    from facelm.core.versions import require
    from facelm.eval.defaults import BUILD

    require("onnx2tf", "onnxruntime", "ai-edge-litert", "tensorflow-cpu")  # older than the range: exit 2 here
    check_sources([source])  # a file naming code to run is refused before anything is made

    out = (Path(out) if out else BUILD / source.stem.replace(".", "_")).absolute()
    ctx = Context(source.absolute(), out, opts)
    stages = with_ancestors(list(opts.targets))
    ctx = with_faces(ctx, stages, progress)  # before any folder is made: INT8 with no faces is refused
    if not is_current(ctx.filename(stages[0]), _key(stages[0], ctx)):
        ctx.info  # a bad checkpoint or input size fails here, before any folder is made
    _check_writable(out)
    remove_stale_temporaries(out)  # what a killed run was writing
    from facelm.compiler import lanes

    def stale(stage: Stage) -> bool:
        needs = (stage.builds_from, stage.checks_against)
        return not all(n in ctx.paths for n in needs) or not is_current(ctx.filename(stage), _key(stage, ctx))

    return lanes.run(stages, ctx, _run_or_skip, stale, _bar(stages, progress))


def _run_or_skip(stage: Stage, ctx: Context, failed: set) -> StageResult:
    from facelm.compiler.verify import VerificationError

    needs = [s for s in (stage.builds_from, stage.checks_against) if s in failed]
    try:
        if needs:
            raise VerificationError(f"not built: it needs {needs[0]}, which failed")
        return run_stage(stage, ctx)
    except VerificationError as e:
        failed.add(stage.name)
        return StageResult(stage.name, ctx.filename(stage), False, 0.0, {}, str(e))


def _check_writable(out: Path) -> None:
    import os

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"{out}: cannot create the output folder ({e.strerror})") from None
    if not os.access(out, os.W_OK):
        raise UserError(f"{out}: output folder is not writable")


def _bar(stages, enabled: bool):
    from facelm.core.progress import progress

    return progress(total=len(stages), desc="compile", unit="stage", enabled=enabled)
