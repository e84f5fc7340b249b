"""The report's cost on a real build: `score` (accuracy only) of every artifact of a build, then
`report` from what it wrote, each timed; the page and its images measured on disk.

    python bench/report.py [--build build/face51_s] [--data FACES] [--n 8]

Targets (issue: a report people look at): report under 20 s beyond the score it reads; the HTML
and its images together under 5 MB."""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from facelm.core.offline import prepare

    prepare()
    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.defaults import BUILD, DEFAULT_MODEL, default_eval_data
    from facelm.eval.cost.profile import machine
    from facelm.eval.scoring import ScoreOptions, find_artifacts, score_paths
    from facelm.htmlreport.page import make_report
    from facelm.scores.table import write_scores

    ap = argparse.ArgumentParser()
    ap.add_argument("--build", type=Path, default=BUILD / DEFAULT_MODEL.stem)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "report")
    a = ap.parse_args()
    data = a.data or default_eval_data()
    shutil.rmtree(a.out, ignore_errors=True)
    t0 = time.perf_counter()
    faces = []
    rows = score_paths(find_artifacts(a.build), load_dataset(data), ScoreOptions(time_latency=False, progress=False),
                       None, faces)
    write_scores(rows, faces, a.out / "scores", machine(), data)
    t1 = time.perf_counter()
    page = make_report(a.out / "scores", a.out / "report", a.n)
    t2 = time.perf_counter()
    size = sum(f.stat().st_size for f in page.parent.iterdir())
    print(f"{len(rows)} rows, {len(faces)} face records; score {t1 - t0:.1f} s; report {t2 - t1:.1f} s "
          f"(target < 20); {size / 1e6:.2f} MB in {len(list(page.parent.iterdir()))} files (target < 5); {page}")


if __name__ == "__main__":
    main()
