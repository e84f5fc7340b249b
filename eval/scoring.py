"""The scoring loop behind `score`: every artifact on every runtime that can run it, through
one evaluator, filling one ScoreRow each. Accuracy first (artifact by artifact, parents before
children so drift can be measured), then latency: per thread count, every artifact's
inference call timed in interleaved rounds in the same process."""
from __future__ import annotations

import gc
from dataclasses import dataclass, field, replace
from pathlib import Path

from facelm.core.contract import QUANTISED_KINDS
from facelm.core.errors import DataMismatchError, InputError, UserError, row_error
from facelm.core.files import read_manifest
from facelm.core.safe_load import check_sources, trusted
from facelm.eval.infer.artifact import Artifact, describe
from facelm.eval.data.datasets import Dataset
from facelm.eval.metrics.evaluate import EvalOptions, drift, evaluate, face_records
from facelm.eval.cost.profile import (LatencyOptions, current_rss_mb, file_mb, onnx_cost, peak_rss_mb, reset_peak_rss,
                          tflite_cost, time_interleaved, torch_cost)
from facelm.eval.infer.runtimes import open_runtime, runtimes_for
from facelm.scores.records import ScoreRow


@dataclass(frozen=True)
class ScoreOptions(EvalOptions):
    """The evaluation's options (normaliser, decoder, max_images, progress) and the cost's."""
    threads: tuple = (1, 2)
    latency: LatencyOptions = LatencyOptions()
    imgsz: int | None = None  # for .pt files scored alone
    time_latency: bool = True  # False: accuracy and cost only (a sweep times every artifact together later)
    scales: tuple = ()  # faces also scored shrunk by these factors into clutter (eval.data.scales), besides 1
    conditions: tuple = ()  # (name, severity) pairs: faces also scored under each (eval.data.conditions)
    stability: int = 0  # moved copies of every face for the jitter (eval.data.moved); 0: none

    def __post_init__(self):
        super().__post_init__()
        if not self.threads or min(self.threads) < 1:
            raise InputError("threads must be positive")
        if self.stability == 1 or self.stability < 0:
            raise InputError("stability needs at least 2 moved copies (0: none)")


@dataclass
class _Job:
    path: Path
    runtime: str
    fields: dict = field(default_factory=dict)
    rt: object = None
    x: object = None
    error: str | None = None
    faces: list = field(default_factory=list)  # per labelled face: nme, drift, missed (faces.csv)
    images: dict = field(default_factory=dict)  # decoded once for every job of the run (decode_all)


def artifacts_to_score(paths, all_: bool, build: Path | None) -> list[Path]:
    """The files `score` takes: those named, a build folder's, or with all_ every build's under BUILD."""
    from facelm.eval.defaults import BUILD

    if paths:
        return [Path(p) for p in paths]
    if not all_ and not build:
        raise UserError("score: give artifact paths, --build DIR, or --all")
    if build:
        return find_artifacts(build)
    builds = sorted(d for d in BUILD.glob("*") if d.is_dir() and d.name != "scores" and any(d.glob("*.json")))
    if not builds:
        raise UserError(f"{BUILD}: no build folders (run `python cli.py compile` first)")
    return [p for b in builds for p in find_artifacts(b)]


def find_artifacts(build: Path) -> list[Path]:
    """Every model under a build folder (and the checkpoint its export names), in order."""
    build = Path(build)
    if not build.is_dir():
        raise UserError(f"{build}: no build folder (run `compile` first)")
    found = [p for p in build.rglob("*") if p.suffix in (".onnx", ".tflite") and p.is_file()
             and not any(part.endswith("_saved_model") or part.startswith(".") for part in p.relative_to(build).parts)]
    for p in list(found):
        m = read_manifest(p) or {}
        src = p.parent / m.get("built_from", "")  # absolute stays absolute
        if m.get("stage") == "onnx" and src.suffix == ".pt" and src.is_file():
            found.append(src)
    if not found:
        raise UserError(f"{build}: no .pt, .onnx or .tflite artifacts found")
    return order_artifacts(found)


def order_artifacts(paths) -> list[Path]:
    """Parents before children, as the pipeline made them: checkpoints first (they are the
    parents of every build's export), then by folder and each manifest's position in PIPELINE
    (files without a manifest last, by name)."""
    def key(p: Path):
        if p.suffix == ".pt":
            return 0, str(p.resolve()), 0, p.name
        return 1, str(p.resolve().parent), (read_manifest(p) or {}).get("step", 1 << 20), p.name
    return sorted({Path(p) for p in paths}, key=key)


def _cost(art: Artifact, runtime) -> tuple:
    if art.path.suffix == ".onnx":
        return onnx_cost(art.path)
    if art.path.suffix == ".tflite":
        return tflite_cost(art.path)
    return torch_cost(runtime.model, art.spec.imgsz)


