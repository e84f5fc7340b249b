"""Sweep points, the Pareto front and budgets: plain data, no runtimes.

A point is one artifact of a sweep (checkpoint x input size x precision) with the figures that
decide what to ship. Lower is better on every axis; a point is on the front of two axes when no
other point is at least as good on both and better on one."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class SweepPoint:
    checkpoint: str
    imgsz: int
    precision: str            # fp32, fp16, int8
    artifact: str = ""
    kind: str = ""
    nme: float | None = None  # percent
    miss: float | None = None
    drift: float | None = None
    ms: float | None = None   # the inference call alone, 1 thread
    p90_ms: float | None = None
    size_mb: float | None = None
    gflops: float | None = None
    cpu: str = ""             # where ms was measured
    error: str | None = None
    front_ms: bool = False    # on the NME x latency front
    front_mb: bool = False    # on the NME x size front
    scales: dict = field(default_factory=dict)  # "0.5" -> nme, miss, ... at that scale (score --scales)

    @property
    def label(self) -> str:
        from pathlib import Path

        return f"{Path(self.checkpoint).stem}@{self.imgsz} {self.precision}"


def _val(v) -> float:
    return math.inf if v is None else float(v)


def front(points: list, x: str, y: str = "nme") -> list[bool]:
    """Membership of each point in the front minimising (x, y); points without both are out."""
    xs = [(_val(getattr(p, x)), _val(getattr(p, y))) for p in points]
    out = []
    for i, (a, b) in enumerate(xs):
        if math.isinf(a) or math.isinf(b):
            out.append(False)
            continue
        out.append(not any((c <= a and d <= b) and (c < a or d < b) for j, (c, d) in enumerate(xs) if j != i))
    return out


def mark_fronts(points: list[SweepPoint]) -> list[SweepPoint]:
    fm, fb = front(points, "ms"), front(points, "size_mb")
    return [replace(p, front_ms=a, front_mb=b) for p, a, b in zip(points, fm, fb)]


@dataclass(frozen=True)
class Budgets:
    ms: float | None = None
    mb: float | None = None
    gflops: float | None = None

    def __bool__(self):
        return any(v is not None for v in (self.ms, self.mb, self.gflops))

    def fits(self, p: SweepPoint) -> bool:
        return all(limit is None or (v is not None and v <= limit)
                   for v, limit in ((p.ms, self.ms), (p.size_mb, self.mb), (p.gflops, self.gflops)))

    def describe(self) -> str:
        parts = [f"{n} <= {v:g}" for n, v in (("ms", self.ms), ("MB", self.mb), ("GFLOPs", self.gflops)) if v is not None]
        return ", ".join(parts) or "none"


def best_under(points: list[SweepPoint], budgets: Budgets) -> SweepPoint | None:
    """The lowest-NME artifact (fewest misses first) that fits every budget."""
    ok = [p for p in points if p.error is None and p.nme is not None and budgets.fits(p)]
    return min(ok, key=lambda p: (_val(p.miss), p.nme, _val(p.ms))) if ok else None
