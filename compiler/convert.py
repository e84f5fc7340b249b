"""Stages that turn the simplified ONNX into TensorFlow and TFLite artifacts."""
from __future__ import annotations

import csv
import io
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from facelm.core.errors import UserError
from facelm.core.offline import quiet

ONNX2TF_SAMPLE = "calibration_image_sample_data_20x128x128x3_float32.npy"



def tensorflow():
    """TensorFlow, always imported after onnxsim: in the other order onnxsim.simplify segfaults
    in the same process (onnxsim 0.4.36, tensorflow-cpu 2.19.0, both from the lock)."""
    import onnxsim  # noqa: F401
    import tensorflow as tf

    return tf

def simplify(src: Path, dst: Path) -> str:
    """onnxsim, falling back to onnxslim when onnxsim fails; returns the tool that worked."""
    import onnx

    model = onnx.load(str(src))
    meta = list(model.metadata_props)
    try:
        from onnxsim import simplify as onnxsim_simplify

        out, ok = onnxsim_simplify(model)
        if not ok:
            raise RuntimeError("onnxsim could not validate its result")
        tool = "onnxsim"
    except Exception:
        import onnxslim

        out = onnxslim.slim(model)
        tool = "onnxslim"
    del out.metadata_props[:]
    out.metadata_props.extend(meta)
    onnx.save(out, str(dst))
    return tool


def _log(dst: Path) -> Path:
    """Converter chatter goes to build/<model>/convert.log (beside the final artifacts)."""
    dst = dst.absolute()
    folder = dst.parent.parent if dst.parent.name.startswith(".") else dst.parent
    return folder / "convert.log"


@contextmanager
def _workdir(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def onnx2tf_saved_model(src: Path, dst: Path, sample_nhwc: np.ndarray) -> dict:
    """onnx2tf: ONNX -> TF SavedModel folder (plus its fp32/fp16 .tflite) at dst. Returns how
    each MatMul of two activations was built (compiler/onnx2tf_matmul.py), by node name.

    onnx2tf fetches a sample .npy from the network for its internal checks on every image
    model; a file of that name made from real faces in the working folder stops the fetch."""
    tensorflow()  # onnx2tf imports it: onnxsim first
    import onnx2tf

    dst.mkdir(parents=True)
    work = dst.parent
    np.save(work / ONNX2TF_SAMPLE, sample_nhwc.astype(np.float32))
    # onnx2tf rewrites the ONNX file it is given; hand it a copy so the parent stays intact.
    src = Path(shutil.copyfile(src, work / src.name))
    from facelm.compiler.onnx2tf_adds import nhwc_residual_adds
    from facelm.compiler.onnx2tf_matmul import products_as_sums

    with _workdir(work), quiet(_log(dst)), nhwc_residual_adds(), products_as_sums() as products:
        try:
            onnx2tf.convert(input_onnx_file_path=str(src.resolve()), output_folder_path=str(dst.resolve()),
                            output_signaturedefs=True, not_use_onnxsim=True, non_verbose=True,
                            verbosity="error")
        except SystemExit as e:  # onnx2tf exits instead of raising on conversion errors
            raise UserError(f"{src}: onnx2tf could not convert this model (exit {e.code})") from None
    for kind in ("float32", "float16"):
        if not list(dst.glob(f"*_{kind}.tflite")):
            raise UserError(f"{src}: onnx2tf wrote no {kind} .tflite")
    return dict(products)  # onnx2tf builds some nodes twice: one entry each


def copy_tflite(saved_model: Path, dst: Path, kind: str) -> None:
    """Take onnx2tf's `<stem>_<kind>.tflite` (kind float32 or float16) out of its folder."""
    shutil.copyfile(next(saved_model.glob(f"*_{kind}.tflite")), dst)


def _converter(saved_model: Path, calib_nhwc: np.ndarray):
    tf = tensorflow()

    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]

    def representative():
        for x in calib_nhwc:
            yield [x[None].astype(np.float32)]

    conv.representative_dataset = representative
    return conv


def quantize_tflite(saved_model: Path, dst: Path, calib_nhwc: np.ndarray, io_dtype: str, per_channel: bool = True) -> None:
    """Full-integer TFLite from the SavedModel with a representative dataset of real faces.

    io_dtype 'int8' gives int8 input/output tensors (scale/zero-point); 'float32' keeps float
    I/O around an integer body."""
    tf = tensorflow()

    conv = _converter(saved_model, calib_nhwc)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if io_dtype == "int8":
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    if not per_channel:
        conv._experimental_disable_per_channel = True
    with quiet(_log(dst)):
        model = conv.convert()
    dst.write_bytes(model)


