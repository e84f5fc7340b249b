"""`sweep`: every (checkpoint, input size) compiled to the requested TFLite precisions, every
artifact scored by the shared evaluator on the same faces, latency measured the same way for
all, and one report with the Pareto front. Jobs run in a process pool on this machine or as Ray
tasks on a cluster (explore/ray_pool.py); a job whose inputs did not change is not rerun."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from facelm.core.errors import UserError, row_error
from facelm.core.files import fingerprint, read_manifest, sha256, write_json_atomic
from facelm.eval.cost.profile import LatencyOptions
from facelm.explore.pareto import MAX_MISS, Budgets

#: precision -> the PIPELINE stage that makes it (the phone ships TFLite; int8 is full integer)
PRECISION_STAGE = {"fp32": "tflite_fp32", "fp16": "tflite_fp16", "int8": "tflite_int8"}
CACHE_FILE = "sweep_job.json"
VERSION = 2  # rows carry their precision


@dataclass(frozen=True)
class SweepOptions:
    imgsz: tuple = (96, 128, 160, 224)
    precisions: tuple = ("fp32", "fp16", "int8")
    data: Path | None = None            # faces scored (and the INT8 guard's); default: AFW
    calib_data: Path | None = None
    calib_n: int = 100
    budgets: Budgets = Budgets()
    workers: int | None = None          # default: what cores and memory allow
    ray: str | None = None              # None: local process pool; "auto", "local" or host:port
    latency_on: str = "driver"          # or "worker" (labelled with the worker's CPU)
    latency: LatencyOptions | None = LatencyOptions()  # None: no timing
    threads: int = 1                    # the thread count latency is timed at (the fronts' axis)
    progress: bool = True
    scales: tuple = ()                  # faces also scored shrunk by these factors (eval.data.scales)
    conditions: tuple = ()              # (name, severity): faces also scored under each (eval.data.conditions)
    references: tuple = ()              # foreign files scored and timed beside the candidates
    max_miss: float = MAX_MISS          # percent of faces; above it an artifact competes for nothing

    def __post_init__(self):
        if not 0 <= self.max_miss <= 100:
            raise UserError(f"--max-miss {self.max_miss}: a percentage of faces, 0..100")
        bad = [p for p in self.precisions if p not in PRECISION_STAGE]
        if bad or not self.precisions:
            raise UserError(f"--precision {','.join(bad) or '(empty)'}: choose from {', '.join(PRECISION_STAGE)}")
        if isinstance(self.conditions, str):  # "dark,roll:3", as score takes them
            from facelm.eval.data.conditions import check_conditions

            object.__setattr__(self, "conditions", check_conditions(self.conditions))
        if self.latency_on not in ("driver", "worker"):
            raise UserError(f"--latency-on {self.latency_on}: choose driver or worker")


@dataclass(frozen=True)
class Job:
    checkpoint: Path
    imgsz: int


def find_checkpoints(inputs) -> list[Path]:
    """Checkpoints named, and every .pt under folders named; an empty folder is an error. A
    file that is not a checkpoint stays in the list: its job becomes a row with its error."""
    out = []
    for i in map(Path, inputs):
        if i.is_dir():
            found = sorted(i.rglob("*.pt"))
            if not found:
                raise UserError(f"{i}: no .pt checkpoints in this folder")
            out += found
        elif i.exists():
            out.append(i)
        else:
            raise UserError(f"{i}: no such checkpoint or folder")
    return list(dict.fromkeys(p.resolve() for p in out))


def data_fingerprint(path: Path | None) -> str:
    """Identity of a face folder (or file), so changed data reruns jobs."""
    if path is None:
        return "default"
    path = Path(path)
    return fingerprint(sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path])[:16]


def job_dir(out: Path, job: Job, digest: str) -> Path:
    return Path(out) / f"{job.checkpoint.stem}-{digest[:8]}" / str(job.imgsz)


def job_key(job: Job, digest: str, opts: SweepOptions) -> dict:
    """What a job's cached scores depend on: the checkpoint, the options, the faces, and the
    compiler's stage revisions (a compiler change makes artifacts a cached score no longer describes)."""
    from facelm.compiler.pipeline import REVISIONS
    from facelm.eval.defaults import compile_faces, default_eval_data

    return {"version": VERSION, "compiler": dict(REVISIONS), "checkpoint_sha256": digest, "imgsz": job.imgsz, "precisions": list(opts.precisions),
            "data": data_fingerprint(opts.data or default_eval_data()), "calib_n": opts.calib_n,
            "calib": data_fingerprint(opts.calib_data or compile_faces(None, opts.data).calib),
            **({"scales": extra} if (extra := [s for s in opts.scales if s != 1]) else {}),
            **({"conditions": [f"{n}:{v}" for n, v in opts.conditions]} if opts.conditions else {})}


