"""ONNX Runtime (CPU) backend."""
from __future__ import annotations

from pathlib import Path

import numpy as np


class OrtRuntime:
    name = "onnxruntime"

    def load(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        self.sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.inp = self.sess.get_inputs()[0]
        self.out_names = [o.name for o in self.sess.get_outputs()]

    def input_hw(self) -> tuple[int, int]:
        return tuple(int(v) for v in self.inp.shape[2:4])

    def input_dtype(self) -> str:
        return "float32"

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        return self.sess.run(self.out_names, {self.inp.name: x})


def make():
    return OrtRuntime()
