"""What `pip install facelm` does to an environment that already trains with ultralytics: a new
venv holding other releases of torch, torchvision, ultralytics and numpy (inside facelm's
ranges), the wheel built from this checkout, and pip's own resolver asked what it would install
(`pip install --dry-run --report`). Prints, for each package of interest, kept or the release pip
would put in its place. Needs the package registries (pip resolves every dependency).

    python bench/install_keeps.py [--torch /opt/wheels/torch-2.13.0+cpu-...whl] [--torchvision 0.28.0]
        [--numpy 2.2.6] [--ultralytics 8.4.190] [--out build/bench/keeps]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from common import ROOT

WATCH = ("torch", "torchvision", "ultralytics", "numpy", "onnx2tf", "onnxruntime", "tensorflow", "tensorflow-cpu",
         "ai-edge-litert", "onnx")


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if p.returncode:
        raise SystemExit(f"{' '.join(map(str, cmd[:4]))} ...: exit {p.returncode}\n{p.stderr[-2000:]}")
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--torch", default="torch==2.13.0", help="a requirement or a wheel file")
    ap.add_argument("--torchvision", default="0.28.0")
    ap.add_argument("--numpy", default="2.2.6")
    ap.add_argument("--ultralytics", default="8.4.190")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "keeps")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    venv = a.out / "venv"
    run([sys.executable, "-m", "venv", "--clear", venv])
    py = venv / "bin" / "python"
    present = [a.torch, f"torchvision=={a.torchvision}", f"numpy=={a.numpy}", f"ultralytics=={a.ultralytics}"]
    run([py, "-m", "pip", "install", "-q", "--no-deps", *present])
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", a.out / "dist", ROOT])
    wheel = max((a.out / "dist").glob("facelm-*.whl"), key=lambda p: p.stat().st_mtime)
    report = a.out / "report.json"
    run([py, "-m", "pip", "install", "--dry-run", "--report", report, wheel])
    would = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in json.loads(report.read_text())["install"]}
    before = {d["name"].lower(): d["version"] for d in
              json.loads(run([py, "-m", "pip", "list", "--format", "json"]).stdout)}
    print(f"pip install {wheel.name} into a venv holding {', '.join(present)}:")
    for name in WATCH:
        had, new = before.get(name), would.get(name)
        print(f"  {name:16s} {had or '-':>10s} -> {('kept' if had else '-') if new is None else new}")


if __name__ == "__main__":
    main()
