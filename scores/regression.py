"""Per-runtime regression against stored baselines.

Baselines live in scores/baselines/<runtime>.json, one row per artifact of the built-in
model scored on a fixed face set. They change only through `cli.py score --update-baselines`;
a normal test run compares and never writes."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from facelm.core.contract import is_quantised
from facelm.core.errors import UserError

BASELINES = Path(__file__).resolve().parent / "baselines"
METRICS = ("nme", "fr10", "auc10", "miss", "drift", "gflops", "size_mb")
#: Allowed absolute change per metric, for float artifacts and for quantised ones. Latency is
#: machine-dependent and is not compared.
TOLERANCES = {
    "float": {"nme": 0.02, "fr10": 0.5, "auc10": 0.003, "miss": 0.0, "drift": 0.02, "gflops": 0.001, "size_mb": 0.01},
    "int8": {"nme": 0.15, "fr10": 1.5, "auc10": 0.01, "miss": 1.0, "drift": 0.15, "gflops": 0.001, "size_mb": 0.05},
}


class RegressionError(AssertionError):
    """One or more figures moved beyond tolerance; the message lists each, largest first."""


@dataclass(frozen=True)
class Mismatch:
    artifact: str
    runtime: str
    metric: str
    baseline: float | None
    new: float | None
    tolerance: float

    def __str__(self):
        return (f"{self.artifact} [{self.runtime}] {self.metric}: baseline {self.baseline}, new {self.new}, "
                f"tolerance {self.tolerance}")

    def excess(self) -> float:
        if self.baseline is None or self.new is None:
            return float("inf")
        return abs(self.new - self.baseline) - self.tolerance


def tolerance_class(kind: str) -> str:
    """Quantised kinds (core.contract.is_quantised, int16x8 included) get the looser tolerances."""
    return "int8" if is_quantised(kind) else "float"


def baseline_row(row) -> dict:
    """What is stored of a ScoreRow: the artifact's file name and the compared figures."""
    return {"artifact": Path(row.artifact).name, "runtime": row.runtime, "kind": row.kind,
            **{m: getattr(row, m) for m in METRICS}}


def compare(rows: list, baseline: list[dict]) -> list[Mismatch]:
    """Every figure of every baseline row against the new rows; a missing row or an error
    row is a mismatch too."""
    new = {(Path(r.artifact).name, r.runtime): r for r in rows}
    out = []
    for b in baseline:
        tol = TOLERANCES[tolerance_class(b["kind"])]
        r = new.get((b["artifact"], b["runtime"]))
        if r is None or r.error:
            out.append(Mismatch(b["artifact"], b["runtime"], "row", None, None, 0.0))
            continue
        for m in METRICS:
            old, cur = b.get(m), getattr(r, m)
            if old is None and cur is None:
                continue
            if old is None or cur is None or abs(cur - old) > tol[m] + 1e-9:
                out.append(Mismatch(b["artifact"], b["runtime"], m, old, cur, tol[m]))
    return sorted(out, key=lambda mm: -mm.excess())


def check(rows: list, baseline: list[dict]) -> None:
    bad = compare(rows, baseline)
    if bad:
        raise RegressionError(f"{len(bad)} figure(s) moved beyond tolerance; largest: {bad[0]}\n" +
                              "\n".join(f"  {m}" for m in bad))


def load_baseline(runtime: str) -> dict:
    p = BASELINES / f"{runtime}.json"
    if not p.exists():
        raise UserError(f"{p}: no baseline (create it with `python cli.py score --update-baselines`)")
    return json.loads(p.read_text())


def write_baselines(rows: list, meta: dict) -> list[str]:
    """Write one file per runtime; returns a readable diff of what changed."""
    from facelm.core.files import write_json_atomic

    BASELINES.mkdir(parents=True, exist_ok=True)
    diff = []
    for rt in sorted({r.runtime for r in rows}):
        new_rows = [baseline_row(r) for r in rows if r.runtime == rt and not r.error]
        p = BASELINES / f"{rt}.json"
        old = {(b["artifact"]): b for b in json.loads(p.read_text())["rows"]} if p.exists() else {}
        for b in new_rows:
            o = old.get(b["artifact"], {})
            for m in METRICS:
                if o.get(m) != b[m]:
                    diff.append(f"{rt:12s} {b['artifact']:40s} {m:8s} {o.get(m)} -> {b[m]}")
        write_json_atomic(p, {**meta, "runtime": rt, "rows": new_rows})
    return diff