def quantize_tflite_int16x8(saved_model: Path, dst: Path, calib_nhwc: np.ndarray) -> None:
    """int16 activations, int8 weights (LiteRT's 16x8 mode), float I/O: 256 x finer activation
    steps at integer cost, where the target's delegate supports the 16x8 kernels."""
    tf = tensorflow()

    conv = _converter(saved_model, calib_nhwc)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    with quiet(_log(dst)):
        model = conv.convert()
    dst.write_bytes(model)


#: Layer-local error (RMSE in units of the layer's own scale) above which int8-mixed keeps a
#: layer in float; a well-ranged layer's rounding alone gives 1/sqrt(12) = 0.29.
MIXED_RMSE_STEPS = 0.7


def quantize_tflite_mixed(saved_model: Path, dst: Path, calib_nhwc: np.ndarray, debug_nhwc: np.ndarray,
                          max_float: int = 8) -> dict:
    """INT8 with the worst layers kept in float, chosen by TensorFlow's QuantizationDebugger: each
    quantised op's output is compared with the float op run on the same dequantised inputs, and
    the (at most max_float) layers whose RMSE exceeds MIXED_RMSE_STEPS scales are denylisted."""
    tf = tensorflow()

    def debug_data():
        for x in debug_nhwc:
            yield [x[None].astype(np.float32)]

    with quiet(_log(dst)):
        dbg = tf.lite.experimental.QuantizationDebugger(converter=_converter(saved_model, calib_nhwc),
                                                        debug_dataset=debug_data)
        dbg.run()
        buf = io.StringIO()
        dbg.layer_statistics_dump(buf)
        rows = [r for r in csv.DictReader(io.StringIO(buf.getvalue())) if float(r.get("scale") or 0) > 0]
        worst = sorted(((float(np.sqrt(float(r["mean_squared_error"])) / float(r["scale"])), r["tensor_name"])
                        for r in rows), reverse=True)
        chosen = [name for steps, name in worst[:max_float] if steps > MIXED_RMSE_STEPS]
        # Setting the options re-quantises from the debugger's own calibration: no second pass.
        dbg.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=chosen)
        model = dbg.get_nondebug_quantized_model()
    dst.write_bytes(model)
    return {"float_layers": chosen, "rule": f"layer RMSE > {MIXED_RMSE_STEPS} of its scale, worst {max_float}",
            "worst_layers": [{"tensor": n, "rmse_steps": round(v, 3)} for v, n in worst[:max_float]]}


def head_tail_nodes(model) -> list[str]:
    """Names of the head's last 1x1 convolutions and of the decoding after them (the nodes
    outside ultralytics' module names): what a float head keeps out of quantisation."""
    import re

    last_conv = re.compile(r"^/(model\.\d+/)?cv[234]\.\d+/cv[234]\.\d+\.2/")  # also a rewritten ultralytics ONNX's
    return [n.name for n in model.graph.node
            if last_conv.match(n.name) or not re.match(r"^/(model\.|cv[234]\.)", n.name)]


def quantize_ort(src: Path, dst: Path, calib_nchw: np.ndarray, per_channel: bool = True, float_head: bool = False,
                 reduce_range: bool = False) -> None:
    """ONNX Runtime static INT8: QDQ, uint8 activations and symmetric int8 weights (U8S8).

    Measured on a 224 px YOLOv8n-pose (1 thread, x86 with AVX-512 VNNI): U8S8 QDQ runs at
    0.40 x the fp32 latency, S8S8 QDQ at 1.41 x (slower than float) and S8S8 QOperator at 3.4 x;
    QOperator U8S8 equals QDQ U8S8. reduce_range (7-bit weights) avoids the saturation of
    AVX2's u8 x s8 multiply on CPUs without VNNI, where ONNX Runtime recommends it."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from facelm.eval.infer.runtimes.ort_rt import calibration_reader

    model = onnx.load(str(src), load_external_data=False)
    name = model.graph.input[0].name
    exclude = head_tail_nodes(model) if float_head else []
    pre = dst.with_name(dst.stem + ".pre.onnx")
    with quiet(_log(dst)):
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        quantize_static(str(pre), str(dst), calibration_reader(name, calib_nchw), quant_format=QuantFormat.QDQ,
                        per_channel=per_channel,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=exclude,
                        reduce_range=reduce_range)
    pre.unlink(missing_ok=True)
