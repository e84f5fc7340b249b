"""One Runtime protocol, one short module per backend, found by name or by file type, and one
way to open a model: open_runtime(path, threads, imgsz)."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol

import numpy as np

#: runtime name -> (module, file suffixes it runs)
REGISTRY = {
    "pytorch": ("facelm.eval.infer.runtimes.torch_rt", (".pt",)),
    "onnxruntime": ("facelm.eval.infer.runtimes.ort_rt", (".onnx",)),
    "tflite": ("facelm.eval.infer.runtimes.tflite_rt", (".tflite",)),
}


class Runtime(Protocol):
    """load() once; then per image feed() (conversion into the runtime's own input format:
    layout, quantisation), invoke() (the inference call alone, the only part latency counts)
    and fetch() (outputs back as float arrays). run() does all three."""
    name: str

    def load(self, path: Path, threads: int = 1, imgsz=None) -> None: ...

    def input_hw(self) -> tuple[int, int]: ...

    def input_dtype(self) -> str: ...

    def feed(self, x: np.ndarray) -> None:
        """x: [1,3,H,W] float32 in 0..1, converted and set as the model's input."""

    def invoke(self) -> None: ...

    def fetch(self) -> list[np.ndarray]:
        """Raw outputs as float32 (dequantised), in model order."""

    def run(self, x: np.ndarray) -> list[np.ndarray]: ...


class BaseRuntime:
    """run() for every backend: feed, invoke, fetch."""
    name = "?"

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        self.feed(x)
        self.invoke()
        return self.fetch()


def get_runtime(name: str) -> Runtime:
    check_names([name])
    return importlib.import_module(REGISTRY[name][0]).make()


def check_names(names) -> tuple[str, ...]:
    """Validate runtime names; a typo is an error that lists the known ones."""
    from facelm.core.errors import UserError

    bad = [n for n in names if n not in REGISTRY]
    if bad:
        raise UserError(f"unknown runtime {', '.join(map(repr, bad))}; known: {', '.join(REGISTRY)}")
    return tuple(names)


def runtimes_for(path: Path) -> list[str]:
    """Every runtime that can run this file."""
    return [n for n, (_, sfx) in REGISTRY.items() if Path(path).suffix in sfx]


def open_runtime(path: Path, threads: int = 1, imgsz=None, runtime: str | None = None) -> Runtime:
    """The model at path, loaded in `runtime` (default: the first that runs its file type).
    imgsz matters only for a checkpoint, which can run at any multiple of its stride."""
    from facelm.core.errors import UserError

    names = runtimes_for(path)
    if runtime is None and not names:
        raise UserError(f"{path}: no runtime for {Path(path).suffix} files (expected .pt, .onnx or .tflite)")
    rt = get_runtime(runtime or names[0])
    rt.load(Path(path), threads=threads, imgsz=imgsz)
    return rt
