"""The Python API: what every command does, as functions returning plain result objects. The
CLI (cli.py) parses options and calls these; a notebook, a training script or a CI job calls
them directly:

    import facelm

    build = facelm.compile("face51-s", out="build/face51_s")
    print(build.ok, build.artifacts["tflite_int8"])
    scores = facelm.score([build.artifacts["tflite_int8"]], latency=False)
    print(scores.rows[0].nme, scores.rows[0].miss)
    print(scores.table())

A mistake of the caller's (a missing file, a bad option value, data of the wrong kind) raises
facelm.UserError with the one line the CLI prints; anything else is a bug."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from facelm.core.errors import UserError


@dataclass(frozen=True)
class Build:
    """A compile: the source, its build folder, and one result per stage (compiler.pipeline)."""
    source: Path
    out: Path
    results: tuple = ()

    @property
    def artifacts(self) -> dict:
        """Stage name -> the artifact's path, for every stage that landed."""
        return {r.stage: r.path for r in self.results if not r.error}

    @property
    def rows(self) -> tuple:
        """The compile table's rows: each stage's path, check report (max differences, the INT8
        guard), whether it was cached, its seconds and its error (compiler.pipeline.StageResult)."""
        return self.results

    @property
    def ok(self) -> bool:
        """True when every artifact passed its check and every INT8 file its guard."""
        return not any(r.failed for r in self.results)

    def table(self) -> str:
        from facelm.scores.table import compile_table

        return compile_table(list(self.results))


@dataclass(frozen=True)
class Scores:
    """A score run: one row per (artifact, runtime) (scores.records.ScoreRow: .artifact, .runtime,
    .kind, .nme, .miss, .fr10, .gflops, .size_mb, .latency_ms {threads: ms}, .ms(threads), ...),
    the per-face records, the machine latency was measured on, and the faces scored."""
    rows: tuple
    faces: tuple = ()
    machine: dict = field(default_factory=dict)
    data: Path | None = None

    @property
    def ok(self) -> bool:
        return not any(r.error for r in self.rows)

    def table(self) -> str:
        from facelm.scores.table import score_table

        return score_table(list(self.rows), machine=self.machine)

    def save(self, folder) -> list[Path]:
        """scores.json, faces.csv, scores.md and scores.csv in folder; returns their paths."""
        from facelm.scores.table import write_scores

        return write_scores(list(self.rows), list(self.faces), Path(folder), self.machine, self.data)


def compile(source="face51-s", *, out=None, targets=None, imgsz=None, calib_data=None, data=None,
            calib_images: int = 100, opset: int = 17, progress: bool = True) -> Build:
    """Compile a checkpoint (.pt, .onnx, or a built-in model's name) into verified artifacts.

    targets: stage names (default: every stage but the opt-in INT8 variants); calib_data: faces
    for INT8 calibration; data: faces for the checks and the INT8 guard; out: the build folder
    (default: build/<checkpoint-stem>)."""
    from facelm.compiler.pipeline import DEFAULT_TARGETS, CompileOptions, compile_checkpoint
    from facelm.eval.defaults import resolve_model

    src = resolve_model(str(source))
    if isinstance(targets, str):
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    opts = CompileOptions(imgsz=imgsz, opset=opset, calib_data=_path(calib_data), calib_n=calib_images,
                          verify_data=_path(data), targets=tuple(targets) if targets else DEFAULT_TARGETS)
    results = compile_checkpoint(src, _path(out), opts, progress=progress)
    return Build(src, results[0].path.parent, tuple(results))


