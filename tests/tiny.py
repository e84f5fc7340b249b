"""Tiny pose checkpoints built from ultralytics' YAML: no weights, no downloads."""
from __future__ import annotations

from pathlib import Path


def make_tiny_pose(path: Path, n_kpts: int = 51, nc: int = 1, imgsz: int = 96, width: float = 0.125,
                   seed: int = 0, family: str = "yolov8") -> Path:
    """Save an untrained pose checkpoint of one family the way ultralytics' trainer does."""
    from facelm.core.offline import prepare

    prepare()
    import torch
    from ultralytics.nn.tasks import PoseModel

    from facelm.train.run import ARCHS, scaled_config

    torch.manual_seed(seed)
    model = PoseModel(scaled_config(width, ARCHS[family]), nc=nc, data_kpt_shape=(n_kpts, 3), verbose=False)
    model.names = {i: f"face{i}" if i else "face" for i in range(nc)}
    model.args = {"imgsz": imgsz, "task": "pose"}
    model.task = "pose"
    # Give BatchNorm non-trivial statistics so fusing and conversions are really exercised.
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.rand(2, 3, imgsz, imgsz))
    model.eval()
    # ultralytics initialises every box-distribution bin to the same logit; a trained model's
    # distributions are peaked. Near-uniform logits make the box expectation hypersensitive
    # to float rounding, which no real checkpoint is, so give the bins a trained-like spread.
    head = model.model[-1]
    with torch.no_grad():
        for seq in (head.cv2 if head.reg_max > 1 else []):
            seq[-1].bias.copy_(torch.randn_like(seq[-1].bias) * 3.0)
    ckpt = {"model": model.half(), "ema": None, "train_args": {"imgsz": imgsz, "task": "pose"}, "epoch": -1}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, path)
    return path
