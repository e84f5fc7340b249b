"""Load an ultralytics pose checkpoint and read what the rest of the chain needs from it.

The file is read weights-only (core.safe_load): a checkpoint that names anything outside the
allow-list is refused before any of it runs. The last model loaded is kept (keyed by the
file's path, size and modification time), so compiling, verifying and scoring one .pt in a
row deserialise it once; loading another file drops it. The model is returned fused, float32, in eval mode with gradients off for its own
parameters only (the process's autograd switch is left alone)."""
from __future__ import annotations

from pathlib import Path

from facelm.core.contract import ModelInfo, as_hw, resolve_imgsz
from facelm.core.errors import UserError

_LOADED: dict = {}  # (path, size, mtime_ns) -> (model, ckpt train args)
_INFOS: dict = {}   # (file key, requested (h, w)) -> ModelInfo, validated once
LOADS = {"count": 0, "validations": 0}  # real deserialisations and input-size checks, for tests


def _file_key(path: Path) -> tuple:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def _load(path: Path):
    key = _file_key(path)
    if key in _LOADED:
        return _LOADED[key]
    from facelm.core.offline import prepare

    prepare()
    try:
        from ultralytics.nn.tasks import load_checkpoint

        from facelm.core.safe_load import route_ultralytics

        route_ultralytics()  # weights-only: a file naming anything else is refused before any of it runs
        model, ckpt = load_checkpoint(str(path), device="cpu", fuse=True)
    except UserError:
        raise
    except Exception as e:  # truncated zips, pickles of other things, wrong formats
        raise UserError(f"{path}: not a readable ultralytics checkpoint ({type(e).__name__}: {_short(e)})") from None
    LOADS["count"] += 1
    head = model.model[-1] if hasattr(model, "model") else None
    if head is None or not hasattr(head, "kpt_shape") or not hasattr(head, "cv4"):
        task = getattr(model, "task", None) or type(head).__name__
        raise UserError(f"{path}: not a pose model (task: {task}); a keypoint head is required")
    from facelm.core.head import HEADS

    if type(head).__name__ not in HEADS:
        raise UserError(f"{path}: head {type(head).__name__} is not supported (YOLOv8/YOLO11 Pose and YOLO26 "
                        "Pose26 heads are)")
    model = model.float().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    _LOADED.clear()  # one model at a time: a sweep over checkpoints must not hold them all
    _INFOS.clear()
    _LOADED[key] = (model, (ckpt or {}).get("train_args") or {})
    return _LOADED[key]


def load_pose_checkpoint(path: Path, imgsz=None):
    """Return (torch model, ModelInfo) with the input size resolved (imgsz, else the training
    size) and validated against the model's real stride. Raises UserError naming the file for
    anything that is not a readable pose checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint file")
    model, train_args = _load(path)
    wanted = as_hw(imgsz if imgsz is not None else train_args.get("imgsz", 640))
    key = (_file_key(path), wanted)
    if key not in _INFOS:
        head = model.model[-1]
        stride = int(max(int(s) for s in model.stride))
        LOADS["validations"] += 1
        hw = resolve_imgsz(wanted, stride, path)
        names = dict(getattr(model, "names", {0: "face"}))
        _INFOS[key] = ModelInfo(tuple(int(v) for v in head.kpt_shape), int(head.nc), names, hw, stride)
    return model, _INFOS[key]


def training_data(path: Path) -> str | None:
    """The data YAML the checkpoint was trained on, as its train_args record it (None when it
    names none)."""
    data = _load(Path(path))[1].get("data")
    return str(data) if data else None


def _short(e: Exception) -> str:
    s = str(e).strip().splitlines()
    return (s[0] if s else "no details")[:200]
