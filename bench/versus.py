"""face51-xs against the challenge's 2nd-place model, side by side in one run: every built-in
model's full-integer TFLite and the reference file, scored on the same faces at scale 1 and 0.5
and timed together in interleaved rounds (1 thread, the inference call alone).

    python bench/versus.py [--reference ../shared/anchors/second_place_best.tflite] [--runs 300]

A build that is missing is compiled first. Targets (issue: face51-xs), face51-xs full integer
against the reference, all at once: lower NME; invoke time <= 0.8 x; file <= 2.25 MB; GFLOPs <=
0.08; no more misses; lower NME at half the face size; and its full integer within 1.03 x its own
fp32 NME."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import ROOT, built_artifact

TARGETS = (  # (target, test on face51-xs's figures and the reference's)
    ("NME lower", lambda x, r: x["NME"] < r["NME"]),
    ("invoke <= 0.8 x", lambda x, r: x["ms 1t"] <= 0.8 * r["ms 1t"]),
    ("MB <= 2.25", lambda x, r: x["MB"] <= 2.25),
    ("GFLOPs <= 0.08", lambda x, r: x["GFLOPs"] <= 0.08),
    ("misses no more", lambda x, r: x["miss %"] <= r["miss %"]),
    ("NME @0.5 lower", lambda x, r: x["NME @0.5"] < r["NME @0.5"]),
)


def main() -> None:
    from facelm.core.offline import prepare

    prepare()
    from tabulate import tabulate

    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.defaults import BUILD, MODELS, default_eval_data
    from facelm.eval.cost.profile import LatencyOptions, machine
    from facelm.eval.scoring import ScoreOptions, score_paths

    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", type=Path, default=ROOT.parent / "shared" / "anchors" / "second_place_best.tflite")
    ap.add_argument("--runs", type=int, default=300, help="At least this many timed invokes per file.")
    a = ap.parse_args()
    if not a.reference.is_file():
        sys.exit(f"{a.reference}: no such reference file")
    builds = {name: BUILD / Path(m).stem for name, m in MODELS.items()}
    arts = {name: built_artifact(b) for name, b in builds.items()}
    xs_fp32 = built_artifact(builds["face51-xs"], "fp32")
    rows = score_paths([a.reference, xs_fp32, *arts.values()], load_dataset(default_eval_data()),
                       ScoreOptions(threads=(1,), scales=(1, 0.5), latency=LatencyOptions(min_runs=a.runs),
                                    progress=False), ("tflite",))
    by = {Path(r.artifact): _figures(r) for r in rows}
    names = {a.reference: "2nd place (reference)", xs_fp32: "face51-xs fp32",
             **{p: f"{n} full integer" for n, p in arts.items()}}
    print(tabulate([{"model": names[p], **f} for p, f in by.items()], headers="keys", tablefmt="github"))
    xs, ref = by[arts["face51-xs"]], by[a.reference]
    print(f"\nface51-xs full integer against {a.reference.name} ({machine()['cpu']}, same run):")
    for what, holds in TARGETS:
        print(f"  {what}: {'met' if holds(xs, ref) else 'NOT met'}")
    ratio = xs["NME"] / by[xs_fp32]["NME"]
    print(f"  full integer within 1.03 x its fp32: x{ratio:.3f} {'met' if ratio <= 1.03 else 'NOT met'}; "
          f"invoke x{xs['ms 1t'] / ref['ms 1t']:.2f} of the reference's")


def _figures(r) -> dict:
    half = (r.scales or {}).get("0.5") or {}
    return {"kind": r.kind, "NME": r.nme, "miss %": r.miss, "NME @0.5": half.get("nme"), "miss @0.5": half.get("miss"),
            "GFLOPs": r.gflops, "MB": r.size_mb, "ms 1t": r.ms(1), "error": r.error or ""}


if __name__ == "__main__":
    main()
