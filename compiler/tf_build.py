"""ONNX -> TensorFlow SavedModel (onnx2tf) -> float TFLite: the TensorFlow lane's float stages.

onnx2tf builds the Keras graph only (disable_model_save); the SavedModel is written here once,
as a plain tf.function with the serving signature onnx2tf would write (inputs and outputs by
their ONNX names), and each float .tflite is converted from it in its own stage. onnx2tf's own
saving paid tf_keras' metadata serialisation three times (its SavedModel, then a Keras
conversion for each of fp32 and fp16): 77 s of a 154 s face51-s compile, against 1.5 s here;
the .tflite files made this way compute what onnx2tf's did, bit for bit (tests/test_compile.py).

onnx2tf runs first without its strict mode (the dummy inferences with which it settles
ambiguous transpositions: 3.2 s of 7.4 at 96 px); the graph it built is then run on real faces
beside ONNX Runtime, and a graph that differs is rebuilt in strict mode. The fp32 .tflite is
still held to the ONNX graph by its own check."""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from facelm.compiler.convert import ONNX2TF_SAMPLE, _log, converted_once, tensorflow
from facelm.core.clock import part
from facelm.core.errors import UserError
from facelm.core.offline import quiet

#: The fast (non-strict) graph is kept when every output is within this of ONNX Runtime's on
#: real faces, relative to the output's range: ten times closer than the fp32 check asks (1e-4
#: of the normalised outputs). Float reordering moves outputs by 1e-6 (face51-s: 2.6e-6 at most);
#: a tiny YOLO26's non-strict graph moved its boxes by 3.5e-4 (rebuilt strict, it passes).
NON_STRICT_RTOL = 1e-5
#: Faces the non-strict graph is run on (an eager Keras call costs 0.3 s at 96 px): a wrong
#: transposition shows on any face.
CHECK_FACES = 2


@contextmanager
def _workdir(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def onnx2tf_saved_model(src: Path, dst: Path, faces_nchw: np.ndarray) -> dict:
    """onnx2tf: ONNX -> TF SavedModel folder at dst, checked on faces_nchw (model inputs).
    Returns how the graph was built: strict mode or not, and how each MatMul of two activations
    was built (compiler/onnx2tf_matmul.py), by node name.

    onnx2tf fetches a sample .npy from the network for its internal checks on every image
    model; a file of that name made from real faces in the working folder stops the fetch."""
    from facelm.calib.select import onnx2tf_sample

    tf = tensorflow()  # onnx2tf imports it: onnxsim first
    work = dst.parent
    work.mkdir(parents=True, exist_ok=True)
    np.save(work / ONNX2TF_SAMPLE, onnx2tf_sample(faces_nchw))
    # onnx2tf rewrites the ONNX file it is given; hand it a copy so the parent stays intact.
    copy = Path(shutil.copyfile(src, work / src.name))
    model, products = _build(copy, dst, strict=False)
    diff = _max_rel_diff(model, src, faces_nchw[:CHECK_FACES])
    report = {"strict_mode": False, "non_strict_rel_diff": diff}
    if diff is None or diff > NON_STRICT_RTOL:
        shutil.copyfile(src, copy)
        model, products = _build(copy, dst, strict=True)
        report["strict_mode"] = True
    copy.unlink()
    with quiet(_log(dst)), part("saved_model write"):
        _save_serving(tf, model, dst)
    return {**report, **({"activation_matmuls": products} if products else {})}


def _build(src: Path, dst: Path, strict: bool):
    import onnx2tf

    from facelm.compiler.onnx2tf_adds import nhwc_residual_adds
    from facelm.compiler.onnx2tf_matmul import products_as_sums
    from facelm.compiler.onnx2tf_rank import symbolic_rank_shortcut

    with _workdir(src.parent), quiet(_log(dst)), nhwc_residual_adds(), products_as_sums() as products, \
            symbolic_rank_shortcut(), \
            part("onnx2tf graph build" + (" (strict mode)" if strict else "")):
        try:
            model = onnx2tf.convert(input_onnx_file_path=str(src.resolve()), output_folder_path=str(dst.resolve()),
                                    disable_model_save=True, not_use_onnxsim=True, non_verbose=True,
                                    verbosity="error", disable_strict_mode=not strict)
        except SystemExit as e:  # onnx2tf exits instead of raising on conversion errors
            raise UserError(f"{src.name}: onnx2tf could not convert this model (exit {e.code})") from None
    return model, dict(products)  # onnx2tf builds some nodes twice: one entry each


def _max_rel_diff(model, onnx_path: Path, faces_nchw: np.ndarray) -> float | None:
    """The Keras graph beside ONNX Runtime on the faces: the largest output difference relative
    to that output's range; None when the outputs cannot be paired by name and shape."""
    import onnxruntime as ort

    with part("non-strict graph check"):
        sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        name, names = sess.get_inputs()[0].name, [o.name for o in sess.get_outputs()]
        if list(model.output_names) != names and sorted(model.output_names) != sorted(names):
            return None
        worst = 0.0
        for x in faces_nchw:
            ref = dict(zip(names, sess.run(None, {name: x[None]})))
            got = dict(zip(model.output_names, (np.asarray(t) for t in _as_list(model(x[None].transpose(0, 2, 3, 1))))))
            for k, r in ref.items():
                if got[k].shape != r.shape:
                    return None
                worst = max(worst, float(np.abs(got[k] - r).max() / max(1.0, float(np.abs(r).max()))))
        return float(f"{worst:.3g}")


def _save_serving(tf, model, dst: Path) -> None:
    """model (Keras, from onnx2tf) as a SavedModel whose serving_default signature takes the
    ONNX inputs by name and returns the ONNX outputs by name."""
    names = list(model.output_names)
    specs = [tf.TensorSpec(t.shape, t.dtype, t.name.split(":")[0]) for t in model.inputs]
    run = tf.function(lambda *inputs: dict(zip(names, _as_list(model(list(inputs))), strict=True)),
                      input_signature=specs)
    concrete = run.get_concrete_function()
    if concrete.variables:  # weights onnx2tf keeps as tf.Variable (YOLO11's and YOLO26's attention)
        run, concrete = _frozen(tf, concrete, specs)
    module = tf.Module()
    module.run = run
    tf.saved_model.save(module, str(dst), signatures={"serving_default": concrete})


def _frozen(tf, concrete, specs):
    """The function with its variables made constants: onnx2tf names some variables from ONNX
    node names ('/model.10/...'), which a SavedModel cannot recreate, and tracking the Keras
    model that owns them would bring back tf_keras' metadata serialisation."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    frozen = convert_variables_to_constants_v2(concrete)
    run = tf.function(lambda *inputs: tf.nest.pack_sequence_as(concrete.structured_outputs, frozen(*inputs)),
                      input_signature=specs)
    return run, run.get_concrete_function()


def _as_list(out) -> list:
    return list(out) if isinstance(out, (list, tuple)) else [out]


def float_tflite(saved_model: Path, dst: Path, kind: str) -> None:
    """fp32 or fp16 (float16 weights, float32 compute and I/O) TFLite from the SavedModel, with
    the options onnx2tf itself converts with (builtins, TensorFlow ops where a builtin lacks)."""
    tf = tensorflow()

    with converted_once():
        conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
        if kind == "float16":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.target_spec.supported_types = [tf.float16]
        with quiet(_log(dst)), part(f"{kind} conversion"):
            dst.write_bytes(conv.convert())
