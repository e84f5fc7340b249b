"""INT8 precision: the guard's decision, `inspect` (its table, its ranking, its errors)."""
import json
import shutil

import numpy as np

from compiler.guard import DRIFT_BUDGET_NME, NME_RATIO_LIMIT, passes
from tests.conftest import run_cli


def _labelled(child_nme, parent_nme=5.0, child_missed=1, parent_missed=1):
    return {"parent_faces": 64, "child_nme": child_nme, "parent_nme": parent_nme, "child_missed": child_missed,
            "parent_missed": parent_missed, "drift_nme": 0.5, "drift_missed": 0, "anchor_drift_pct": 0.5}


def test_guard_judges_labelled_nme_against_its_parent():
    assert passes(_labelled(5.0 * NME_RATIO_LIMIT - 0.001))
    assert not passes(_labelled(5.0 * NME_RATIO_LIMIT + 0.001))  # drift alone would have passed
    assert not passes(_labelled(5.0, child_missed=2))            # one extra miss
    unlabelled = {"parent_faces": 64, "drift_nme": DRIFT_BUDGET_NME + 0.01, "drift_missed": 0, "anchor_drift_pct": 0}
    assert not passes(unlabelled)
    assert passes({**unlabelled, "drift_nme": DRIFT_BUDGET_NME - 0.01})
    assert not passes({"parent_faces": 0, "anchor_drift_pct": 3.5})


def _inspect_json(folder, artifact):
    return json.loads((folder / f"{artifact}.inspect.json").read_text())


def test_inspect_a_tiny_build(tiny_build, faces, tmp_path):
    from eval.quant_error import _activations, _open

    src, _ = tiny_build
    build = tmp_path / "b"
    shutil.copytree(src, build)
    code, out, err = run_cli("inspect", build, "--data", faces / "afw", "--n", "6")
    assert code == 0, err
    rep = _inspect_json(build, "tiny51_int8.tflite")
    qa, fa = _activations(_open(build / "tiny51_int8.tflite")), _activations(_open(build / "tiny51_fp32.tflite"))
    shared = [k for k, v in qa.items() if k in fa and np.dtype(v[3]["dtype"]).name == "int8"
              and tuple(v[3]["shape"]) == tuple(fa[k][3]["shape"]) and v[3]["quantization"][0] > 0]
    assert len(rep["tensors"]) == len(shared) > 20
    for r in rep["tensors"]:
        assert np.isfinite(r["rmse_steps"]) and 0 <= r["clipped"] <= 1 and r["scale"] > 0
        assert r["sqnr_db"] is None or np.isfinite(r["sqnr_db"])
    assert {o["output"] for o in rep["outputs"]} == {"boxes", "scores", "offsets", "visibility", "all outputs"}
    for suffix in ("csv", "png"):
        assert (build / f"tiny51_int8.tflite.inspect.{suffix}").stat().st_size > 100
    assert "tiny51.int8.onnx" in out and (build / "tiny51.int8.onnx.inspect.json").exists()


def _perturb_conv(src, dst, out_channels):
    """Scramble the int8 weights of the first convolution with out_channels outputs; returns
    the name of its output tensor."""
    from tensorflow.lite.tools import flatbuffer_utils as fb

    model = fb.read_model(str(src))
    g = model.subgraphs[0]
    conv_codes = {i for i, c in enumerate(model.operatorCodes) if max(c.builtinCode, c.deprecatedBuiltinCode) == 3}
    op = next(o for o in g.operators if o.opcodeIndex in conv_codes and g.tensors[o.outputs[0]].shape[-1] == out_channels)
    buf = model.buffers[g.tensors[op.inputs[1]].buffer]
    w = np.frombuffer(bytes(buf.data), np.int8).copy()
    buf.data = np.random.default_rng(0).permutation(-w).view(np.uint8)
    fb.write_model(model, str(dst))
    return g.tensors[op.outputs[0]].name.decode()


def test_a_perturbed_int8_weight_is_ranked_first(tiny_build, faces, tmp_path):
    from eval.quant_report import face_inputs, inspect_one
    from eval.quant_error import tensor_key

    src, _ = tiny_build
    bad = tmp_path / "tiny51_int8.tflite"
    name = _perturb_conv(src / "tiny51_int8.tflite", bad, 2 * 51)
    inputs = face_inputs(faces / "afw", 6, (96, 96))
    rep = inspect_one(bad, src / "tiny51_fp32.tflite", inputs)
    assert tensor_key(rep["tensors"][0]["name"]) == tensor_key(name)
    clean = inspect_one(src / "tiny51_int8.tflite", src / "tiny51_fp32.tflite", inputs)
    assert tensor_key(clean["tensors"][0]["name"]) != tensor_key(name)


def test_inspect_bad_input_is_one_line_and_exit_2(tiny_build, tmp_path):
    src, _ = tiny_build
    float_only = tmp_path / "float"
    float_only.mkdir()
    for f in ("tiny51_fp32.tflite", "tiny51_fp32.tflite.json"):
        shutil.copy(src / f, float_only / f)
    orphan = tmp_path / "orphan"
    orphan.mkdir()
    for f in ("tiny51_int8.tflite", "tiny51_int8.tflite.json"):
        shutil.copy(src / f, orphan / f)
    empty_faces = tmp_path / "faces"
    empty_faces.mkdir()
    (empty_faces / "a.jpg").write_bytes(b"not an image")
    cases = [((float_only,), "no quantised artifact"), ((orphan / "tiny51_int8.tflite",), "is missing"),
             ((src / "tiny51_fp32.tflite",), "not a quantised model"),
             ((src, "--data", empty_faces), "no readable face image")]
    for args, words in cases:
        code, out, err = run_cli("inspect", *args)
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, (args, err)
        assert str(args[-1] if words == "no readable face image" else args[0]) in err