def _accuracy(job: _Job, ds: Dataset, opts: ScoreOptions, preds: dict, sets=None) -> None:
    """Load, evaluate, count cost; the runtime stays open for timing at the first thread count."""
    from facelm.eval.metrics.extra_sets import ExtraSets, scored_extras

    gc.collect()
    start_mb = current_rss_mb()
    reset_peak_rss()
    art = describe(job.path, opts.imgsz)
    job.rt = open_runtime(job.path, opts.threads[0], opts.imgsz, job.runtime)
    res = evaluate(job.rt, art, ds, opts, job.images)
    me = (str(job.path.resolve()), job.runtime)
    preds[me] = res
    job.x = _one_input(ds, art)
    gflops, params = _cost(art, job.rt)
    parent = str(Path(art.parent).resolve()) if art.parent else None
    p_key = (parent, _runtime_of(parent, job.runtime)) if parent else None
    p_res = preds.get(p_key) if parent else None
    k = art.spec.kpt_shape[0]
    d = drift(res.predictions, p_res.predictions, k, opts.normaliser)[0] if p_res else None
    faces = face_records(res, p_res, k, opts.normaliser)  # conditions' records are appended, clean ones get jitter
    more = scored_extras(job.rt, art, ds, sets or ExtraSets(), opts, job.images, preds, me, p_key, faces)
    job.faces = [{"artifact": str(job.path), "runtime": job.runtime, **f} for f in faces]
    s = res.summary
    job.fields = dict(kind=art.kind, layout=art.layout, images=res.n_images,
                      faces=s.n_faces if s else sum(len(v) for v in res.predictions.values()),
                      nme=s.nme if s else None, fr08=s.fr[0.08] if s else None, fr10=s.fr[0.10] if s else None,
                      auc08=s.auc[0.08] if s else None, auc10=s.auc[0.10] if s else None,
                      miss=100 * s.n_missed / max(s.n_faces, 1) if s else None, drift=d, parent=parent,
                      fp=res.false_positives / max(res.n_images, 1) if s else None,
                      gflops=gflops, params_m=params, size_mb=file_mb(job.path),
                      peak_rss_mb=peak_rss_mb() - start_mb, eval_overhead=res.overhead_s / max(res.invoke_s, 1e-9),
                      regions=s.regions if s else {}, skipped=[list(x) for x in res.skipped], **more)


def _guarded(job: _Job, fn) -> None:
    """Any failure of one artifact becomes its row's error, except data that fits no model."""
    try:
        fn()
    except DataMismatchError:
        raise
    except Exception as e:  # a broken artifact or runtime is a row, not a crash
        job.error = row_error(e)


def _latency(jobs: list[_Job], opts: ScoreOptions) -> None:
    """Per thread count: every artifact's inference call in interleaved rounds."""
    for i, th in enumerate(opts.threads):
        ok = [j for j in jobs if j.error is None]
        if i:  # reopen at this thread count
            for j in ok:
                _guarded(j, lambda j=j: setattr(j, "rt", open_runtime(j.path, th, opts.imgsz, j.runtime)))
            ok = [j for j in ok if j.error is None]
        if not ok:
            return
        desc = f"latency, {th} thread{'s' if th > 1 else ''}" if opts.progress else None
        lat = time_interleaved({id(j): (j.rt, j.x) for j in ok}, opts.latency, desc)
        for j in ok:
            t = lat[id(j)]
            j.fields.setdefault("latency_ms", {})[str(th)] = t.median_ms
            j.fields.setdefault("p90_ms", {})[str(th)] = t.p90_ms
            if i == 0:
                j.fields.update(io_ms=t.io_ms, latency_runs=t.runs)


def _slower_than_parent(rows: list[ScoreRow]) -> list[ScoreRow]:
    """Flag a quantised artifact whose inference call is slower than its float parent's."""
    ms = {(str(Path(r.artifact).resolve()), r.runtime): r.ms() for r in rows if r.ms() is not None}
    out = []
    for r in rows:
        quantised = r.kind in QUANTISED_KINDS
        p = ms.get((r.parent, _runtime_of(r.parent, r.runtime))) if r.parent else None
        if quantised and p and r.ms() and r.ms() > p:
            r = replace(r, note=f"slower than its float parent ({r.ms():.2f} vs {p:.2f} ms): not an optimisation here")
        out.append(r)
    return out


def _runtime_of(parent: str, runtime: str) -> str:
    rts = runtimes_for(Path(parent))
    return runtime if runtime in rts else (rts[0] if rts else runtime)


def _one_input(ds: Dataset, art: Artifact):
    from facelm.eval.infer.preprocess import preprocess, read_image

    for s in ds.samples:
        img = read_image(s.image)
        if img is not None:
            return preprocess(img, art.spec.imgsz)[0]
    raise UserError(f"{ds.root}: no readable image")


