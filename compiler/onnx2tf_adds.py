"""A correction to onnx2tf 1.29's 4-D Add, applied while it converts.

onnx2tf builds each Add in channels-last (NHWC), then its "rescue guard for unexpected
broadcasted shapes" compares that result with the ONNX output's shape, which is channels-first
(NCHW), finds them different, and rebuilds the Add on both inputs transposed to NCHW. Every
residual Add of a 4-D feature map then costs two TRANSPOSEs, and the Concat that takes it
transposes its other inputs too: 18 of face51-xs's 175 TFLite operations (the 4 backbone C2f
blocks with a shortcut). Where both inputs are already the NHWC tensors whose channels-last
shape is the ONNX output's, the plain NHWC add is the right one: it is put back. The fp32
TFLite is checked tensor-to-tensor against the ONNX graph afterwards, as for every conversion."""
from __future__ import annotations

import sys
from contextlib import contextmanager

#: The onnx2tf releases these patches (this one, onnx2tf_matmul's and onnx2tf_rank's) were written for and tested
#: on; under any other they stand aside and onnx2tf converts as it does by itself.
WRITTEN_FOR = ">=1.29,<1.30"
_SAID: set = set()


def patch_applies(what: str) -> bool:
    """Whether the installed onnx2tf is one the patch `what` was written for; says once per
    process, in one line, when it is not."""
    from facelm.core.versions import installed, within

    if within("onnx2tf", WRITTEN_FOR):
        return True
    if what not in _SAID:
        _SAID.add(what)
        print(f"onnx2tf {installed('onnx2tf')}: {what} was written for onnx2tf{WRITTEN_FOR} and is not applied; "
              "the fp32 check still holds every file to the ONNX graph", file=sys.stderr)
    return False


def _channels_last(shape) -> list | None:
    """[N, H, W, C] for a static, unambiguous ONNX [N, C, H, W]; else None."""
    if shape is None or len(shape) != 4 or not all(isinstance(d, int) for d in shape):
        return None
    n, c, h, w = shape
    return None if [n, h, w, c] == list(shape) else [n, h, w, c]


@contextmanager
def nhwc_residual_adds():
    if not patch_applies("the channels-last Add correction"):
        yield
        return
    import tensorflow as tf
    import onnx2tf.ops.Add as add_op

    original = add_op.make_node

    def make_node(*, graph_node, tf_layers_dict, **kwargs):
        original(graph_node=graph_node, tf_layers_dict=tf_layers_dict, **kwargs)
        out = graph_node.outputs[0]
        want = _channels_last(out.shape)
        built = tf_layers_dict[out.name]
        inputs = [tf_layers_dict.get(i.name, {}).get("tf_node") for i in graph_node.inputs]
        if want is None or list(built["tf_node"].shape) != list(out.shape) or \
                any(getattr(t, "shape", None) is None or list(t.shape) != want for t in inputs):
            return
        built["tf_node"] = tf.math.add(inputs[0], inputs[1], name=graph_node.name)
        built["before_op_output_shape_trans"] = True  # channels-last, as its inputs

    add_op.make_node = make_node
    try:
        yield
    finally:
        add_op.make_node = original
