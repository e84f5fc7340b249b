"""The converters behind the stages: simplification, full-integer and 16x8 TFLite, ONNX Runtime INT8."""
from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from facelm.core.clock import part, timed_import
from facelm.core.files import sha256
from facelm.core.offline import quiet

ONNX2TF_SAMPLE = "calibration_image_sample_data_20x128x128x3_float32.npy"



def tensorflow():
    """TensorFlow, always imported after onnxsim: in the other order onnxsim.simplify segfaults
    in the same process (onnxsim 0.4.36, tensorflow-cpu 2.19.0, both from the lock)."""
    import onnxsim  # noqa: F401

    return timed_import("tensorflow")

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


def _converter(saved_model: Path, calib_nhwc: np.ndarray):
    tf = tensorflow()

    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]

    def representative():
        for x in calib_nhwc:
            yield [x[None].astype(np.float32)]

    conv.representative_dataset = representative
    return conv


#: Calibrated models (the float model with every tensor's range recorded) by (float model,
#: calibration set): the INT8 attempts and the float-I/O file of one network calibrate once.
#: A pass of 100 faces through TFLite's calibrating interpreter costs 2.5 s of each 5.9 s
#: conversion at 96 px; the ranges it records depend on nothing else.
_CALIBRATED: dict = {}


@contextmanager
def _calibrate_once(calib_nhwc: np.ndarray):
    import hashlib

    from tensorflow.lite.python.optimize import calibrator

    data = hashlib.sha256(np.ascontiguousarray(calib_nhwc, np.float32).tobytes()).hexdigest()
    original = calibrator.Calibrator.calibrate

    def calibrate(self, dataset_gen):
        key = (hashlib.sha256(self._model_content).hexdigest(), data)
        if key not in _CALIBRATED:
            with part("TFLite calibration pass"):
                _CALIBRATED[key] = original(self, dataset_gen)
        return _CALIBRATED[key]

    calibrator.Calibrator.calibrate = calibrate
    try:
        yield
    finally:
        calibrator.Calibrator.calibrate = original


#: What the TFLite converter made of a SavedModel, kept for the next conversion of the same files
#: in this process: the loaded SavedModel (each conversion loaded it twice, 0.3-0.8 s a load at
#: 96 px: eight loads for fp32, fp16, full integer and float I/O) and the float model the
#: converter hands its quantiser (the same for every INT8 attempt with the same options and for
#: the float-I/O file: only the quantisation after it differs). Keyed by the folder's files
#: (path, size, mtime) and every converter argument, so a rebuilt SavedModel is read again.
_LOADED: dict = {}
_CONVERTED: dict = {}
#: SavedModels kept loaded at once (a sweep compiles one network after another).
KEEP_LOADED = 2


@contextmanager
def converted_once():
    """Within the block the converter loads each SavedModel once and converts each (SavedModel,
    options) once; the files it writes are the ones it writes without the block."""
    from tensorflow.lite.python import lite

    from facelm.core.files import fingerprint

    load, convert = lite._load, lite._convert_saved_model

    def identity(folder) -> str:
        return fingerprint(sorted(p for p in Path(folder).rglob("*") if p.is_file()))

    def loaded(export_dir, tags=None, *args, **kwargs):
        if args or kwargs:
            return load(export_dir, tags, *args, **kwargs)
        return _kept(_LOADED, (identity(export_dir), repr(sorted(tags or ()))), lambda: load(export_dir, tags))

    def converted(**kwargs):
        return _kept(_CONVERTED, (identity(kwargs["saved_model_dir"]), repr(sorted(kwargs.items()))),
                     lambda: convert(**kwargs))

    lite._load, lite._convert_saved_model = loaded, converted
    try:
        yield
    finally:
        lite._load, lite._convert_saved_model = load, convert


def _kept(cache: dict, key, make):
    """cache[key], made first when absent; the oldest entries go beyond KEEP_LOADED."""
    if key not in cache:
        while len(cache) >= KEEP_LOADED:
            cache.pop(next(iter(cache)))
        cache[key] = make()
    return cache[key]


def quantize_tflite(saved_model: Path, dst: Path, calib_nhwc: np.ndarray, io_dtype: str, per_channel: bool = True) -> None:
    """Full-integer TFLite from the SavedModel with a representative dataset of real faces.

    io_dtype 'int8' gives int8 input/output tensors (scale/zero-point); 'float32' keeps float
    I/O around an integer body."""
    tf = tensorflow()

    with converted_once():
        conv = _converter(saved_model, calib_nhwc)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io_dtype == "int8":
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
        if not per_channel:
            conv._experimental_disable_per_channel = True
        with quiet(_log(dst)), _calibrate_once(calib_nhwc):
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


#: quant_pre_process's output by the sha256 of its input: computed once per process.
_PREPROCESSED: dict = {}


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
        key = sha256(src)
        if key not in _PREPROCESSED:  # the same for every attempt
            with part("ort quant_pre_process"):
                quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            _PREPROCESSED[key] = pre.read_bytes()
        pre.write_bytes(_PREPROCESSED[key])
        with part("ort quantize_static (calibration + quantisation)"):
            quantize_static(str(pre), str(dst), calibration_reader(name, calib_nchw), quant_format=QuantFormat.QDQ,
                            per_channel=per_channel, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            nodes_to_exclude=exclude, reduce_range=reduce_range)
    pre.unlink(missing_ok=True)
