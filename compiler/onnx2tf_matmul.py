"""Attention products for integer kernels, applied while onnx2tf converts.

A MatMul of two activations (the attention of YOLO11's and YOLO26's C2PSA block: q^T k, then
v attn^T) becomes TFLite's BATCH_MATMUL, and LiteRT 2.1's XNNPACK int8 kernel for it, the one
the interpreter picks by default, does not compute what TFLite's reference kernel does: on a
[1,2,64,9] x [1,2,9,9] product with random int8 inputs its outputs differ by up to 10
quantisation steps (mean 2.6); TensorFlow 2.19's interpreter stays within 1. On a 51-point
YOLO11 at 96 px (AFW, 337 faces) the full-integer file scored NME 5.441 with XNNPACK against
5.369 with the built-in kernels (fp32 5.270): the kernel, not the quantisation, cost half the
INT8 budget.

Where the product is small, each such MatMul is built as the sum of a broadcast product
instead, sum_k a[..., m, k, None] * b[..., None, k, n]: MUL and SUM, whose int8 kernels agree
between XNNPACK and the reference. Same arithmetic in float (the fp32 TFLite is checked
tensor-to-tensor against the ONNX graph as always). The product tensor holds m x k x n values
per batch, so a large attention (a 640 px input's 400 tokens) keeps BATCH_MATMUL; the context
yields what was rewritten and what was kept, for the manifest."""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np

#: Largest broadcast product (values) built instead of a BATCH_MATMUL: 4 MB in fp32. A 224 px
#: input's C2PSA (7 x 7 tokens, 2 heads of 64 channels) needs 0.31 M; 320 px (100 tokens) 1.3 M.
MAX_PRODUCT = 1 << 20


def _static(shape) -> list | None:
    return list(shape) if shape is not None and all(isinstance(d, int) for d in shape) else None


def product_size(a_shape, b_shape) -> int | None:
    """Values in the broadcast product of a [..., m, k] @ b [..., k, n]; None if not static."""
    a, b = _static(a_shape), _static(b_shape)
    if a is None or b is None or len(a) < 3 or len(a) != len(b) or a[-1] != b[-2]:
        return None
    batch = np.broadcast_shapes(tuple(a[:-2]), tuple(b[:-2]))
    return int(np.prod(batch)) * a[-2] * a[-1] * b[-1]


@contextmanager
def products_as_sums():
    """While active, onnx2tf builds a MatMul of two activations whose product holds at most
    MAX_PRODUCT values as MUL + SUM. Yields a list that gets (node name, 'sum of products' |
    'kept: <why>') for each such MatMul."""
    from facelm.compiler.onnx2tf_adds import patch_applies

    if not patch_applies("attention products as sums"):
        yield []
        return
    import onnx_graphsurgeon as gs
    import onnx2tf.ops.MatMul as matmul_op
    import tensorflow as tf

    original = matmul_op.make_node
    log = []

    def make_node(*, graph_node, tf_layers_dict, **kwargs):
        original(graph_node=graph_node, tf_layers_dict=tf_layers_dict, **kwargs)
        a_in, b_in = graph_node.inputs[:2]
        if not (isinstance(a_in, gs.Variable) and isinstance(b_in, gs.Variable)):
            return  # a weight operand: FULLY_CONNECTED / a constant-RHS BATCH_MATMUL, exact already
        out = graph_node.outputs[0]
        built = tf_layers_dict[out.name]
        a, b = (tf_layers_dict[i.name]["tf_node"] for i in (a_in, b_in))
        size = product_size(a_in.shape, b_in.shape)
        # Only where onnx2tf kept the ONNX layout on both inputs and the output (no transposes)
        same = [_static(t.shape) for t in (a, b, built["tf_node"])] == [_static(t.shape) for t in (a_in, b_in, out)]
        if size is None or not same:
            log.append((graph_node.name, "kept: shapes not static or not in the ONNX layout"))
            return
        if size > MAX_PRODUCT:
            log.append((graph_node.name, f"kept: the product would hold {size} values (> {MAX_PRODUCT})"))
            return
        prod = tf.math.multiply(tf.expand_dims(a, -1), tf.expand_dims(b, -3))
        built["tf_node"] = tf.math.reduce_sum(prod, axis=-2, name=graph_node.name)
        log.append((graph_node.name, "sum of products"))

    matmul_op.make_node = make_node
    try:
        yield log
    finally:
        matmul_op.make_node = original
