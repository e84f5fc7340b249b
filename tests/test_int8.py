"""INT8 precision: the guard's decision, `inspect` (its table, its ranking, its errors)."""
import json
import shutil

import numpy as np

from facelm.compiler.guard import DRIFT_BUDGET_NME, NME_RATIO_LIMIT, passes
from tests.conftest import cli_here, run_cli


def _labelled(child_nme, parent_nme=5.0, child_missed=1, parent_missed=1, lost_sure=0):
    return {"parent_faces": 64, "child_nme": child_nme, "parent_nme": parent_nme, "child_missed": child_missed,
            "parent_missed": parent_missed, "lost_sure": lost_sure, "drift_nme": 0.5, "drift_missed": 0,
            "anchor_drift_pct": 0.5}


def test_guard_judges_labelled_nme_against_its_parent():
    assert passes(_labelled(5.0 * NME_RATIO_LIMIT - 0.001))
    assert not passes(_labelled(5.0 * NME_RATIO_LIMIT + 0.001))  # drift alone would have passed
    assert not passes(_labelled(5.0, child_missed=2, lost_sure=1))  # a face the parent was sure of
    assert passes(_labelled(5.0, child_missed=2))  # a marginal one (parent score < threshold + margin)
    unlabelled = {"parent_faces": 64, "drift_nme": DRIFT_BUDGET_NME + 0.01, "drift_missed": 0, "anchor_drift_pct": 0}
    assert not passes(unlabelled)
    assert passes({**unlabelled, "drift_nme": DRIFT_BUDGET_NME - 0.01})
    assert not passes({"parent_faces": 0, "anchor_drift_pct": 3.5})


def test_a_pass_that_loses_marginal_faces_searches_on_and_passes_rank_by_the_drift_of_all_faces():
    from facelm.compiler.guard import _badness, clean

    marginal = {**_labelled(5.0, child_missed=2), "passed": True, "drift_nme": 0.4}
    kept_all = {**_labelled(5.1), "passed": True, "drift_nme": 0.5}
    fewer_misses_too_far = {**_labelled(5.0 * NME_RATIO_LIMIT + 0.01), "passed": False, "drift_nme": 0.1}
    assert not clean(marginal) and clean(kept_all)  # a marginal loss searches on ...
    assert min([fewer_misses_too_far, marginal], key=_badness) is marginal  # a pass first (YOLO26 per-tensor)
    # ... but one marginal face does not decide between passes: the drift of every face does
    assert min([kept_all, marginal], key=_badness) is marginal
    assert min([marginal, {**kept_all, "drift_nme": 0.3}], key=_badness)["drift_nme"] == 0.3


def test_a_face_the_parent_is_sure_of_counts_when_lost_a_marginal_one_does_not():
    from facelm.compiler.guard import SURE_MARGIN, lost_sure_faces
    from facelm.eval.infer.decode import DecodeOptions, Face
    from facelm.eval.metrics.evaluate import EvalResult

    def face(score):
        return Face(np.zeros(4), score, 0, np.zeros((51, 2)), np.ones(51))

    conf = DecodeOptions().conf
    parent = EvalResult(None, predictions={"a": [face(0.65)], "b": [face(conf + SURE_MARGIN / 2)]},
                        matches={"a": [(0, 0, 0.05)], "b": [(0, 0, 0.05)]})
    lost_both = EvalResult(None, predictions={"a": [], "b": []},
                           matches={"a": [(0, None, float("inf"))], "b": [(0, None, float("inf"))]})
    kept_a = EvalResult(None, predictions={"a": [face(0.5)], "b": []},
                        matches={"a": [(0, 0, 0.05)], "b": [(0, None, float("inf"))]})
    assert lost_sure_faces(parent, lost_both) == 1 and lost_sure_faces(parent, kept_a) == 0


def _inspect_json(folder, artifact):
    return json.loads((folder / f"{artifact}.inspect.json").read_text())


