"""PyTorch backend for .pt checkpoints: the project's own forward (the split, normalised head
that compile exports), not ultralytics' predictor."""
from __future__ import annotations

from pathlib import Path

import numpy as np


class TorchRuntime:
    name = "pytorch"

    def __init__(self, imgsz: int | None = None):
        self.imgsz = imgsz

    def load(self, path: Path, threads: int = 1) -> None:
        import torch

        from compiler.checkpoint import load_pose_checkpoint
        from compiler.head import SplitPoseModel

        torch.set_num_threads(threads)
        model, self.info = load_pose_checkpoint(path, self.imgsz)
        self.model = SplitPoseModel(model, self.info.imgsz).eval()

    def input_hw(self) -> tuple[int, int]:
        return self.info.imgsz

    def input_dtype(self) -> str:
        return "float32"

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        import torch

        with torch.inference_mode():
            return [t.numpy() for t in self.model(torch.from_numpy(x))]


def make():
    return TorchRuntime()
