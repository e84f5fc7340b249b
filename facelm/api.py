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

import time
from dataclasses import dataclass, field
from pathlib import Path

from facelm.core.errors import UserError

PathLike = str | Path


@dataclass(frozen=True)
class Build:
    """A compile: the source, its build folder, and one result per stage (compiler.pipeline)."""
    source: Path
    out: Path
    results: tuple = ()
    seconds: float | None = None  # the whole compile's wall time (None: not timed)

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
        """The table `compile` prints."""
        from facelm.scores.table import compile_table

        return compile_table(list(self.results), self.seconds)


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
        """True when every row scored."""
        return not any(r.error for r in self.rows)

    def table(self) -> str:
        """The table `score` prints."""
        from facelm.scores.table import score_table

        return score_table(list(self.rows), machine=self.machine)

    def save(self, folder) -> list[Path]:
        """scores.json, faces.csv, scores.md and scores.csv in folder; returns their paths."""
        from facelm.scores.table import write_scores

        return write_scores(list(self.rows), list(self.faces), Path(folder), self.machine, self.data)


def compile(source: PathLike = "face51-s", *, out: PathLike | None = None, targets: str | list | None = None,
            imgsz: int | None = None, calib_data: PathLike | None = None, data: PathLike | None = None,
            calib_images: int = 100, opset: int = 17, progress: bool = True) -> Build:
    """Compile a checkpoint into verified artifacts, as `facelm compile` does.

    Args:
        source: a .pt, an .onnx, or a built-in model's name (face51-s, face51-m, face51-xs).
        out: the build folder (default: build/<checkpoint stem>).
        targets: stage names, a list or comma-separated (default: all but the opt-in INT8 forms).
        imgsz: input size (default: the checkpoint's training size).
        calib_data: faces for INT8 calibration; data: faces for the checks and the INT8 guard.
        calib_images: how many calibration faces to select. opset: the ONNX opset.

    Returns:
        A Build: `.artifacts` (stage -> path), `.rows`, `.ok`, `.table()`.

    Raises:
        UserError: a missing, corrupt or refused checkpoint, a bad option value."""
    from facelm.compiler.pipeline import DEFAULT_TARGETS, CompileOptions, compile_checkpoint
    from facelm.eval.defaults import resolve_model

    src = resolve_model(str(source))
    if isinstance(targets, str):
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    opts = CompileOptions(imgsz=imgsz, opset=opset, calib_data=_path(calib_data), calib_n=calib_images,
                          verify_data=_path(data), targets=tuple(targets) if targets else DEFAULT_TARGETS)
    t = time.perf_counter()
    results = compile_checkpoint(src, _path(out), opts, progress=progress)
    return Build(src, results[0].path.parent, tuple(results), round(time.perf_counter() - t, 1))


def score(sources: PathLike | Build | list | None = None, *, data: PathLike | None = None,
          runtimes: str | list | None = None, latency: bool = True, threads: str | tuple = (1, 2), scales: tuple = (1,),
          conditions: str | tuple = (), stability: bool | int = False, latency_runs: int = 100,
          max_images: int | None = None, imgsz: int | None = None,
          normaliser: str = "inter-ocular", progress: bool = True) -> Scores:
    """Score artifacts on every runtime that can run them, as `facelm score` does.

    Args:
        sources: paths (.pt/.onnx/.tflite) or Builds (every artifact of each); None: every build
            under build/.
        data: the faces (default: the default evaluation faces). runtimes: names to use.
        latency: False (or latency_runs=0) for accuracy and cost alone; threads: counts to time.
        scales: face scales, e.g. (1, 0.5). max_images, imgsz, normaliser: as the CLI's options.
        conditions: e.g. "dark,blur:3", ("roll",) or "all" (eval.data.conditions); stability: True
            (or a number of moved copies) to measure the landmarks' jitter.

    Returns:
        Scores: `.rows` (one ScoreRow per artifact and runtime), `.faces`, `.table()`, `.save()`."""
    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.defaults import default_eval_data
    from facelm.eval.cost.profile import LatencyOptions, machine, thread_counts
    from facelm.eval.infer.runtimes import check_names
    from facelm.eval.data.conditions import check_conditions
    from facelm.eval.data.moved import COPIES
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
                        scales=check_scales([str(s) for s in scales]), conditions=check_conditions(conditions),
                        stability=COPIES if stability is True else int(stability or 0))
    faces: list = []
    rows = score_paths(files, ds, opts, rts, faces)
    return Scores(tuple(rows), tuple(faces), machine(), data)