def test_inspect_a_tiny_build(tiny_build, faces, tmp_path):
    from facelm.eval.quant.error import _activations, _open

    src, _ = tiny_build
    build = tmp_path / "b"
    shutil.copytree(src, build)
    code, out, err = run_cli("inspect", build, "--data", faces / "afw", "--faces", "6")
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
    from facelm.eval.quant.report import face_inputs, inspect_one
    from facelm.eval.quant.error import tensor_key

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
        code, out, err = cli_here("inspect", *args)
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, (args, err)
        assert str(args[-1] if words == "no readable face image" else args[0]) in err


def _attention_int8(tmp_path):
    """ultralytics' attention block (as in YOLO11's and YOLO26's C2PSA) at 12 px: converted,
    fully quantised, and run on LiteRT's default kernels (XNNPACK) and its built-in ones.
    Returns (how its MatMuls were built, ops, the two outputs in int8 steps)."""
    import torch
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from ultralytics.nn.modules.block import Attention
    from ultralytics.nn.modules.conv import Conv

    from facelm.compiler import convert, tf_build

    torch.manual_seed(0)
    net = torch.nn.Sequential(Conv(3, 128, 3, 4), Attention(128, num_heads=2), Conv(128, 16, 1)).eval()
    (tmp_path / "src").mkdir(parents=True)
    onnx_path = tmp_path / "src" / "attn.onnx"
    torch.onnx.export(net, torch.rand(1, 3, 12, 12), str(tmp_path / "attn.onnx"), opset_version=17,
                      dynamo=False, input_names=["images"])
    convert.simplify(tmp_path / "attn.onnx", onnx_path)  # as compile does
    calib = np.random.default_rng(0).random((16, 12, 12, 3), dtype=np.float32)
    made = tf_build.onnx2tf_saved_model(onnx_path, tmp_path / "sm", calib[:4].transpose(0, 3, 1, 2))["activation_matmuls"]
    convert.quantize_tflite(tmp_path / "sm", tmp_path / "attn_int8.tflite", calib, "int8")
    outs = []
    for resolver in (OpResolverType.AUTO, OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES):
        it = Interpreter(model_path=str(tmp_path / "attn_int8.tflite"), experimental_op_resolver_type=resolver)
        it.allocate_tensors()
        ops = {op["op_name"] for op in it._get_ops_details()}
        inp, out = it.get_input_details()[0], it.get_output_details()[0]
        scale, zp = inp["quantization"]
        it.set_tensor(inp["index"], np.round(calib[:1] / scale + zp).clip(-128, 127).astype(np.int8))
        it.invoke()
        outs.append(it.get_tensor(out["index"]).astype(int))
    return made, ops, outs


def test_attention_products_compute_the_same_on_both_kernel_sets(tmp_path, monkeypatch):
    """Its two MatMuls of activations are built as sums of products, and XNNPACK then computes
    what the built-in kernels do. Kept as a BATCH_MATMUL (a product over the size limit),
    XNNPACK's int8 kernel did not before LiteRT 2.3 (compiler/onnx2tf_matmul.py)."""
    from facelm.compiler import onnx2tf_matmul

    made, ops, (fast, ref) = _attention_int8(tmp_path / "sums")
    assert sorted(made.values()) == ["sum of products"] * 2 and "BATCH_MATMUL" not in ops, made
    assert np.abs(fast - ref).max() <= 2 and np.abs(fast - ref).mean() < 1  # measured: 2 and 0.66

    monkeypatch.setattr(onnx2tf_matmul, "MAX_PRODUCT", 100)
    made, ops, (fast, ref) = _attention_int8(tmp_path / "kept")
    assert all(why.startswith("kept: the product would hold") for why in made.values()) and "BATCH_MATMUL" in ops
    from facelm.core.versions import within

    if within("ai-edge-litert", "<2.3"):
        assert np.abs(fast - ref).mean() > 10  # LiteRT 2.1.0, measured: 79.5 steps on average, up to 249
    else:  # LiteRT 2.3.0's XNNPACK int8 BATCH_MATMUL agrees with the built-in kernel (measured: 0.79 steps)
        assert np.abs(fast - ref).mean() < 1
