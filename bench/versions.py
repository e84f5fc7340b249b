"""Two dependency sets side by side: each built-in model compiled and scored (AFW, no latency) by
this checkout under each environment's interpreter, in one run, and every artifact's NME and
misses before -> after. What a lock upgrade moves (a runtime that changes its kernels may move
NME), measured rather than hoped.

    python bench/versions.py --before .venv/bin/python --after /tmp/latest/venv/bin/python
        [--models face51-s,face51-m,face51-xs] [--out build/bench/versions]

Each environment gets its own build folders and an empty FACELM_CACHE; both read this
checkout's faces. Prints one table (artifact, runtime, NME before/after, ratio, misses) and each
side's versions of the packages that matter; writes the same to <out>/versions.md."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT

PACKAGES = ("numpy", "onnx", "onnxruntime", "onnxsim", "onnx2tf", "tensorflow-cpu", "ai-edge-litert", "torch",
            "ultralytics", "opencv-python-headless", "protobuf")


def versions(python: str) -> dict:
    code = ("import importlib.metadata as m, json, sys\nout = {'python': sys.version.split()[0]}\n"
            f"for p in {PACKAGES!r}:\n    try: out[p] = m.version(p)\n    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(out))")
    return json.loads(subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout)


def build_and_score(python: str, model: str, out: Path) -> dict:
    """compile + score --no-latency of one built-in model under one interpreter: rows by
    (artifact name, runtime), and the compile's wall seconds."""
    from facelm.eval.defaults import shared_faces

    faces = shared_faces()
    with tempfile.TemporaryDirectory(prefix="facelm-cache-") as cache:
        env = dict(os.environ, FACELM_CACHE=cache, PYTHONPATH=str(ROOT), FACELM_DATA=str(faces))
        build = out / model.replace("-", "_")
        t = time.perf_counter()
        c = subprocess.run([python, "cli.py", "compile", model, "--out", str(build)], cwd=ROOT, env=env,
                           capture_output=True, text=True)
        wall = time.perf_counter() - t
        s = subprocess.run([python, "cli.py", "score", "--build", str(build), "--no-latency", "--out",
                            str(out / "scores" / model)], cwd=ROOT, env=env, capture_output=True, text=True)
    if s.returncode not in (0, 1):
        raise SystemExit(f"{python} score {model}: exit {s.returncode}\n{s.stderr[-2000:]}")
    rows = json.loads((out / "scores" / model / "scores.json").read_text())["rows"]
    return {"compile_rc": c.returncode, "compile_s": round(wall, 1), "compile_tail": c.stdout[-1500:],
            "rows": {(Path(r["artifact"]).name, r["runtime"]): r for r in rows}}


def table(model: str, before: dict, after: dict) -> list[str]:
    lines = [f"### {model}: compile {before['compile_s']} -> {after['compile_s']} s (exit {before['compile_rc']} -> "
             f"{after['compile_rc']})", "", "| artifact | runtime | NME before | NME after | after / before | "
             "misses before -> after |", "|---|---|---|---|---|---|"]
    for key in sorted(set(before["rows"]) | set(after["rows"])):
        b, a = before["rows"].get(key, {}), after["rows"].get(key, {})
        ratio = f"x{a['nme'] / b['nme']:.4f}" if b.get("nme") and a.get("nme") else "-"
        lines.append(f"| {key[0]} | {key[1]} | {b.get('nme', '-')} | {a.get('nme', '-')} | {ratio} | "
                     f"{b.get('miss', '-')} -> {a.get('miss', '-')} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="the interpreter of the environment before (e.g. .venv/bin/python)")
    ap.add_argument("--after", required=True, help="the interpreter of the environment after")
    ap.add_argument("--models", default="face51-s,face51-m,face51-xs")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "versions")
    a = ap.parse_args()
    lines = ["## Versions", "", "| package | before | after |", "|---|---|---|"]
    vb, va = versions(a.before), versions(a.after)
    lines += [f"| {k} | {vb.get(k, '-')} | {va.get(k, '-')} |" for k in ("python", *PACKAGES) if vb.get(k) or va.get(k)]
    for model in a.models.split(","):
        b = build_and_score(a.before, model, a.out / "before")
        af = build_and_score(a.after, model, a.out / "after")
        lines += ["", *table(model, b, af)]
        print("\n".join(lines[-(len(b["rows"]) + 4):]), flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "versions.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
