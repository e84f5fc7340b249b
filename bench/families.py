"""Every ultralytics pose family through the product, side by side in one run: one 51-point
checkpoint each of YOLOv8, YOLO11 and YOLO26 (trained with `train --arch X --imgsz 96`, e.g. on a
lent GPU: bench/gpu/jobs_families.sh) is compiled fresh and timed, exported by ultralytics itself
(its fp32 TFLite, for the head-rewrite check), and every file is scored on the same faces and
timed in the same interleaved rounds (1 thread, the inference call alone).

    python bench/families.py [--ckpt yolov8=build/gpu/yolov8.pt --ckpt yolo11=... --ckpt yolo26=...]
                             [--families yolov8,yolo11,yolo26] [--data FOLDER] [--runs 300]
                             [--out build/bench/families]

Default checkpoints: build/gpu/<family>.pt. Targets (issue: families), for each checkpoint whose
fp32 NME is under 7%: compile passes every check; full-integer TFLite NME <= 1.03 x its fp32
TFLite's with no extra misses, ORT INT8 the same; our fp32 TFLite and ultralytics' own score
within 1% of each other; and YOLO26's compile takes at most 1.2 x YOLOv8's."""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from common import ROOT, run_measured, write_onnx2tf_sample

FAMILIES = ("yolov8", "yolo11", "yolo26")

THEIRS = """
import json
from facelm.core.offline import prepare; prepare()
from ultralytics import YOLO
YOLO({ckpt!r}, task="pose").export(format="saved_model", imgsz={s})
print(json.dumps({{"ok": True}}))
"""

#: What a checkpoint is: its head, its training size, and whether its blocks are YOLO11's C3k2.
WHAT = """
import json
from pathlib import Path
from facelm.core.checkpoint import load_pose_checkpoint
m, info = load_pose_checkpoint(Path({ckpt!r}))
print(json.dumps({{"head": type(m.model[-1]).__name__, "imgsz": info.imgsz[0],
                   "c3k2": any(type(x).__name__ == "C3k2" for x in m.modules())}}))
"""


def _checkpoints(given: list[str], families: list[str]) -> dict[str, Path]:
    if not families or any(f not in FAMILIES for f in families):
        sys.exit(f"--families {','.join(families)}: choose among {', '.join(FAMILIES)}")
    ckpts = {f: ROOT / "build" / "gpu" / f"{f}.pt" for f in families}
    for item in given:
        fam, _, path = item.partition("=")
        if fam not in ckpts or not path:
            sys.exit(f"--ckpt {item!r}: expected FAMILY=PATH with FAMILY one of {', '.join(ckpts)}")
        ckpts[fam] = Path(path)
    missing = [f"{f} ({p})" for f, p in ckpts.items() if not p.is_file()]
    if missing:
        sys.exit("no checkpoint for " + "; ".join(missing) + ": train them (bench/gpu/jobs_families.sh) or give --ckpt")
    return ckpts


def _compile(ckpt: Path, out: Path, data: Path | None) -> tuple[float, int, str]:
    """A fresh compile in a child process: (seconds, exit code, the table's tail)."""
    import subprocess

    shutil.rmtree(out, ignore_errors=True)
    extra = ["--calib-data", str(data), "--data", str(data)] if data else []
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "cli.py", "compile", str(ckpt), "--out", str(out), *extra], cwd=ROOT,
                       capture_output=True, text=True)
    return time.perf_counter() - t, p.returncode, (p.stdout + p.stderr)[-1500:]


