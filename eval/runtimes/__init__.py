"""One Runtime protocol, one short module per backend, found by name or by file type."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol

import numpy as np

#: runtime name -> (module, file suffixes it runs)
REGISTRY = {
    "pytorch": ("eval.runtimes.torch_rt", (".pt",)),
    "onnxruntime": ("eval.runtimes.ort_rt", (".onnx",)),
    "tflite": ("eval.runtimes.tflite_rt", (".tflite",)),
}


class Runtime(Protocol):
    """load() once, then run() any number of times on preprocessed NCHW float input."""
    name: str

    def load(self, path: Path, threads: int = 1) -> None: ...

    def input_hw(self) -> tuple[int, int]: ...

    def input_dtype(self) -> str: ...

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """x: [1,3,H,W] float32 in 0..1 -> raw float outputs (dequantised), in model order."""


def get_runtime(name: str) -> Runtime:
    if name not in REGISTRY:
        raise KeyError(f"unknown runtime {name!r}; known: {', '.join(REGISTRY)}")
    return importlib.import_module(REGISTRY[name][0]).make()


def runtimes_for(path: Path) -> list[str]:
    """Every runtime that can run this file."""
    return [n for n, (_, sfx) in REGISTRY.items() if Path(path).suffix in sfx]