def predict(model: PathLike, images: PathLike, out: PathLike, *, conf: float | None = None) -> dict:
    """Write the challenge's 51-point text files for images, as `facelm predict` does.

    Args:
        model: any .pt, .onnx or .tflite the evaluator runs.
        images: a folder of images or a text file listing them. out: the folder to write into.
        conf: the score threshold (default: the decoder's).

    Returns:
        {'written': number of files, 'unreadable': [paths of images that could not be read]}."""
    from facelm.eval.infer.decode import DecodeOptions
    from facelm.eval.infer.predict import predict as run

    return run(Path(model), Path(images), Path(out), DecodeOptions(conf=conf) if conf is not None else DecodeOptions())


def train(*, data: PathLike | None = None, val_data: PathLike | None = None, out: PathLike = "build/train",
          command: str = "", **options: object) -> Path:
    """Train a pose face model on labelled faces, as `facelm train` does.

    Args:
        data: training faces (.pts folders; default: the shared faces' HELEN set).
        val_data: validation faces (default: AFW). out: the run folder.
        **options: TrainOptions' fields: imgsz, epochs, hours, arch, width, init, teacher, ...

    Returns:
        The best checkpoint's path; its card, best.card.json, lies beside it."""
    from facelm.train.run import TrainOptions, face_folders, train as run

    return run(*face_folders(data, val_data), Path(out), TrainOptions(**options), command=command)


def sweep(checkpoints: PathLike | list, *, out: PathLike = "sweep", options: object = None,
          **fields: object) -> tuple[list, dict]:
    """Compile and score every checkpoint x input size x precision, as `facelm sweep` does.

    Args:
        checkpoints: .pt files or folders of them. out: where the report goes.
        options: a SweepOptions, or its fields as keywords (imgsz=(96, 128), precisions=("int8",)).

    Returns:
        (points, files): one SweepPoint per artifact, and {kind: path} of pareto.png and
        sweep.md/.csv/.json."""
    from facelm.explore.driver import sweep as run
    from facelm.explore.jobs import SweepOptions

    return run([Path(c) for c in ([checkpoints] if isinstance(checkpoints, (str, Path)) else checkpoints)],
               Path(out), options or SweepOptions(**fields))


def report(source: PathLike | None = None, *, out: PathLike = "report", faces: int = 8) -> Path:
    """One HTML page from a scores, build or sweep folder, as `facelm report` does.

    Args:
        source: the folder (default: the built-in model's build). out: the page's folder.
        faces: faces per gallery.

    Returns:
        The path of report.html."""
    from facelm.eval.defaults import BUILD, DEFAULT_MODEL
    from facelm.htmlreport.page import make_report

    return make_report(Path(source) if source else BUILD / DEFAULT_MODEL.stem, Path(out), faces)


def inspect(target: PathLike | None = None, *, data: PathLike | None = None, faces: int = 32,
            top: int = 15) -> list[str]:
    """Where INT8 error comes from, tensor by tensor, as `facelm inspect` does.

    Args:
        target: a build folder or one quantised file (default: the built-in model's build).
        data: the faces to run. faces: how many. top: tensors shown per artifact.

    Returns:
        The texts printed for each quantised artifact; .inspect.json/.csv/.png lie beside it."""
    from facelm.eval.defaults import BUILD, DEFAULT_MODEL, default_eval_data
    from facelm.eval.quant.report import inspect_target

    return list(inspect_target(Path(target) if target else BUILD / DEFAULT_MODEL.stem,
                               _path(data) or default_eval_data(), faces, top))


def _path(p) -> Path | None:
    return None if p is None else Path(p)


__all__ = ["Build", "Scores", "UserError", "compile", "inspect", "predict", "report", "score", "sweep", "train"]
