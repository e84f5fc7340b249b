"""A shortcut in onnx2tf 1.29's elementwise ops, applied while it converts: the same graph, built
faster.

onnx2tf's Add, Sub, Mul, Div and Mod each ask `tf.rank(x) == 0` of both inputs to spot scalar
constants, and read the answer only where it has a value (`.numpy()`, an eager constant). On a
graph tensor under construction (a Keras symbolic tensor, every activation) the question builds
two Keras layers, a rank and an equal, that nothing reads and the finished model leaves out; for
face51-s's 69 Muls (SiLU: x * sigmoid(x)) that was about a fifth of onnx2tf's graph build. Here
the question on a symbolic tensor answers False at once, as its unread layers amounted to; on
anything else it is TensorFlow's own. The fp32 check still holds every file to the ONNX graph."""
from __future__ import annotations

from contextlib import contextmanager

#: The onnx2tf op modules that ask the question.
OPS = ("Add", "Sub", "Mul", "Div", "Mod")


class _NotScalar:
    """What `tf.rank(symbolic) == 0` amounted to in those ops: no value, so not a scalar."""

    def __eq__(self, other):
        return False

    __hash__ = None


class _TF:
    """The tensorflow module, with rank() short-cut for symbolic Keras tensors."""

    def __init__(self, tf, symbolic):
        self._tf, self._symbolic = tf, symbolic

    def __getattr__(self, name):
        return getattr(self._tf, name)

    def rank(self, x, *args, **kwargs):
        if isinstance(x, self._symbolic):
            return _NotScalar()
        return self._tf.rank(x, *args, **kwargs)


@contextmanager
def symbolic_rank_shortcut():
    from facelm.compiler.onnx2tf_adds import patch_applies

    if not patch_applies("the symbolic-rank shortcut"):
        yield
        return
    import importlib

    import tensorflow as tf
    from tf_keras.src.engine.keras_tensor import KerasTensor

    mods = [importlib.import_module(f"onnx2tf.ops.{op}") for op in OPS]
    originals = [m.tf for m in mods]
    for m in mods:
        m.tf = _TF(tf, KerasTensor)
    try:
        yield
    finally:
        for m, t in zip(mods, originals):
            m.tf = t