def score(sources=None, *, data=None, runtimes=None, latency: bool = True, threads=(1, 2), scales=(1,),
          latency_runs: int = 100, max_images: int | None = None, imgsz: int | None = None,
          normaliser: str = "inter-ocular", progress: bool = True) -> Scores:
    """Score artifacts (paths, or Builds: every artifact of each) on every runtime that can run
    them; None scores every build under build/. data: the faces (default: the default
    evaluation faces); latency=False (or latency_runs=0) for accuracy and cost alone."""
    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.defaults import default_eval_data
    from facelm.eval.cost.profile import LatencyOptions, machine, thread_counts
    from facelm.eval.infer.runtimes import check_names
    from facelm.eval.data.scales import check_scales
    from facelm.eval.scoring import ScoreOptions, artifacts_to_score, find_artifacts, score_paths

    files = []
    for s in ([sources] if isinstance(sources, (str, Path, Build)) else sources or []):
        files += find_artifacts(s.out) if isinstance(s, Build) else [Path(s)]
    files = files or artifacts_to_score([], True, None)
    data = _path(data) or default_eval_data()
    ds = load_dataset(data)
    rts = check_names(list(runtimes.split(",") if isinstance(runtimes, str) else runtimes)) if runtimes else None
    threads = thread_counts(threads if isinstance(threads, str) else ",".join(map(str, threads)))
    opts = ScoreOptions(normaliser=normaliser, threads=threads, max_images=max_images, imgsz=imgsz,
                        latency=LatencyOptions(min_runs=max(latency_runs, 1)), progress=progress,
                        time_latency=bool(latency) and latency_runs > 0,
                        scales=check_scales([str(s) for s in scales]))
    faces: list = []
    rows = score_paths(files, ds, opts, rts, faces)
    return Scores(tuple(rows), tuple(faces), machine(), data)


def predict(model, images, out, *, conf: float | None = None) -> dict:
    """Write the challenge's 51-point .pts text files for images (a folder or a list file) into
    out: {'written': n, 'unreadable': [paths]}."""
    from facelm.eval.infer.decode import DecodeOptions
    from facelm.eval.infer.predict import predict as run

    return run(Path(model), Path(images), Path(out), DecodeOptions(conf=conf) if conf is not None else DecodeOptions())


def train(*, data=None, val_data=None, out="build/train", command: str = "", **options) -> Path:
    """Train a pose face model on labelled faces (default: the shared faces); options are
    train.run.TrainOptions' fields (imgsz, epochs, arch, width, init, teacher, ...). Returns the
    best checkpoint's path (its card, best.card.json, beside it)."""
    from facelm.train.run import TrainOptions, face_folders, train as run

    return run(*face_folders(data, val_data), Path(out), TrainOptions(**options), command=command)


def sweep(checkpoints, *, out="sweep", options=None, **fields):
    """Compile and score every checkpoint (files or folders of .pt) x input size x precision and
    write the Pareto report; options: an explore.jobs.SweepOptions, or its fields as keywords
    (imgsz=(96, 128), precisions=("int8",), ...). Returns (points, {kind: file written})."""
    from facelm.explore.driver import sweep as run
    from facelm.explore.jobs import SweepOptions

    return run([Path(c) for c in ([checkpoints] if isinstance(checkpoints, (str, Path)) else checkpoints)],
               Path(out), options or SweepOptions(**fields))


def report(source=None, *, out="report", faces: int = 8) -> Path:
    """One HTML page from a scores, build or sweep folder (default: the built-in model's build)."""
    from facelm.eval.defaults import BUILD, DEFAULT_MODEL
    from facelm.htmlreport.page import make_report

    return make_report(Path(source) if source else BUILD / DEFAULT_MODEL.stem, Path(out), faces)


def inspect(target=None, *, data=None, faces: int = 32, top: int = 15) -> list[str]:
    """Where INT8 error comes from, tensor by tensor: the texts printed for each quantised
    artifact of target (a build folder or one file); .inspect.json/.csv/.png beside each."""
    from facelm.eval.defaults import BUILD, DEFAULT_MODEL, default_eval_data
    from facelm.eval.quant.report import inspect_target

    return list(inspect_target(Path(target) if target else BUILD / DEFAULT_MODEL.stem,
                               _path(data) or default_eval_data(), faces, top))


def _path(p) -> Path | None:
    return None if p is None else Path(p)


__all__ = ["Build", "Scores", "UserError", "compile", "inspect", "predict", "report", "score", "sweep", "train"]
