"""Reference rows of a sweep (`--reference FILE`): a model made elsewhere (another team's TFLite,
ultralytics' own export) scored on the same faces and scales as the candidates and timed in the
same interleaved rounds, so "beats it on every axis" is read off one table and one plot. A
reference is never on a front and never the budgets' pick: it is not what the sweep can ship."""
from __future__ import annotations

from pathlib import Path

from facelm.core.errors import UserError
from facelm.explore.pareto import SweepPoint


def check_references(paths) -> tuple[Path, ...]:
    """The files named by --reference, each one readable as a model this evaluator decodes;
    anything else is one line naming the option, the file and the problem."""
    from facelm.eval.infer.artifact import describe
    from facelm.eval.infer.runtimes import runtimes_for

    out = []
    for p in map(Path, paths):
        if not p.is_file():
            raise UserError(f"--reference {p}: no such file")
        if p.suffix not in (".tflite", ".onnx") or not runtimes_for(p):
            raise UserError(f"--reference {p}: not a .tflite or .onnx model")
        try:
            describe(p)
        except UserError as e:
            raise UserError(f"--reference {p}: not a model this evaluator can run ({e})") from None
        out.append(p.resolve())
    return tuple(dict.fromkeys(out))


def precision_of(kind: str) -> str:
    """A sweep precision for a file's kind: fp32, fp16, or int8 for every quantised kind."""
    from facelm.core.contract import is_quantised

    return "int8" if is_quantised(kind) else kind or "?"


def score_reference(path: Path, data, scales: tuple, conditions: tuple = ()) -> SweepPoint:
    """Accuracy and cost of one reference file on the sweep's faces (latency comes with the
    candidates'). A file that fails to run is a row with its error."""
    from facelm.eval.infer.artifact import describe
    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.defaults import default_eval_data
    from facelm.eval.infer.runtimes import runtimes_for
    from facelm.eval.scoring import ScoreOptions, score_paths

    art = describe(path)
    ds = load_dataset(data or default_eval_data())
    row = score_paths([path], ds, ScoreOptions(threads=(1,), time_latency=False, progress=False, scales=scales,
                                               conditions=tuple(conditions)),
                      (runtimes_for(path)[0],))[0]
    return SweepPoint(checkpoint=str(path), imgsz=int(art.spec.imgsz[0]), precision=precision_of(row.kind),
                      artifact=str(path), kind=row.kind, nme=row.nme, miss=row.miss, size_mb=row.size_mb,
                      gflops=row.gflops, error=row.error, scales=row.scales or {}, conditions=row.conditions or {},
                      reference=True)
