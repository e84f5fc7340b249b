"""Load an ultralytics pose checkpoint and read what the rest of the chain needs from it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eval.errors import UserError


@dataclass(frozen=True)
class ModelInfo:
    """What a pose model is: keypoints, classes, input size, stride."""
    kpt_shape: tuple[int, int]
    nc: int
    names: dict
    imgsz: tuple[int, int]  # (h, w)
    stride: int

    def to_json(self) -> dict:
        return {"kpt_shape": list(self.kpt_shape), "nc": self.nc, "names": {str(k): v for k, v in self.names.items()},
                "imgsz": list(self.imgsz), "stride": self.stride}

    @classmethod
    def from_json(cls, d: dict) -> "ModelInfo":
        return cls(tuple(d["kpt_shape"]), int(d["nc"]), {int(k): v for k, v in d["names"].items()},
                   tuple(d["imgsz"]), int(d["stride"]))


def as_hw(imgsz) -> tuple[int, int]:
    if isinstance(imgsz, int):
        return imgsz, imgsz
    h, w = (list(imgsz) * 2)[:2] if len(imgsz) == 1 else imgsz[:2]
    return int(h), int(w)


def load_pose_checkpoint(path: Path, imgsz: int | None = None):
    """Return (torch model in eval mode, fused, float32; ModelInfo). Raises UserError with the
    file's name for anything that is not a readable pose checkpoint."""
    from compiler.offline import prepare

    prepare()
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint file")
    try:
        import torch
        from ultralytics.nn.tasks import load_checkpoint
        model, ckpt = load_checkpoint(str(path), device="cpu", fuse=True)
    except Exception as e:  # truncated zips, pickles of other things, wrong formats
        raise UserError(f"{path}: not a readable ultralytics checkpoint ({type(e).__name__}: {_short(e)})") from None
    head = model.model[-1] if hasattr(model, "model") else None
    if head is None or not hasattr(head, "kpt_shape") or not hasattr(head, "cv4"):
        task = getattr(model, "task", None) or type(head).__name__
        raise UserError(f"{path}: not a pose model (task: {task}); a keypoint head is required")
    if type(head).__name__ != "Pose":
        raise UserError(f"{path}: head {type(head).__name__} is not supported (YOLOv8/11 Pose heads are)")
    stride = int(max(int(s) for s in model.stride))
    train_args = (ckpt or {}).get("train_args") or {}
    hw = as_hw(imgsz if imgsz is not None else train_args.get("imgsz", 640))
    if hw[0] % stride or hw[1] % stride:
        raise UserError(f"{path}: imgsz {hw[0]}x{hw[1]} is not a multiple of the model stride {stride}")
    model = model.float().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    names = dict(getattr(model, "names", {0: "face"}))
    info = ModelInfo(tuple(int(v) for v in head.kpt_shape), int(head.nc), names, hw, stride)
    torch.set_grad_enabled(False)
    return model, info


def _short(e: Exception) -> str:
    s = str(e).strip().splitlines()
    return (s[0] if s else "no details")[:200]