def _ultralytics_tflite(ckpt: Path, work: Path, imgsz: int) -> Path | None:
    """ultralytics' own export of the checkpoint (saved_model, which writes its fp32 TFLite too)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    local = work / ckpt.name
    shutil.copy(ckpt, local)
    write_onnx2tf_sample(work)
    try:
        run_measured(THEIRS.format(ckpt=str(local), s=imgsz), cwd=work)
    except RuntimeError as e:
        print(f"ultralytics' export of {ckpt} failed: {str(e)[-300:]}")
        return None
    found = sorted(work.rglob("*_float32.tflite"))
    return found[0] if found else None


def _epochs(ckpt: Path) -> str:
    """The training recipe's epochs from the card beside the checkpoint, earliest run first
    (20 + 96: a run of 96 epochs from a run of 20); '?' where no card was written."""
    import json

    card = ckpt.with_suffix(".card.json")
    if not card.is_file():
        return "? (no card)"
    runs, train = [], json.loads(card.read_text()).get("train")
    while train:
        runs.append(str(train.get("epochs", "?")))
        train = (train.get("init") or {}).get("train")
    return " + ".join(reversed(runs)) or "?"


def _family(what: dict) -> str:
    return "yolo26" if what["head"] == "Pose26" else "yolo11" if what["c3k2"] else "yolov8"


def _files(build: Path, stem: str, theirs: Path | None) -> dict:
    """The build's files (named after the checkpoint, as compile names them) and ultralytics' one."""
    files = {"fp32": build / f"{stem}_fp32.tflite", "int8": build / f"{stem}_int8.tflite",
             "ort": build / f"{stem}.int8.onnx", "ultralytics": theirs}
    return {k: p for k, p in files.items() if p is not None and p.exists()}


def _targets(fam: str, by: dict, secs: dict, rc: int) -> list[str]:
    """The issue's targets for one family, each 'met' or 'NOT met' with its figures."""
    out = [f"compile passes every check: {'met' if rc == 0 else f'NOT met (exit {rc})'}"]
    fp, i8, ort, uf = (by.get(k) for k in ("fp32", "int8", "ort", "ultralytics"))
    if fp and fp.nme is not None and fp.nme >= 7:
        out.append(f"fp32 NME {fp.nme:.3f} is not under 7%: INT8 fidelity is not judged on it")
    for name, q in (("full integer", i8), ("ORT INT8", ort)):
        if fp and q and fp.nme and q.nme:
            ok = q.nme <= 1.03 * fp.nme and q.miss <= fp.miss
            out.append(f"{name} x{q.nme / fp.nme:.3f} of fp32, misses {q.miss:.2f}% vs {fp.miss:.2f}%: "
                       f"{'met' if ok else 'NOT met'}")
    if fp and uf and fp.nme and uf.nme:
        ok = abs(fp.nme / uf.nme - 1) <= 0.01
        out.append(f"our fp32 TFLite {fp.nme:.3f} vs ultralytics' {uf.nme:.3f}: {'met' if ok else 'NOT met'} (1%)")
    if fam == "yolo26" and "yolov8" in secs:
        r = secs["yolo26"] / secs["yolov8"]
        out.append(f"compile {secs['yolo26']:.0f} s vs YOLOv8's {secs['yolov8']:.0f} s = x{r:.2f}: "
                   f"{'met' if r <= 1.2 else 'NOT met'} (<= 1.2)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", action="append", default=[], help="FAMILY=PATH (yolov8, yolo11, yolo26).")
    ap.add_argument("--families", default=",".join(FAMILIES), help="Which families to run (all three for the issue).")
    ap.add_argument("--data", type=Path, help="Labelled faces (default: the default evaluation faces).")
    ap.add_argument("--runs", type=int, default=300, help="At least this many timed invokes per file.")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "families")
    a = ap.parse_args()
    ckpts = _checkpoints(a.ckpt, [f.strip() for f in a.families.split(",") if f.strip()])
    what = {f: {**run_measured(WHAT.format(ckpt=str(p)))["out"], "epochs": _epochs(p)} for f, p in ckpts.items()}
    wrong = [f"{f}={ckpts[f]} is a {_family(w)} network" for f, w in what.items() if _family(w) != f]
    if wrong:
        sys.exit("; ".join(wrong))
    out = a.out.resolve()
    compiled = {f: _compile(p, out / f, a.data) for f, p in ckpts.items()}  # one after another, same state
    theirs = {f: _ultralytics_tflite(p, out / f"ultralytics_{f}", what[f]["imgsz"]) for f, p in ckpts.items()}
    files = {f: _files(out / f, p.stem, theirs[f]) for f, p in ckpts.items()}
    _report(files, compiled, what, a)


def _report(files: dict, compiled: dict, what: dict, a) -> None:
    from facelm.core.offline import prepare

    prepare()
    from tabulate import tabulate

    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.defaults import default_eval_data
    from facelm.eval.cost.profile import LatencyOptions, machine
    from facelm.eval.scoring import ScoreOptions, score_paths

    paths = [p for fs in files.values() for p in fs.values()]
    rows = score_paths(paths, load_dataset(a.data or default_eval_data()), ScoreOptions(
        threads=(1,), latency=LatencyOptions(min_runs=a.runs), progress=False), ("tflite", "onnxruntime"))
    by_path = {Path(r.artifact): r for r in rows}
    by = {f: {k: by_path.get(p) for k, p in fs.items()} for f, fs in files.items()}
    table, secs = [], {f: c[0] for f, c in compiled.items()}
    for f, b in by.items():
        fp, i8 = b.get("fp32"), b.get("int8")
        table.append({"family": f, "head": what[f]["head"], "imgsz": what[f]["imgsz"], "epochs": what[f]["epochs"],
                      "params M": fp and fp.params_m, "GFLOPs": fp and fp.gflops, "MB int8": i8 and i8.size_mb,
                      "fp32 NME": fp and fp.nme, "int8 NME": i8 and i8.nme, "ORT int8 NME": b.get("ort") and b["ort"].nme,
                      "misses % fp32/int8": f"{fp and fp.miss}/{i8 and i8.miss}", "int8 ms 1t": i8 and i8.ms(1),
                      "ultralytics fp32 NME": b.get("ultralytics") and b["ultralytics"].nme,
                      "compile s": round(secs[f], 1)})
    lines = [tabulate(table, headers="keys", tablefmt="github", floatfmt=".3f"),
             f"\n{machine()['cpu']}; every file scored on the same faces, timed in the same interleaved rounds."]
    for f in by:
        lines += [f"{f}:"] + ["  " + line for line in _targets(f, by[f], secs, compiled[f][1])]
        if compiled[f][1]:
            lines.append("  compile's output:\n" + compiled[f][2])
    print("\n".join(lines))
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "report.md").write_text("\n".join(lines) + "\n")
    print(f"\nsaved {a.out / 'report.md'}")


if __name__ == "__main__":
    main()
