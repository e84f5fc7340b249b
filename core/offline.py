"""Keep every run offline: set the switches that stop ultralytics (and friends) from
probing or downloading, before any of them is imported."""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

CACHE = Path(os.environ.get("FACELM_CACHE", Path.home() / ".cache" / "facelm"))


def prepare() -> None:
    """Idempotent: env switches, writable config folders, and a local font so ultralytics
    never fetches Arial.ttf."""
    cfg = Path(os.environ.setdefault("YOLO_CONFIG_DIR", str(CACHE / "ultralytics")))
    os.environ.setdefault("MPLCONFIGDIR", str(CACHE / "matplotlib"))
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    os.environ.setdefault("YOLO_VERBOSE", "False")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    font = cfg / "Ultralytics" / "Arial.ttf"
    if not font.exists():
        font.parent.mkdir(parents=True, exist_ok=True)
        src = _any_ttf()
        if src:
            shutil.copyfile(src, font)
    Path(os.environ["MPLCONFIGDIR"]).mkdir(parents=True, exist_ok=True)


def _any_ttf() -> Path | None:
    try:
        import matplotlib
    except ImportError:
        return None
    cand = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    return cand if cand.exists() else None


@contextmanager
def quiet(log: Path | None = None):
    """Send the C++ and Python chatter of converters (TF, onnx2tf) to a log file instead of the
    terminal, at the file-descriptor level, so progress bars and errors stay readable."""
    import sys
    import tempfile

    sys.stdout.flush()
    sys.stderr.flush()
    target = open(log, "ab") if log else tempfile.TemporaryFile()
    saved = os.dup(1), os.dup(2)
    try:
        os.dup2(target.fileno(), 1)
        os.dup2(target.fileno(), 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        target.close()