def run_job(checkpoint: str, imgsz: int, precisions: tuple, out_dir: str, data: str | None, calib_data: str | None,
            calib_n: int, latency: LatencyOptions | None = None, scales: tuple = (), threads: int = 1,
            conditions: tuple = ()) -> dict:
    """Compile one checkpoint at one size and score its artifacts (accuracy and cost; latency
    too when `latency` is given, on this machine). Returns plain data; never raises."""
    from facelm.core.offline import prepare

    prepare()
    t0 = time.perf_counter()
    try:
        rows, cpu, lat = _compile_and_score(Path(checkpoint), imgsz, precisions, Path(out_dir), data, calib_data,
                                            calib_n, latency, scales, threads, conditions)
        return {"rows": rows, "latency": lat, "cpu": cpu, "seconds": round(time.perf_counter() - t0, 1)}
    except Exception as e:  # noqa: BLE001  a failing job is a row, not a crash
        return {"error": row_error(e), "seconds": round(time.perf_counter() - t0, 1)}


def _compile_and_score(ckpt: Path, imgsz, precisions, out_dir: Path, data, calib_data, calib_n, latency, scales=(),
                       threads: int = 1, conditions: tuple = ()):
    from facelm.compiler.pipeline import CompileOptions, compile_checkpoint
    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.defaults import default_eval_data
    from facelm.eval.cost.profile import machine
    from facelm.eval.cost.profile import time_artifacts
    from facelm.eval.scoring import ScoreOptions, score_paths

    opts = CompileOptions(imgsz=imgsz, targets=tuple(PRECISION_STAGE[p] for p in precisions), verify_data=data,
                          calib_data=calib_data, calib_n=calib_n)
    results = compile_checkpoint(ckpt, out_dir, opts, progress=False)
    broken = next((r.error for r in results if r.error), None)
    if broken:  # a check failed: the job is a row with its error, as before
        raise UserError(broken)
    paths = {r.stage: r.path for r in results}
    precision_of = {str(paths[PRECISION_STAGE[p]]): p for p in precisions}
    arts = [Path(a) for a in precision_of]
    ds = load_dataset(data or default_eval_data())
    rows = score_paths(arts, ds, ScoreOptions(threads=(1,), time_latency=False, progress=False, scales=scales,
                                              conditions=tuple(map(tuple, conditions))), ("tflite",))
    lat = {}
    if latency is not None:
        lat = {Path(p).name: {**asdict(t), "threads": threads}
               for p, t in time_artifacts(arts, threads, latency, progress=False).items()}
    return [{**asdict(r), "precision": precision_of[r.artifact]} for r in rows], machine()["cpu"], lat


def load_cached(folder: Path, key: dict) -> dict | None:
    try:
        c = json.loads((folder / CACHE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if c.get("key") != key or "rows" not in c.get("result", {}):
        return None
    # the artifacts must still be the ones scored
    for r in c["result"]["rows"]:
        a = Path(r["artifact"])
        m = read_manifest(a)
        if not a.is_file() or not m or m.get("sha256") != sha256(a):
            return None
    return c


def save_cached(folder: Path, key: dict, result: dict, latency: dict | None = None) -> None:
    write_json_atomic(folder / CACHE_FILE, {"key": key, "result": result, "latency": latency or {}})
