"""ONNX Runtime (CPU) backend."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facelm.eval.infer.runtimes import BaseRuntime


class OrtRuntime(BaseRuntime):
    name = "onnxruntime"

    def load(self, path: Path, threads: int = 1, imgsz=None) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.inp = self.sess.get_inputs()[0]
        self.out_names = [o.name for o in self.sess.get_outputs()]
        self._feed, self._outs = None, None

    def input_hw(self) -> tuple[int, int]:
        return tuple(int(v) for v in self.inp.shape[2:4])

    def input_dtype(self) -> str:
        return "float32"

    def feed(self, x: np.ndarray) -> None:
        self._feed = {self.inp.name: np.ascontiguousarray(x, np.float32)}

    def invoke(self) -> None:
        self._outs = self.sess.run(self.out_names, self._feed)

    def fetch(self) -> list[np.ndarray]:
        return [np.asarray(o, np.float32) for o in self._outs]


def make():
    return OrtRuntime()


def calibration_reader(input_name: str, inputs_nchw: np.ndarray):
    """onnxruntime.quantization's data reader over preprocessed images (N, 3, H, W), one batch
    of one at a time: the same feed for static quantisation and for collecting activations."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter({input_name: x[None].astype(np.float32)} for x in inputs_nchw)

        def get_next(self):
            return next(self.it, None)

    return Reader()
