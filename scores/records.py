"""Score records: one frozen row per (artifact, runtime, dataset), rounded where created."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path


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
    drift: float | None = None        # NME (percent) against the float parent's landmarks
    parent: str | None = None
    gflops: float | None = None
    params_m: float | None = None
    size_mb: float | None = None
    ms_1t: float | None = None        # median latency, 1 thread
    p90_1t: float | None = None
    ms_2t: float | None = None
    peak_rss_mb: float | None = None  # peak resident memory this row added to the process (load + run)
    eval_overhead: float | None = None  # (preprocess + decode + metrics) / invoke time
    regions: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    error: str | None = None

    def __post_init__(self):
        for f, nd in (("nme", 3), ("fr08", 2), ("fr10", 2), ("auc08", 4), ("auc10", 4), ("miss", 2), ("drift", 3),
                      ("gflops", 3), ("params_m", 3), ("size_mb", 3), ("ms_1t", 3), ("p90_1t", 3), ("ms_2t", 3),
                      ("peak_rss_mb", 1), ("eval_overhead", 3)):
            object.__setattr__(self, f, _r(getattr(self, f), nd))

    def key(self) -> tuple:
        return (self.artifact, self.runtime, self.dataset)


#: Column -> (header, lower is better?) for the table.
COLUMNS = {
    "artifact": ("artifact", None), "runtime": ("runtime", None), "kind": ("kind", None),
    "nme": ("NME% ↓", True), "fr10": ("FR@0.10% ↓", True), "auc10": ("AUC@0.10 ↑", False),
    "miss": ("miss% ↓", True), "drift": ("drift% ↓", True), "gflops": ("GFLOPs ↓", True),
    "size_mb": ("MB ↓", True), "ms_1t": ("ms 1t ↓", True), "ms_2t": ("ms 2t ↓", True),
    "peak_rss_mb": ("+RSS MB ↓", True), "error": ("error", None),
}


def save_rows(rows: list[ScoreRow], path: Path) -> None:
    from compiler.manifest import write_json_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, [asdict(r) for r in rows])


def load_rows(path: Path) -> list[ScoreRow]:
    names = {f.name for f in fields(ScoreRow)}
    return [ScoreRow(**{k: v for k, v in d.items() if k in names}) for d in json.loads(Path(path).read_text())]