#: Memory for images decoded once per run when several artifacts are scored (AFW at three
#: scales: 625 MB); beyond it the rest are decoded by each artifact as it goes.
DECODED_MB = 1536


def score_paths(paths: list[Path], ds: Dataset, opts: ScoreOptions = ScoreOptions(),
                runtimes: tuple | None = None, faces: list | None = None) -> list[ScoreRow]:
    """Score each file on each runtime that can run it (or only those named). A filter that
    leaves nothing to score is an error, not an empty table. faces: filled with one record per
    labelled face and scored row (eval.metrics.evaluate.face_records), when given."""
    from facelm.core.versions import require

    require("onnxruntime", "ai-edge-litert")  # a runtime older than facelm's range: one line, exit 2
    jobs, rows, ordered = [], {}, order_artifacts(paths)
    for p in ordered:
        names = runtimes_for(p)
        if not names:
            rows[(p, "-")] = ScoreRow(str(p), "-", ds.name, error=f"{p}: no runtime for {p.suffix} files")
        jobs += [_Job(p, rt) for rt in names if not runtimes or rt in runtimes]
    if not jobs and not rows:
        raise UserError(f"no artifact among the {len(set(paths))} given runs on {', '.join(runtimes or ())}")
    # a file naming code to run stops the run before any row (exit 2); only the files this run
    # opens are read (a one-runtime environment may lack the others' readers: tox -e tflite)
    check_sources(dict.fromkeys(j.path for j in jobs))
    from facelm.eval.metrics.extra_sets import extra_sets

    preds, sets = {}, extra_sets(ds, opts)
    if len(jobs) > 1:  # each image decoded once for all, before any job's memory is measured
        from facelm.eval.metrics.evaluate import decode_all

        shared = decode_all([ds, *sets.datasets()], DECODED_MB, opts.progress, opts.max_images)
        for j in jobs:
            j.images = shared
    for j in jobs:
        _guarded(j, lambda j=j: _accuracy(j, ds, opts, preds, sets))
    if faces is not None:  # per-face errors for faces.csv, in the rows' order
        faces += [f for j in jobs if not j.error for f in j.faces]
    if opts.time_latency:
        _latency(jobs, opts)
    for j in jobs:
        j.rt, j.images = None, {}  # release every runtime and image before the rows are returned
        rows[(j.path, j.runtime)] = ScoreRow(str(j.path), j.runtime, ds.name, error=j.error,
                                             **({} if j.error else j.fields))
    order = {p: i for i, p in enumerate(ordered)}
    return _trusted(_slower_than_parent(sorted(rows.values(), key=lambda r: order[Path(r.artifact)])))


def _trusted(rows: list[ScoreRow]) -> list[ScoreRow]:
    """A .pt read with full pickle (--trust-checkpoint) says so in its row's note."""
    said = "read with full pickle (--trust-checkpoint)"
    return [replace(r, note="; ".join(filter(None, (r.note, said)))) if trusted() and r.artifact.endswith(".pt")
            else r for r in rows]


#: The regression face set: the first FACES faces (sorted) of the default evaluation folder.
FACES = 100


def regression_dataset():
    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.defaults import default_eval_data

    ds = load_dataset(default_eval_data())
    ds.samples = ds.samples[:FACES]
    ds.name = f"{ds.name}[:{FACES}]"
    return ds


def regression_rows(build: Path, runtime: str | None = None) -> list[ScoreRow]:
    """Score the build's artifacts (one runtime, or all) on the fixed face set; latency is
    machine-dependent and not compared, so it is sampled briefly."""
    quick = LatencyOptions(warmup=2, min_runs=3, min_seconds=0.0, rounds=1, io_runs=1)
    opts = ScoreOptions(threads=(1,), latency=quick, progress=False)
    return score_paths(find_artifacts(build), regression_dataset(), opts, (runtime,) if runtime else None)



def update_baselines(build: Path | None) -> str:
    """Rescore the built-in model's build one runtime at a time (as the per-runtime tests and
    tox environments do), rewrite the baselines, and say what moved."""
    from facelm.eval.defaults import BUILD, DEFAULT_MODEL
    from facelm.eval.infer.runtimes import REGISTRY
    from facelm.scores.regression import write_baselines
    from facelm.scores.table import score_table

    build = Path(build) if build else BUILD / DEFAULT_MODEL.stem
    if not build.is_dir():
        raise UserError(f"{build}: no build of the built-in model (run `python cli.py compile` first)")
    rows = [r for rt in REGISTRY for r in regression_rows(build, rt)]
    errors = [r for r in rows if r.error]
    if errors:
        raise UserError(f"{errors[0].artifact} [{errors[0].runtime}]: {errors[0].error}; baselines not written")
    diff = write_baselines(rows, {"model": DEFAULT_MODEL.name, "dataset": regression_dataset().name})
    return score_table(rows) + "\n\nbaseline changes:\n" + ("\n".join(diff) if diff else "  none")
