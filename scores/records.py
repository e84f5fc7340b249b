"""Score records: one frozen row per (artifact, runtime, dataset), rounded where created.
Plain data: this package imports no runtime, no evaluator and no CLI."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from facelm.core.errors import InputError


def _r(v, nd):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), nd)


@dataclass(frozen=True)
class ScoreRow:
    artifact: str
    runtime: str
    dataset: str
    kind: str = ""
    layout: str = ""
    images: int = 0
    faces: int = 0
    nme: float | None = None          # percent, matched faces
    fr08: float | None = None         # percent of faces (misses count)
    fr10: float | None = None
    auc08: float | None = None
    auc10: float | None = None
    miss: float | None = None         # percent of ground-truth faces with no detection
    fp: float | None = None           # detections matching no labelled face, per image (labelled data)
    drift: float | None = None        # NME (percent) against the float parent's landmarks
    parent: str | None = None
    gflops: float | None = None
    params_m: float | None = None
    size_mb: float | None = None
    latency_ms: dict = field(default_factory=dict)  # threads ("1", "4", ...) -> median of the inference call alone
    p90_ms: dict = field(default_factory=dict)      # threads -> its 90th percentile
    io_ms: float | None = None        # input/output conversion around the call (fewest threads)
    latency_runs: int | None = None   # invokes behind each median (the fewest of any thread count)
    peak_rss_mb: float | None = None  # peak resident memory this row added to the process (load + run)
    eval_overhead: float | None = None  # (reading, preprocess, decode, metrics) / invoke time
    note: str | None = None           # e.g. a quantised artifact slower than its float parent
    regions: dict = field(default_factory=dict)
    scales: dict = field(default_factory=dict)  # "0.5" -> nme, fr10, auc10, miss, faces, face_px at that scale
    conditions: dict = field(default_factory=dict)  # "dark:2" -> nme, fr10, miss, faces under that condition
    jitter: float | None = None       # median over faces of the landmarks' RMS spread over moved copies, % (--stability)
    jitter_x: float | None = None     # jitter / the float parent's
    jitter_faces: int | None = None   # faces found in every copy (the median's)
    unsteady: int | None = None       # faces found in some copies and missed in others
    skipped: list = field(default_factory=list)
    error: str | None = None

    def __post_init__(self):
        for f, nd in (("nme", 3), ("fr08", 2), ("fr10", 2), ("auc08", 4), ("auc10", 4), ("miss", 2), ("fp", 3), ("drift", 3),
                      ("gflops", 3), ("params_m", 3), ("size_mb", 3), ("io_ms", 3), ("peak_rss_mb", 1),
                      ("eval_overhead", 3), ("jitter", 3), ("jitter_x", 3)):
            object.__setattr__(self, f, _r(getattr(self, f), nd))
        for f in ("latency_ms", "p90_ms"):  # keyed by thread count as JSON writes it, in rising order
            object.__setattr__(self, f, {str(k): _r(v, 3) for k, v in sorted(getattr(self, f).items(),
                                                                             key=lambda kv: int(kv[0]))})

    def ms(self, threads: int | None = None) -> float | None:
        """The median inference call at that thread count (default: the fewest threads timed)."""
        if threads is None:
            return next(iter(self.latency_ms.values()), None)
        return self.latency_ms.get(str(threads))


#: Column -> header for the table (the arrow says which way is better).
COLUMNS = {
    "artifact": "artifact", "runtime": "runtime", "kind": "kind",
    "nme": "NME% ↓", "fr10": "FR@0.10% ↓", "auc10": "AUC@0.10 ↑",
    "miss": "miss% ↓", "fp": "FP/img ↓", "drift": "drift% ↓", "jitter": "jitter% ↓", "jitter_x": "jitter x parent ↓",
    "gflops": "GFLOPs ↓",
    "size_mb": "MB ↓", "latency_ms": "ms {}t ↓", "io_ms": "I/O ms",
    "peak_rss_mb": "+RSS MB ↓", "note": "note", "error": "error",
}


def save_rows(rows: list[ScoreRow], path: Path, machine: dict | None = None, data: Path | None = None) -> None:
    """scores.json: the machine latency was measured on, the faces scored (so a report can draw
    them), and every row."""
    from facelm.core.files import write_json_atomic

    write_json_atomic(Path(path), {"machine": machine or {}, "data": str(Path(data).absolute()) if data else None,
                                   "rows": [asdict(r) for r in rows]})


#: faces.csv: one row per labelled face, scored artifact and face set (set: empty for the faces as
#: they are, else the condition, e.g. dark:2); NME, drift and jitter in percent.
FACE_COLUMNS = ("image", "face", "artifact", "runtime", "nme", "drift", "missed", "set", "jitter")
_OPTIONAL = ("set", "jitter")  # faces.csv of earlier releases lack them


def save_faces(records: list[dict], path: Path) -> Path:
    """faces.csv beside scores.json: every face's error, so a figure can be traced to its faces."""
    import csv
    import io

    from facelm.core.files import write_text_atomic

    buf = io.StringIO()
    w = csv.DictWriter(buf, FACE_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows({k: ("" if r.get(k) is None else r[k]) for k in FACE_COLUMNS} for r in records)
    return write_text_atomic(Path(path), buf.getvalue())


def read_faces(path: Path) -> list[dict]:
    """faces.csv back as records (empty cells as None, numbers as numbers)."""
    import csv

    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and set(FACE_COLUMNS) - set(_OPTIONAL) - set(rows[0]):
        raise InputError(f"{path}: not a faces.csv of this layout (columns {', '.join(FACE_COLUMNS)})")
    num = {"face": int, "missed": int, "nme": float, "drift": float, "jitter": float}
    out = []
    for r in rows:
        rec = {k: (num[k](v) if k in num and v != "" else (None if v == "" else v)) for k, v in r.items()}
        rec["set"] = r.get("set") or ""  # the faces as they are
        rec.setdefault("jitter", None)
        out.append(rec)
    return out
