"""PyTorch backend for .pt checkpoints: the project's own forward (the split, normalised head
that compile exports), not ultralytics' predictor."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facelm.eval.infer.runtimes import BaseRuntime


class TorchRuntime(BaseRuntime):
    name = "pytorch"

    def load(self, path: Path, threads: int = 1, imgsz=None) -> None:
        import torch

        from facelm.core.checkpoint import load_pose_checkpoint
        from facelm.core.head import SplitPoseModel

        torch.set_num_threads(threads)
        model, self.info = load_pose_checkpoint(path, imgsz)
        self.model = SplitPoseModel(model, self.info.imgsz).eval()
        self._x, self._outs = None, None

    def input_hw(self) -> tuple[int, int]:
        return self.info.imgsz

    def input_dtype(self) -> str:
        return "float32"

    def feed(self, x: np.ndarray) -> None:
        import torch

        self._x = torch.from_numpy(np.ascontiguousarray(x, np.float32))

    def invoke(self) -> None:
        import torch

        with torch.inference_mode():
            self._outs = self.model(self._x)

    def fetch(self) -> list[np.ndarray]:
        return [t.numpy() for t in self._outs]


def make():
    return TorchRuntime()
