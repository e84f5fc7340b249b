"""Sweep points, the Pareto front and budgets: plain data, no runtimes.

A point is one artifact of a sweep (checkpoint x input size x precision) with the figures that
decide what to ship. Lower is better on every axis; a point is on the front of two axes when no
other point is at least as good on both and better on one. Only shippable points compete: a
reference row (another team's file) and an artifact that misses more faces than the miss budget
(its NME counts only the faces it found, so a model that drops hard faces looks accurate) are
kept out of every front and every pick."""
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
    ms: float | None = None   # the inference call alone, at `threads`
    threads: int = 1
    p90_ms: float | None = None
    size_mb: float | None = None
    gflops: float | None = None
    cpu: str = ""             # where ms was measured
    error: str | None = None
    front_ms: bool = False    # on the NME x latency front
    front_mb: bool = False    # on the NME x size front
    scales: dict = field(default_factory=dict)  # "0.5" -> nme, miss, ... at that scale (score --scales)
    conditions: dict = field(default_factory=dict)  # "dark:2" -> nme, miss, ... under it (score --conditions)
    reference: bool = False   # a foreign file scored beside the candidates (--reference)
    over_miss: bool = False   # misses more faces than the sweep's miss budget (--max-miss)

    @property
    def label(self) -> str:
        from pathlib import Path

        return f"{'reference ' if self.reference else ''}{Path(self.checkpoint).stem}@{self.imgsz} {self.precision}"

    @property
    def shippable(self) -> bool:
        return not self.reference and not self.over_miss


def _val(v) -> float:
    return math.inf if v is None else float(v)


def front(points: list, x: str, y: str = "nme") -> list[bool]:
    """Membership of each point in the front minimising (x, y); points without both, and points
    that are not shippable, are out (and dominate nothing)."""
    xs = [(_val(getattr(p, x)), _val(getattr(p, y))) if getattr(p, "shippable", True) else (math.inf, math.inf)
          for p in points]
    out = []
    for i, (a, b) in enumerate(xs):
        if math.isinf(a) or math.isinf(b):
            out.append(False)
            continue
        out.append(not any((c <= a and d <= b) and (c < a or d < b) for j, (c, d) in enumerate(xs) if j != i))
    return out


#: The default miss budget, percent of labelled faces (sweep --max-miss).
MAX_MISS = 1.0


def mark_fronts(points: list[SweepPoint], max_miss: float = MAX_MISS) -> list[SweepPoint]:
    """Flag the points over the miss budget, then mark both fronts among the rest."""
    points = [replace(p, over_miss=p.miss is not None and p.miss > max_miss) for p in points]
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
    """The lowest-NME shippable artifact (fewest misses first) that fits every budget."""
    ok = [p for p in points if p.error is None and p.nme is not None and p.shippable and budgets.fits(p)]
    return min(ok, key=lambda p: (_val(p.miss), p.nme, _val(p.ms))) if ok else None
