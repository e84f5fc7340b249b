"""`inspect`: where a build's INT8 error comes from, on real faces. For every quantised
artifact of a build (or one file) against its float parent: the per-tensor table of
eval.quant.error, what each output costs in landmarks, and the files beside the build:
<artifact>.inspect.json, .csv and .png (error against depth)."""
from __future__ import annotations

import csv
import io
import tempfile
import time
from pathlib import Path

import numpy as np

from facelm.core.contract import INTEGER_KINDS
from facelm.core.errors import UserError
from facelm.core.files import write_json_atomic, write_text_atomic
from facelm.eval.infer.artifact import describe
from facelm.eval.quant.error import ort_tensor_errors, output_costs, output_names, tflite_tensor_errors

#: Kinds inspect compares: every tensor quantised (TFLite) or QDQ (ONNX Runtime).
INSPECTABLE = INTEGER_KINDS


def quantised_artifacts(target: Path) -> list[tuple[Path, Path]]:
    """(quantised artifact, its float parent) pairs of a build folder or of one file."""
    target = Path(target)
    if not target.exists():
        raise UserError(f"{target}: no such build folder or file")
    files = sorted(target.glob("*.tflite")) + sorted(target.glob("*.int8.onnx")) if target.is_dir() else [target]
    pairs = []
    for f in files:
        art = describe(f)
        if art.kind not in INSPECTABLE:
            if not target.is_dir():
                raise UserError(f"{f}: is {art.kind}, not a quantised model (inspect compares INT8 with its float parent)")
            continue
        if target.is_dir() and art.parent is None:
            continue  # a file compile did not make
        if art.parent is None or not art.parent.is_file():
            what = f"its parent {art.parent.name} is missing" if art.parent else "no manifest names its float parent"
            raise UserError(f"{f}: {what}; compile the build again")
        if describe(art.parent).kind != "fp32":
            raise UserError(f"{f}: its parent {art.parent.name} is not a float32 model")
        pairs.append((f, art.parent))
    if not pairs:
        raise UserError(f"{target}: no quantised artifact (int8 TFLite or ONNX Runtime INT8) to inspect")
    return pairs


def face_inputs(data: Path, n: int, imgsz) -> np.ndarray:
    """n preprocessed images spread over a face folder; exit 2 when none is readable."""
    from facelm.eval.data.datasets import load_dataset, spread
    from facelm.eval.infer.preprocess import preprocess, read_image

    picks = spread(load_dataset(data).samples, n)
    imgs = [im for im in (read_image(s.image) for s in picks) if im is not None]
    if not imgs:
        raise UserError(f"{data}: no readable face image")
    return np.concatenate([preprocess(im, imgsz)[0] for im in imgs])


def inspect_target(target: Path, data: Path, n: int = 32, top: int = 15):
    """`inspect` on a build folder or one file: for each quantised artifact, its report written
    beside it; yields the terminal text of each as it is done."""
    from facelm.core.progress import progress
    from facelm.scores.table import inspect_tables

    pairs = quantised_artifacts(target)
    inputs = face_inputs(data, n, describe(pairs[0][1]).spec.imgsz)
    for q, parent in pairs:
        rep = inspect_one(q, parent, inputs, lambda xs, q=q: progress(xs, desc=q.name, unit="img"))
        files = write_report(rep, q.parent)
        yield inspect_tables(rep, top) + f"\nwrote {', '.join(f.name for f in files)}\n"


def inspect_one(quantised: Path, parent: Path, inputs: np.ndarray, progress=None) -> dict:
    """Per-tensor errors and per-output landmark costs of one quantised artifact."""
    t = time.perf_counter()
    spec = describe(parent).spec
    if quantised.suffix == ".tflite":
        rows, outs = tflite_tensor_errors(quantised, parent, inputs, progress)
        costs = output_costs(spec, outs, output_names(outs[0][1], spec))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            rows = ort_tensor_errors(quantised, parent, inputs, Path(tmp))
        costs = _ort_costs(quantised, parent, inputs, spec)
    return {"artifact": quantised.name, "parent": parent.name, "kind": describe(quantised).kind,
            "images": len(inputs), "seconds": round(time.perf_counter() - t, 1), "outputs": costs,
            "tensors": [r.row() for r in rows]}


