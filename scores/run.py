"""`score`: every artifact on every runtime that can run it, through one evaluator."""
from __future__ import annotations

import gc
import json
from dataclasses import dataclass
from pathlib import Path

from eval.artifact import Artifact, describe
from eval.datasets import Dataset
from eval.decode import DecodeOptions
from eval.errors import UserError
from eval.evaluate import EvalOptions, drift, evaluate
from eval.profile import (current_rss_mb, file_mb, latency, onnx_cost, peak_rss_mb, reset_peak_rss, tflite_cost,
                          torch_cost)
from eval.runtimes import get_runtime, runtimes_for
from scores.records import ScoreRow

ORDER = [".pt", ".onnx", ".sim.onnx", ".int8.onnx", "_fp32.tflite", "_int8.tflite", "_int8_fio.tflite", "_fp16.tflite"]


@dataclass(frozen=True)
class ScoreOptions:
    normaliser: str = "inter-ocular"
    conf: float = 0.25
    iou: float = 0.45
    threads: tuple = (1, 2)
    latency_runs: int = 30
    max_images: int | None = None
    imgsz: int | None = None  # for .pt files scored alone
    progress: bool = True

    def __post_init__(self):
        if not self.threads or min(self.threads) < 1:
            raise ValueError("threads must be positive")


def find_artifacts(build: Path) -> list[Path]:
    """Every model under a build folder (and the checkpoint its export names), parents first
    and each quantised artifact right after its float parent."""
    build = Path(build)
    if not build.is_dir():
        raise UserError(f"{build}: no build folder (run `compile` first)")
    found = [p for p in build.rglob("*") if p.suffix in (".onnx", ".tflite") and p.is_file()
             and not any(part.endswith("_saved_model") or part.startswith(".") for part in p.relative_to(build).parts)]
    for m in build.rglob("*.onnx.json"):
        src = m.parent / json.loads(m.read_text()).get("built_from", "")  # absolute stays absolute
        if src.suffix == ".pt" and src.is_file():
            found.append(src)
    if not found:
        raise UserError(f"{build}: no .pt, .onnx or .tflite artifacts found")
    return sorted(set(found), key=_order)


def _order(p: Path):
    name = p.name
    rank = max((i for i, sfx in enumerate(ORDER) if name.endswith(sfx)), default=len(ORDER))
    return (str(p.parent), rank, name)


def _cost(art: Artifact, runtime) -> tuple:
    if art.path.suffix == ".onnx":
        return onnx_cost(art.path)
    if art.path.suffix == ".tflite":
        return tflite_cost(art.path)
    return torch_cost(runtime.model, art.spec.imgsz)


def score_one(path: Path, runtime_name: str, ds: Dataset, opts: ScoreOptions, preds: dict) -> ScoreRow:
    """One row; any failure becomes the row's error instead of stopping the table."""
    base = dict(artifact=str(path), runtime=runtime_name, dataset=ds.name)
    try:
        gc.collect()
        start_mb = current_rss_mb()
        reset_peak_rss()
        art = describe(path, opts.imgsz)
        rt = get_runtime(runtime_name)
        if runtime_name == "pytorch":
            rt.imgsz = opts.imgsz
        rt.load(path, threads=opts.threads[0])
        eo = EvalOptions(opts.normaliser, DecodeOptions(opts.conf, opts.iou), opts.max_images, opts.progress)
        res = evaluate(rt, art, ds, eo)
        preds[(str(Path(path).resolve()), runtime_name)] = res.predictions
        x = _one_input(ds, art)
        lat = {}
        for th in opts.threads:
            if th != opts.threads[0]:
                rt.load(path, threads=th)
            lat[th] = latency(rt.run, x, runs=opts.latency_runs)
        gflops, params = _cost(art, rt)
        parent = str(Path(art.parent).resolve()) if art.parent else None
        d = None
        parent_preds = preds.get((parent, _runtime_of(parent, runtime_name))) if parent else None
        if parent_preds is not None:
            d = drift(res.predictions, parent_preds, art.spec.kpt_shape[0], opts.normaliser)[0]
        s = res.summary
        return ScoreRow(**base, kind=art.kind, layout=art.layout, images=res.n_images,
                        faces=s.n_faces if s else sum(len(v) for v in res.predictions.values()),
                        nme=s.nme if s else None, fr08=s.fr[0.08] if s else None, fr10=s.fr[0.10] if s else None,
                        auc08=s.auc[0.08] if s else None, auc10=s.auc[0.10] if s else None,
                        miss=100 * s.n_missed / max(s.n_faces, 1) if s else None, drift=d, parent=parent,
                        gflops=gflops, params_m=params, size_mb=file_mb(path),
                        ms_1t=lat[opts.threads[0]][0], p90_1t=lat[opts.threads[0]][1],
                        ms_2t=lat[opts.threads[-1]][0] if len(opts.threads) > 1 else None,
                        peak_rss_mb=peak_rss_mb() - start_mb, eval_overhead=res.overhead_s / max(res.invoke_s, 1e-9),
                        regions=s.regions if s else {}, skipped=[list(x) for x in res.skipped])
    except UserError as e:
        if "landmarks, data has" in str(e) or "share no landmarks" in str(e):
            raise
        return ScoreRow(**base, error=str(e))
    except Exception as e:  # a broken artifact or runtime is a row, not a crash
        return ScoreRow(**base, error=f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
    finally:
        gc.collect()


def _runtime_of(parent: str, runtime: str) -> str:
    rts = runtimes_for(Path(parent))
    return runtime if runtime in rts else (rts[0] if rts else runtime)


def _one_input(ds: Dataset, art: Artifact):
    from eval.preprocess import preprocess, read_image

    for s in ds.samples:
        img = read_image(s.image)
        if img is not None:
            return preprocess(img, art.spec.imgsz)[0]
    raise UserError(f"{ds.root}: no readable image")


def score_paths(paths: list[Path], ds: Dataset, opts: ScoreOptions = ScoreOptions(),
                runtimes: tuple | None = None) -> list[ScoreRow]:
    """Score each file on each runtime that can run it (or only those named)."""
    rows, preds = [], {}
    for p in sorted({Path(p) for p in paths}, key=_order):
        names = runtimes_for(p) or ["?"]
        for rt in names:
            if runtimes and rt not in runtimes:
                continue
            rows.append(score_one(p, rt, ds, opts, preds) if rt != "?" else
                        ScoreRow(str(p), "-", ds.name, error=f"{p}: no runtime for {p.suffix} files"))
    return rows
