"""The one per-image inference path: preprocess -> feed -> invoke -> fetch -> decode, on an image
its caller has read (data.images.read_image). The evaluator, predict, compile's verification,
package verification and (vendored) the submission runner all call detect(); only the evaluator
passes a Timing to split the cost."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from facelm.core.contract import ModelSpec
from facelm.eval.infer.decode import DecodeOptions, Face, decode
from facelm.eval.infer.preprocess import preprocess


@dataclass
class Timing:
    """Seconds spent, summed over images: conversion into and out of the runtime's own tensors,
    and the inference call alone (the evaluator counts everything else as overhead)."""
    convert: float = 0.0
    invoke: float = 0.0


def raw_outputs(rt, x: np.ndarray, timing: Timing | None = None) -> list[np.ndarray]:
    """One preprocessed input through a loaded runtime, the three parts timed apart."""
    t0 = time.perf_counter()
    rt.feed(x)
    t1 = time.perf_counter()
    rt.invoke()
    t2 = time.perf_counter()
    outs = rt.fetch()
    if timing is not None:
        timing.convert += (t1 - t0) + (time.perf_counter() - t2)
        timing.invoke += t2 - t1
    return outs


def detect(rt, spec: ModelSpec, image_bgr: np.ndarray, opts: DecodeOptions = DecodeOptions(),
           timing: Timing | None = None) -> list[Face]:
    """Faces (original-image pixels) that a loaded runtime finds in one BGR image."""
    x, lb = preprocess(image_bgr, spec.imgsz)
    return decode(raw_outputs(rt, x, timing), spec, lb, opts)
