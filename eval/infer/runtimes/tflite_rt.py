"""TFLite backend through ai-edge-litert: NHWC input, int8/uint8 or float I/O with
scale/zero-point applied in feed() and fetch(), so callers always see float and invoke() is
the interpreter's own call alone."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facelm.eval.infer.runtimes import BaseRuntime

QUANTISED = (np.int8, np.uint8, np.int16)


def _interpreter(path: Path, threads: int, keep_all: bool = False):
    """keep_all: intermediate tensors stay readable after invoke (for eval.quant.error)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # a full TensorFlow install carries the same interpreter
        from tensorflow.lite.python.interpreter import Interpreter
    return Interpreter(model_path=str(path), num_threads=threads, experimental_preserve_all_tensors=keep_all)


class TfliteRuntime(BaseRuntime):
    name = "tflite"
    keep_all = False  # True: every intermediate tensor readable after invoke (slower)

    def load(self, path: Path, threads: int = 1, imgsz=None) -> None:
        self.it = _interpreter(path, threads, self.keep_all)
        self.it.allocate_tensors()
        self.inp = self.it.get_input_details()[0]
        self.outs = sorted(self.it.get_output_details(), key=lambda d: d["index"])
        shape = self.inp["shape"]
        self.nhwc = shape[-1] == 3 and shape[1] != 3

    def input_hw(self) -> tuple[int, int]:
        s = self.inp["shape"]
        return (int(s[1]), int(s[2])) if self.nhwc else (int(s[2]), int(s[3]))

    def input_dtype(self) -> str:
        return np.dtype(self.inp["dtype"]).name

    def feed(self, x: np.ndarray) -> None:
        x = x.transpose(0, 2, 3, 1) if self.nhwc else x
        dt = self.inp["dtype"]
        if dt in QUANTISED:
            scale, zp = self.inp["quantization"]
            info = np.iinfo(dt)
            x = np.clip(np.round(x / scale + zp), info.min, info.max)
        self.it.set_tensor(self.inp["index"], np.ascontiguousarray(x.astype(dt)))

    def invoke(self) -> None:
        self.it.invoke()

    def fetch(self) -> list[np.ndarray]:
        res = []
        for d in self.outs:
            y = self.it.get_tensor(d["index"])
            if d["dtype"] in QUANTISED:
                scale, zp = d["quantization"]
                y = (y.astype(np.float32) - zp) * scale
            res.append(y.astype(np.float32))
        return res


def make():
    return TfliteRuntime()
