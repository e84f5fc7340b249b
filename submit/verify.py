"""`package --verify`: install the submission's requirements.txt alone into a fresh virtual
environment, run run_model.py on a few images with no network, and check its files and its
landmarks against the evaluator's on the same .tflite."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from facelm.core.errors import UserError

TOLERANCE_PX = 0.5


class SubmissionError(UserError):
    """A submission that would fail or score differently on the organisers' machine."""


def _run(cmd: list, what: str, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode:
        tail = [ln for ln in (p.stderr or p.stdout).strip().splitlines() if ln.strip()]
        raise SubmissionError(f"{what} failed: {tail[-1] if tail else 'exit ' + str(p.returncode)}")
    return p


def _offline_prefix() -> list[str]:
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
        return ["unshare", "-n"]
    return []


def fresh_env(folder: Path, work: Path) -> Path:
    """A new venv with requirements.txt installed (from the package index/cache); its python."""
    req = folder / "requirements.txt"
    if not req.is_file():
        raise SubmissionError(f"{req}: missing")
    _run([sys.executable, "-m", "venv", str(work / "venv")], "creating the virtual environment")
    py = work / "venv" / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "-q", "-r", str(req)], f"pip install -r {req}")
    return py


def default_images(n: int = 8) -> list[Path]:
    """The first n of the default evaluation faces."""
    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.defaults import default_eval_data

    return [s.image for s in load_dataset(default_eval_data()).samples][:n]


def verify_package(folder: Path, images: list[Path]) -> dict:
    """Raises SubmissionError naming the first problem; returns figures when all is well."""
    folder = Path(folder)
    for f in ("run_model.py", "model.json"):
        if not (folder / f).is_file():
            raise SubmissionError(f"{folder / f}: missing")
    cfg = json.loads((folder / "model.json").read_text())
    if not (folder / cfg["model"]).is_file():
        raise SubmissionError(f"{folder / cfg['model']}: model file missing")
    with tempfile.TemporaryDirectory(prefix="facelm-verify-") as tmp:
        work = Path(tmp)
        py = fresh_env(folder, work)
        lst = work / "image_list.txt"
        lst.write_text("\n".join(str(Path(p).resolve()) for p in images) + "\n")
        out = work / "out"
        _run([*_offline_prefix(), str(py), "run_model.py", str(lst), str(out)], "run_model.py", cwd=folder)
        got = _read_outputs(images, out)
    ref = _reference(folder / cfg["model"], images)
    worst = _compare(got, ref)
    return {"images": len(images), "faces": sum(len(v) for v in ref.values()),
            "max_px_diff": None if worst is None else round(worst, 4)}


def _read_outputs(images, out: Path) -> dict:
    from facelm.eval.data.datasets import parse_pts

    res = {}
    for p in images:
        f = out / (Path(p).stem + ".txt")
        if not f.is_file():
            raise SubmissionError(f"{f.name}: run_model.py wrote no output for {Path(p).name}")
        text = f.read_text()
        try:
            faces = parse_pts(text, f.name) if text.strip() else []
        except ValueError as e:
            raise SubmissionError(f"{f.name}: malformed output ({e})") from None
        if any(len(face) != 51 for face in faces):
            raise SubmissionError(f"{f.name}: a face without exactly 51 points")
        res[str(p)] = faces
    return res


def _reference(model: Path, images) -> dict:
    """The evaluator's faces for the same model and images, in the writer's order."""
    from facelm.eval.infer.artifact import describe
    from facelm.eval.infer.runtimes import open_runtime
    from facelm.eval.infer.writer import predict_faces

    spec = describe(model).spec
    rt = open_runtime(model, threads=1, runtime="tflite")
    return {str(p): predict_faces(rt, spec, p) or [] for p in images}


def _compare(got: dict, ref: dict) -> float | None:
    """Largest landmark difference in pixels; None when neither side found a face to compare."""
    worst = None
    for img, faces in ref.items():
        if len(got[img]) != len(faces):
            raise SubmissionError(f"{Path(img).name}: run_model.py found {len(got[img])} faces, the evaluator {len(faces)}")
        for a, b in zip(got[img], faces):
            worst = max(worst or 0.0, float(np.abs(a - b).max()))
    if worst is not None and worst > TOLERANCE_PX:
        raise SubmissionError(f"landmarks differ from the evaluator's by {worst:.3f} px (tolerance {TOLERANCE_PX})")
    return worst
