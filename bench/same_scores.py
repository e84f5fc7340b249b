"""Are two `score` runs the same, to the last digit, in everything but timing? For refactors
that must change no figure: score one build before and after, then

    python bench/same_scores.py before/scores.json after/scores.json

Rows are matched by (artifact, runtime); every field is compared except those measured with a
clock (latency, I/O, memory, the evaluation overhead ratio and the note that follows from
latency). Exit 0 when equal, 1 with every difference listed."""
from __future__ import annotations

import json
import sys

TIMED = {"latency_ms", "p90_ms", "io_ms", "latency_runs", "peak_rss_mb", "eval_overhead", "note",
         "ms_1t", "p90_1t", "ms_2t"}  # the last three: the latency fields of runs before 0.2


def rows(path: str) -> dict:
    return {(r["artifact"], r["runtime"]): r for r in json.load(open(path))["rows"]}


def differences(a: dict, b: dict) -> list[str]:
    out = [f"only in one run: {k}" for k in sorted(set(a) ^ set(b))]
    for k in sorted(set(a) & set(b)):
        for field in sorted(set(a[k]) | set(b[k])):
            if field not in TIMED and a[k].get(field) != b[k].get(field):
                out.append(f"{k[0]} [{k[1]}] {field}: {a[k].get(field)} != {b[k].get(field)}")
    return out


def main() -> int:
    a, b = rows(sys.argv[1]), rows(sys.argv[2])
    diff = differences(a, b)
    fields = sorted({f for r in a.values() for f in r} - TIMED)
    print("\n".join(diff) or f"equal: {len(a)} rows x {len(fields)} fields ({', '.join(fields)})")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