def _ort_costs(quantised: Path, parent: Path, inputs: np.ndarray, spec) -> list[dict]:
    from facelm.eval.quant.error import _aligned
    from facelm.eval.infer.runtimes import open_runtime

    q, f = open_runtime(quantised, 2), open_runtime(parent, 2)
    outs = [_aligned(q.run(x[None]), f.run(x[None])) for x in inputs]
    return output_costs(spec, outs, output_names(outs[0][1], spec))


def write_report(rep: dict, folder: Path) -> list[Path]:
    """JSON (everything), CSV (one row per tensor) and PNG (SQNR against depth)."""
    stem = folder / f"{rep['artifact']}.inspect"
    js, cs, png = Path(f"{stem}.json"), Path(f"{stem}.csv"), Path(f"{stem}.png")
    write_json_atomic(js, rep)
    buf = io.StringIO()
    cols = list(rep["tensors"][0]) if rep["tensors"] else ["name"]
    w = csv.DictWriter(buf, fieldnames=cols)
    w.writeheader()
    w.writerows({**r, "shape": "x".join(map(str, r.get("shape", [])))} for r in rep["tensors"])
    write_text_atomic(cs, buf.getvalue())
    _plot(rep, png)
    return [js, cs, png]


def _plot(rep: dict, png: Path) -> None:
    sqnr_plot(rep, png)


def sqnr_plot(rep: dict, png: Path) -> Path:
    """SQNR against depth, readable: the axis spans the informative range (2nd-98th percentile,
    padded), points beyond it sit on its edge as triangles with their count, and the five worst
    tensors are labelled at staggered offsets so the labels do not collide."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [r for r in rep["tensors"] if r["sqnr_db"] is not None]
    y = np.array([r["sqnr_db"] for r in t], float) if t else np.zeros(0)
    lo, hi = (np.percentile(y, [2, 98]) if len(y) else (0.0, 1.0))
    pad = max(hi - lo, 1.0) * 0.08
    lo, hi = lo - pad, hi + pad
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=100)
    inside = (y >= lo) & (y <= hi)
    depth = np.array([r["depth"] for r in t], float)
    sc = ax.scatter(depth[inside], y[inside], c=[min(r["rmse_steps"], 3) for r, k in zip(t, inside) if k],
                    cmap="viridis_r", s=14, vmin=0, vmax=3)
    fig.colorbar(sc, ax=ax, label="RMSE / scale (capped at 3)")
    for mask, edge, marker, word in ((y > hi, hi, "^", "above"), (y < lo, lo, "v", "below")):
        if mask.any():
            ax.scatter(depth[mask], np.full(mask.sum(), edge), marker=marker, color="crimson", s=30, clip_on=False,
                       label=f"{mask.sum()} {word} the axis (to {y[mask].max() if word == 'above' else y[mask].min():.0f} dB)")
    span = max(depth.max() - depth.min(), 1.0) if len(depth) else 1.0
    for i, r in enumerate(t[:5]):  # ranked worst first: a stacked column of labels with leader lines
        yy = min(max(r["sqnr_db"], lo), hi)
        ax.annotate(f"#{i + 1} {r['op']}", (r["depth"], yy), xytext=(r["depth"] + 0.08 * span, hi - (i + 1) * (hi - lo) * 0.08),
                    fontsize=7, bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="0.7", alpha=0.9),
                    arrowprops=dict(arrowstyle="-", lw=0.6, color="0.3"))
    ax.set_ylim(lo, hi)
    ax.set_xlabel("op position in the quantised graph")
    ax.set_ylabel("SQNR vs float parent (dB, higher is better)")
    ax.set_title(f"{rep['artifact']} vs {rep['parent']} ({rep['images']} faces)")
    if (y > hi).any() or (y < lo).any():
        ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = png.with_name(png.name + ".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(png)
    return png
