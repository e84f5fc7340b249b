"""End-to-end compile on tiny models built from YAML: every stage, checks, manifests, cache."""
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from facelm.core.files import read_manifest, sha256
from facelm.compiler.guard import MIN_GUARD_FACES
from facelm.compiler.pipeline import CompileOptions, compile_checkpoint
from facelm.compiler.tf_build import NON_STRICT_RTOL
from facelm.compiler.verify import TOLERANCES
from facelm.eval.infer.artifact import describe
from tests.conftest import cli_here, run_cli

pytestmark = pytest.mark.converter
FLOAT = ("onnx", "sim", "saved_model", "tflite_fp32", "tflite_fp16")
MANIFEST_FIELDS = {"stage", "parent", "key", "options", "sha256", "tool_versions", "wall_seconds", "report"}


def test_every_stage_runs_and_is_verified(tiny_build):
    out, results = tiny_build
    stages = [r.stage for r in results]
    assert stages == [*FLOAT, "tflite_int8", "tflite_int8_fio", "ort_int8"]
    for r in results:
        assert r.path.exists() and not r.cached
        m = read_manifest(r.path)
        assert MANIFEST_FIELDS <= set(m), r.stage
        if not r.path.is_dir():
            assert m["sha256"] == sha256(r.path)
        # the stage that read the .pt says how: weights-only (core.safe_load), the others read no pickle
        assert m.get("source_load") == ("weights-only" if r.stage == "onnx" else None), r.stage
    reports = {r.stage: r.report for r in results}
    for stage, kind in (("onnx", "fp32"), ("tflite_fp32", "fp32"), ("tflite_fp16", "fp16")):
        diffs = reports[stage]["max_abs_diff"]
        assert set(diffs) == set(TOLERANCES[kind]), stage
        assert all(v is None or v <= TOLERANCES[kind][k] for k, v in diffs.items()), (stage, diffs)
    assert not list(out.glob(".*")), "temporary folders left behind"


def test_the_savedmodel_is_built_strict_only_where_the_fast_graph_misses_onnx(tiny_build, tiny51, tmp_path,
                                                                             monkeypatch):
    """onnx2tf builds without its strict mode when that graph matches ONNX Runtime on real faces
    (within NON_STRICT_RTOL), else again in strict mode; the manifest says which."""
    from facelm.compiler import tf_build

    out, _ = tiny_build
    sm = read_manifest(out / "tiny51_saved_model")["report"]
    assert sm["strict_mode"] is False and sm["non_strict_rel_diff"] <= NON_STRICT_RTOL
    monkeypatch.setattr(tf_build, "NON_STRICT_RTOL", -1.0)  # nothing is close enough: strict
    compile_checkpoint(tiny51, tmp_path / "s", CompileOptions(targets=("tflite_fp32",), verify_images=4), progress=False)
    strict = read_manifest(tmp_path / "s" / "tiny51_saved_model")["report"]
    assert strict["strict_mode"] is True and strict["non_strict_rel_diff"] == sm["non_strict_rel_diff"]


def test_int8_artifacts_have_the_dtypes_they_claim(tiny_build):
    out, _ = tiny_build
    assert describe(out / "tiny51_int8.tflite").kind == "int8-int8-io"
    assert describe(out / "tiny51_int8_fio.tflite").kind == "int8-float-io"
    assert describe(out / "tiny51.int8.onnx").kind == "int8-qdq"
    assert describe(out / "tiny51_fp16.tflite").kind == "fp16"
    assert describe(out / "tiny51_fp32.tflite").kind == "fp32"
    guard = read_manifest(out / "tiny51_int8.tflite")["report"]["guard"]
    assert guard["attempts"] and {"remedy", "drift_nme", "anchor_drift_pct", "passed"} <= set(guard["attempts"][0])
    fio = read_manifest(out / "tiny51_int8_fio.tflite")["report"]["guard"]  # same integer body: no second search
    assert fio["attempts"][0]["remedy"] == guard["chosen"]
    assert len(fio["attempts"]) == 1 or not fio["attempts"][0]["passed"]


def test_float_io_stage_starts_from_the_int8_manifest(tiny_build, tmp_path):
    """The float-I/O file starts from the remedy the int8 file's manifest records, and that remedy
    is part of its cache key: built alone (the int8 file cached, not rebuilt by this process), it
    starts where a full run would, and a changed remedy rebuilds it."""
    from facelm.compiler.guard import TFLITE_ATTEMPTS
    from facelm.core.files import write_json_atomic

    out, _ = tiny_build
    work = tmp_path / "copy"
    shutil.copytree(out, work)
    m = read_manifest(work / "tiny51_int8.tflite")
    chosen = m["report"]["guard"]["chosen"]
    assert read_manifest(work / "tiny51_int8_fio.tflite")["key"]["starts_from"] == chosen
    other = next(a.label for a in TFLITE_ATTEMPTS if a.label != chosen)
    m["report"]["guard"]["chosen"] = other  # as if the int8 file had kept another remedy
    write_json_atomic(work / "tiny51_int8.tflite.json", m)
    res = compile_checkpoint(tiny51_path(out), work, CompileOptions(targets=("tflite_int8_fio",), calib_n=12,
                                                                    guard_images=12, verify_images=4), progress=False)
    assert [r.cached for r in res if r.stage == "tflite_int8_fio"] == [False]
    fio = read_manifest(work / "tiny51_int8_fio.tflite")
    assert fio["key"]["starts_from"] == other and fio["report"]["guard"]["attempts"][0]["remedy"] == other


def test_tflite_files_keep_channels_last_throughout(tiny_build):
    """No TRANSPOSE anywhere: not in the split head, not around a backbone block's residual Add
    and the Concat after it (onnx2tf 1.29 rebuilt each such Add in NCHW: compiler/onnx2tf_adds.py)."""
    import collections

    from facelm.compiler.convert import tensorflow

    out, _ = tiny_build
    tf = tensorflow()
    for name in ("tiny51_fp32.tflite", "tiny51_int8.tflite"):
        ops = collections.Counter(o["op_name"] for o in tf.lite.Interpreter(model_path=str(out / name))._get_ops_details())
        assert ops["ADD"] >= 2 and ops["CONCATENATION"] >= 4, (name, ops)  # the residual blocks are there
        assert ops["TRANSPOSE"] == 0, (name, ops)


def _ultralytics_decoded(model, x):
    """ultralytics' own decoding of every anchor: [1, 4 + nc + 3K, N], boxes cx, cy, w, h in
    pixels (an end-to-end head's boxes come as corners, before its top-k: both undone here)."""
    head = model.model[-1]
    head.export = True
    if head.end2end:
        head.postprocess = lambda y: y.permute(0, 2, 1)  # keep every anchor, as the split head does
    packed = model(x).clone()
    head.export = False
    if head.end2end:
        del head.postprocess
        xy1, xy2 = packed[:, :2].clone(), packed[:, 2:4].clone()
        packed[:, :2], packed[:, 2:4] = (xy1 + xy2) / 2, xy2 - xy1
    return packed.numpy()


def _split_head_matches_ultralytics(ckpt):
    import torch

    from facelm.core.checkpoint import load_pose_checkpoint
    from facelm.core.head import SplitPoseModel
    from facelm.eval.infer.decode import ModelSpec, standardise

    model, info = load_pose_checkpoint(ckpt)
    x = torch.rand(1, 3, *info.imgsz)
    packed = _ultralytics_decoded(model, x)
    split = [t.numpy() for t in SplitPoseModel(model, info.imgsz)(x)]
    spec = ModelSpec(info.kpt_shape, info.nc, info.imgsz)
    a, b = standardise([packed], spec), standardise(split, spec)
    inside = (a[2][..., :2] >= 0) & (a[2][..., :2] <= 1)  # the split head clips to 0..1
    box_in = (a[0] >= 0) & (a[0] <= 1)
    assert np.abs(a[0] - b[0])[box_in].max() < 1e-5 and np.abs(a[1] - b[1]).max() < 1e-6
    assert np.all(b[0][~box_in] == np.clip(a[0][~box_in], 0, 1))
    assert np.abs(a[2][..., :2] - b[2][..., :2])[inside].max() < 1e-5
    assert inside.mean() > 0.5 and box_in.mean() > 0.2  # the comparison covers most anchors
    return model


def test_split_head_matches_ultralytics_packed_head(tiny51):
    """The exported split outputs are ultralytics' own decoded outputs, normalised."""
    _split_head_matches_ultralytics(tiny51)


@pytest.mark.parametrize("family,end2end", [("yolo11", False), ("yolo26", False), ("yolo26", True)])
def test_every_family_s_head_is_split_exactly(family, end2end, tmp_path):
    """YOLO11's Pose and YOLO26's Pose26 (reg_max 1 boxes, cv4 + cv4_kpts, (raw + grid + 0.5) x
    stride points), and an end-to-end YOLO26 whose fused head keeps only its one-to-one branch."""
    import torch

    from tests.tiny import make_tiny_pose

    ckpt = make_tiny_pose(tmp_path / f"{family}.pt", 51, imgsz=96, family=family)
    if end2end:  # as a checkpoint trained or saved with ultralytics' nms=False
        c = torch.load(ckpt, weights_only=False)
        c["model"].end2end = True
        torch.save(c, ckpt)
    model = _split_head_matches_ultralytics(ckpt)
    head = model.model[-1]
    assert type(head).__name__ == ("Pose26" if family == "yolo26" else "Pose")
    assert (head.cv2 is None) == end2end and (getattr(head, "one2one_cv2", None) is not None) == end2end


def test_rerun_is_cached_and_fast(tiny_build, tiny51):
    out, _ = tiny_build
    t = time.perf_counter()
    again = compile_checkpoint(tiny51, out, CompileOptions(calib_n=12, guard_images=12, verify_images=4), progress=False)
    assert all(r.cached for r in again)
    assert time.perf_counter() - t < 2.0


def test_68_points_float_chain(tiny68, tmp_path):
    res = compile_checkpoint(tiny68, tmp_path / "t68", CompileOptions(targets=("tflite_fp32",), verify_images=2),
                             progress=False)
    assert [r.stage for r in res] == ["onnx", "sim", "saved_model", "tflite_fp32"]
    assert describe(res[-1].path).spec.kpt_shape == (68, 3)


def test_compile_at_another_size_than_training(tiny51, tmp_path):
    res = compile_checkpoint(tiny51, tmp_path / "s128", CompileOptions(imgsz=128, targets=("onnx",), verify_images=2),
                             progress=False)
    assert describe(res[-1].path).spec.imgsz == (128, 128)


def test_onnx_start_is_adopted(tiny_build, tmp_path):
    out, _ = tiny_build
    src = tmp_path / "given.onnx"
    shutil.copy(out / "tiny51.onnx", src)
    res = compile_checkpoint(src, tmp_path / "given", CompileOptions(targets=("sim",), verify_images=2), progress=False)
    assert describe(res[-1].path).spec.kpt_shape == (51, 3)


# --- bad input: one line, exit code 2, nothing half-written, good artifacts untouched -------

def _one_line_error(code, err, *words):
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2, err
    assert lines and lines[-1].startswith("error:") and "Traceback" not in err
    for w in words:
        assert w in lines[-1], lines[-1]


def test_missing_and_corrupt_checkpoints(tmp_path):
    code, _, err = cli_here("compile", tmp_path / "nope.pt", "--out", tmp_path / "o1")
    _one_line_error(code, err, "nope.pt", "no such")
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"PK\x03\x04 not really a checkpoint")
    code, _, err = cli_here("compile", bad, "--out", tmp_path / "o2")
    _one_line_error(code, err, "broken.pt", "not a readable")
    assert not any((tmp_path / "o2").glob("*.onnx"))


def test_truncated_checkpoint(tiny51, tmp_path):
    cut = tmp_path / "cut.pt"
    cut.write_bytes(tiny51.read_bytes()[: tiny51.stat().st_size // 2])
    code, _, err = cli_here("compile", cut, "--out", tmp_path / "o")
    _one_line_error(code, err, "cut.pt")


def test_not_a_pose_model(tmp_path):
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from facelm.train.run import scaled_config

    det = tmp_path / "det.pt"
    torch.save({"model": DetectionModel(scaled_config(0.125, "yolov8n.yaml"), nc=1, verbose=False).half(), "train_args": {"imgsz": 64}}, det)
    code, _, err = cli_here("compile", det, "--out", tmp_path / "o")
    _one_line_error(code, err, "det.pt", "not a pose model")


def test_bad_imgsz_and_unwritable_out(tiny51, tmp_path):
    code, _, err = cli_here("compile", tiny51, "--imgsz", "100", "--out", tmp_path / "o")
    _one_line_error(code, err, "100", "multiple")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        import os

        if os.access(ro, os.W_OK):  # root ignores permissions: use a path under a file instead
            (tmp_path / "afile").write_text("x")
            target = tmp_path / "afile" / "out"
        else:
            target = ro / "out"
        code, _, err = cli_here("compile", tiny51, "--out", target)
        _one_line_error(code, err, "out")
    finally:
        ro.chmod(0o700)


def test_failure_leaves_good_artifacts_untouched(tiny_build, tmp_path, monkeypatch):
    """A stage that fails mid-write leaves the previous good artifact and manifest as they were:
    the rerun targets the very files it would replace (artifacts are named after the model)."""
    import facelm.compiler.stages as st

    out, _ = tiny_build
    work = tmp_path / "copy"
    shutil.copytree(out, work)
    target = work / "tiny51_fp16.tflite"
    before = {p.name: sha256(p) for p in work.glob("*.tflite")}
    m_before = read_manifest(target)
    assert m_before is not None and target.exists()
    calls = []

    def boom(src, ref, dst, ctx):
        calls.append(dst)
        dst.write_bytes(b"half")
        raise RuntimeError("disk full")

    stage = st.STAGES["tflite_fp16"]
    monkeypatch.setitem(st.STAGES, "tflite_fp16", st.Stage(**{**stage.__dict__, "build": boom, "options": ("opset",)}))
    monkeypatch.setattr(st, "PIPELINE", [st.STAGES.get(s.name, s) for s in st.PIPELINE])
    with pytest.raises(RuntimeError):
        compile_checkpoint(tiny51_path(out), work, CompileOptions(targets=("tflite_fp16",), verify_images=2),
                           progress=False)
    assert calls and calls[0].name == target.name  # the stage really ran against this artifact
    assert {p.name: sha256(p) for p in work.glob("*.tflite")} == before
    assert not list(work.glob(".*"))
    assert read_manifest(target) == m_before


def tiny51_path(build):
    """The checkpoint a build was made from, as its onnx manifest names it."""
    from pathlib import Path

    return Path(read_manifest(build / "tiny51.onnx")["built_from"])


def test_artifacts_are_named_after_the_checkpoint(tiny51, tmp_path):
    res = compile_checkpoint(tiny51, tmp_path / "elsewhere", CompileOptions(targets=("onnx",), verify_images=2),
                             progress=False)
    assert res[-1].path == tmp_path / "elsewhere" / "tiny51.onnx"


def test_checkpoint_loaded_and_imgsz_validated_once_per_compile(tiny51, tmp_path):
    from facelm.core import checkpoint

    checkpoint._LOADED.clear()
    checkpoint._INFOS.clear()
    before = dict(checkpoint.LOADS)
    compile_checkpoint(tiny51, tmp_path / "once", CompileOptions(targets=("sim",), verify_images=2), progress=False)
    assert checkpoint.LOADS["count"] - before["count"] == 1
    assert checkpoint.LOADS["validations"] - before["validations"] == 1


def test_int8_cache_key_covers_the_guard_faces():
    from facelm.compiler.stages import STAGES

    for name in ("tflite_int8", "tflite_int8_fio", "ort_int8"):
        assert {"calib_n", "calib_data", "verify_data", "guard_images", "verify_images"} <= set(STAGES[name].options)


def test_compile_runs_offline(tiny51, tmp_path):
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not available")
    import subprocess

    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot create a network namespace here")
    code, out, err = run_cli("compile", tiny51, "--out", tmp_path / "off", "--targets", "tflite_fp16,tflite_int8,ort_int8",
                             "--calib-images", "8", prefix=("unshare", "-n"),
                             env={"FACELM_CACHE": str(tmp_path / "cache")})
    assert code == 0, err[-2000:]
    for name in ("tiny51_fp16.tflite", "tiny51_int8.tflite", "tiny51.int8.onnx"):  # named after the checkpoint
        assert (tmp_path / "off" / name).exists(), name


def test_package_choices_are_the_pipeline_ship_order():
    from facelm import cli
    from facelm.compiler.stages import SHIP_ORDER, STAGES

    opt = next(p for p in cli.package.params if p.name == "artifact")
    assert {f"tflite_{c}" for c in opt.type.choices} == set(SHIP_ORDER)
    assert all(STAGES[s].filename.endswith(".tflite") for s in SHIP_ORDER)


def test_score_lists_artifacts_in_pipeline_order(tiny_build):
    from facelm.compiler.stages import DEFAULT_TARGETS, PIPELINE
    from facelm.eval.scoring import find_artifacts

    out, _ = tiny_build
    names = [p.name for p in find_artifacts(out)]
    files = [s.filename.format(stem="tiny51") for s in PIPELINE if s.name in DEFAULT_TARGETS and s.name != "saved_model"]
    assert names == ["tiny51.pt", *files]


def test_fp16_landmarks_are_held_tighter_at_face_anchors(monkeypatch):
    """fp16 rounding at anchors scored as background may move landmarks up to 1e-2 (x stride / 8);
    at anchors the parent scores as a face, the ones users get, 5e-3 holds."""
    from pathlib import Path

    import facelm.compiler.verify as verify

    def outputs(scores, shift_at=None, shift=0.0):
        boxes, kpts = np.zeros((2, 4)), np.full((2, 51, 3), 0.5)
        if shift_at is not None:
            kpts[shift_at, 7, 0] += shift
        return boxes, np.array(scores, float)[:, None], kpts

    def compare(parent, child, shapes=([(1, 2, 4), (1, 2, 1)], [(1, 2, 1), (1, 2, 4)])):
        runs = iter([([parent], shapes[0]), ([child], shapes[1])])

        def run_all(path, inputs, imgsz, out_shapes):
            outs, shape = next(runs)
            out_shapes.extend(shape)
            return outs
        monkeypatch.setattr(verify, "run_all", run_all)
        return verify.compare_float(Path("p.onnx"), Path("c.tflite"), np.zeros((1, 3, 8, 8)), "fp16", (8, 8))

    rep = compare(outputs([0.9, 0.0]), outputs([0.9, 0.0], shift_at=1, shift=8e-3))
    assert rep["max_abs_diff"]["landmarks"] == pytest.approx(8e-3) and rep["max_abs_diff"]["face landmarks"] == 0
    with pytest.raises(verify.VerificationError, match="'face landmarks' differs .* by 0.006 "):
        compare(outputs([0.9, 0.0]), outputs([0.9, 0.0], shift_at=0, shift=6e-3))
    with pytest.raises(verify.VerificationError, match="'landmarks' differs .* by 0.012 "):
        compare(outputs([0.9, 0.0]), outputs([0.9, 0.0], shift_at=1, shift=1.2e-2))
    # a parent that finds no face (an untrained model): all anchors are held to 1e-2
    assert compare(outputs([0.1, 0.0]), outputs([0.1, 0.0]))["max_abs_diff"]["face landmarks"] is None
    # every failing output is named, worst (relative to its tolerance) first
    with pytest.raises(verify.VerificationError, match="'face landmarks' differs .* by 0.03 .*; output 'landmarks' differs .* by 0.03 "):
        compare(outputs([0.9, 0.9]), outputs([0.9, 0.9], shift_at=0, shift=3e-2))
    # shapes are checked before values: equal values cannot hide a missing or reshaped output
    with pytest.raises(verify.VerificationError, match=r"outputs of shapes \[\(1, 2, 2\)\] do not match"):
        compare(outputs([0.9, 0.0]), outputs([0.9, 0.0]), shapes=([(1, 2, 4)], [(1, 2, 2)]))
    # all anchors' landmarks at the stride-8 scale: a point is 2 x raw offset x stride, so a
    # stride-16 anchor's (the 5th of a 16 x 16 input's 2 x 2 + 1) may move twice as far
    def five(shift_at=None, shift=0.0):
        kpts = np.full((5, 51, 3), 0.5)
        if shift_at is not None:
            kpts[shift_at, 3, 1] += shift
        return np.zeros((5, 4)), np.zeros((5, 1)), kpts

    def compare16(child):
        monkeypatch.setattr(verify, "run_all", lambda path, inputs, imgsz, shapes: (shapes.extend([(1, 5, 4)]),
                            [five() if path.suffix == ".onnx" else child])[1])
        return verify.compare_float(Path("p.onnx"), Path("c.tflite"), np.zeros((1, 3, 16, 16)), "fp16", (16, 16))

    assert compare16(five(4, 1.6e-2))["max_abs_diff"]["landmarks"] == pytest.approx(8e-3)
    with pytest.raises(verify.VerificationError, match="'landmarks' differs .* by 0.016 "):
        compare16(five(3, 1.6e-2))


def test_a_failed_check_stops_only_what_needs_the_artifact(tiny_build, tmp_path, monkeypatch):
    """fp16 failing its check leaves full integer to be built and checked; fp32 failing stops the
    INT8 files checked against it. Nothing that failed lands; each failure is a result, not a crash."""
    import facelm.compiler.stages as st
    from facelm.compiler.verify import VerificationError

    out, _ = tiny_build
    work = tmp_path / "copy"
    shutil.copytree(out, work)
    for name in ("tiny51_fp16.tflite", "tiny51_int8.tflite", "tiny51_fp32.tflite"):
        (work / name).unlink()
    real = st.compare_float

    def fail(precision):
        def compare(parent, child, inputs, kind, imgsz):
            if kind == precision:
                raise VerificationError(f"{child.name}: output 'landmarks' differs from {parent.name} by 0.022")
            return real(parent, child, inputs, kind, imgsz)
        return compare

    opts = CompileOptions(calib_n=12, guard_images=12, verify_images=4, targets=("tflite_fp16", "tflite_int8"))
    monkeypatch.setattr(st, "compare_float", fail("fp16"))
    res = {r.stage: r for r in compile_checkpoint(tiny51_path(out), work, opts, progress=False)}
    assert res["tflite_fp16"].error == "tiny51_fp16.tflite: output 'landmarks' differs from tiny51.sim.onnx by 0.022"
    assert res["tflite_fp16"].failed and not (work / "tiny51_fp16.tflite").exists()
    assert res["tflite_int8"].error is None and (work / "tiny51_int8.tflite").is_file()
    assert res["tflite_int8"].report["guard"]["attempts"]

    for name in ("tiny51_int8.tflite", "tiny51_fp32.tflite"):
        (work / name).unlink()
    monkeypatch.setattr(st, "compare_float", fail("fp32"))
    res = {r.stage: r for r in compile_checkpoint(tiny51_path(out), work, opts, progress=False)}
    assert res["tflite_fp32"].error and res["tflite_int8"].error == "not built: it needs tflite_fp32, which failed"
    assert not (work / "tiny51_int8.tflite").exists()


@pytest.mark.slow
def test_a_yolo26_checkpoint_goes_through_the_whole_chain(tmp_path):
    """compile (every default stage checked), score on every runtime and package, for YOLO26's
    Pose26 head at 64 px; the manifest says which branch was exported."""
    from tests.tiny import make_tiny_pose

    ckpt = make_tiny_pose(tmp_path / "y26.pt", 51, imgsz=64, family="yolo26")
    res = compile_checkpoint(ckpt, tmp_path / "b", CompileOptions(calib_n=12, guard_images=MIN_GUARD_FACES,
                                                                  verify_images=4), progress=False)
    failed = [(r.stage, r.failed) for r in res if r.failed]
    assert not failed and [r.stage for r in res] == [*FLOAT, "tflite_int8", "tflite_int8_fio", "ort_int8"], failed
    head = read_manifest(tmp_path / "b" / "y26.onnx")["report"]
    assert head["head"] == "Pose26" and head["branch"] == "one-to-many"
    sm = read_manifest(tmp_path / "b" / "y26_saved_model")["report"]
    made = sm["activation_matmuls"]
    assert len(made) == 4 and set(made.values()) == {"sum of products"}, made  # two attention blocks
    # onnx2tf's non-strict graph of this model misses ONNX by 3.5e-4 (boxes): rebuilt in strict mode
    assert sm["strict_mode"] and sm["non_strict_rel_diff"] > NON_STRICT_RTOL
    code, out, err = run_cli("score", "--build", tmp_path / "b", "--no-latency", "--max-images", "8",
                             "--out", tmp_path / "s")
    assert code == 0, err[-2000:]
    assert all(k in out for k in ("pytorch", "onnxruntime", "int8-int8-io", "int8-qdq"))
    code, _, err = run_cli("package", tmp_path / "b", "--out", tmp_path / "sub")
    assert code == 0 and (tmp_path / "sub").is_dir(), err[-2000:]


def _ultralytics_onnx(ckpt, tmp_path, imgsz=64):
    """ultralytics' own ONNX export of a checkpoint (one packed output, decoding in the graph)."""
    from tests.conftest import run_python

    code = ("import json, shutil\nfrom facelm.core.offline import prepare\nprepare()\nfrom ultralytics import YOLO\n"
            f"f = YOLO({str(ckpt)!r}).export(format='onnx', imgsz={imgsz})\n"
            f"print(json.dumps({{'f': shutil.move(f, {str(tmp_path / 'given.onnx')!r})}}))")
    return run_python(code)["f"]


@pytest.mark.slow
@pytest.mark.parametrize("family,head", [("yolov8", "Pose"), ("yolo26", "Pose26")])
def test_ultralytics_packed_onnx_is_rewritten_to_the_split_head(family, head, tmp_path):
    """The packed export is cut at the head's raw convolutions and given the split decoding,
    checked against the original graph; full integer is then built from it as from a .pt."""
    from tests.tiny import make_tiny_pose

    ckpt = make_tiny_pose(tmp_path / f"{family}.pt", 51, imgsz=64, family=family)
    src = _ultralytics_onnx(ckpt, tmp_path)
    assert describe(src).layout == "packed"
    res = compile_checkpoint(src, tmp_path / "b", CompileOptions(targets=("tflite_int8",), calib_n=12,
                                                                 guard_images=MIN_GUARD_FACES, verify_images=4),
                             progress=False)
    assert not [r for r in res if r.failed], [(r.stage, r.failed) for r in res]
    rep = read_manifest(tmp_path / "b" / "given.onnx")["report"]
    assert rep["rewritten"] == f"packed {head} head -> split-anchor-v2" and rep["max_diff_vs_original"] < 1e-4
    assert rep["max_abs_diff"]["landmarks"] < 1e-4  # the onnx stage's own check, against the packed source
    assert describe(tmp_path / "b" / "given.onnx").layout == "split-anchor-v2"
    assert describe(tmp_path / "b" / "given_int8.tflite").kind == "int8-int8-io"


@pytest.mark.slow
def test_yolo26_end_to_end_export_is_scored_and_refused_by_compile(tmp_path):
    """The NMS-free export ([1, max_det, 6 + 3K]) is read from the file's metadata: score runs it;
    compile says in one line why it cannot split it."""
    from tests.conftest import run_python
    from tests.tiny import make_tiny_pose

    ckpt = make_tiny_pose(tmp_path / "y26.pt", 51, imgsz=64, family="yolo26")
    code = ("import json, shutil\nfrom facelm.core.offline import prepare\nprepare()\nfrom ultralytics import YOLO\n"
            f"f = YOLO({str(ckpt)!r}).export(format='onnx', imgsz=64, nms=False)\n"
            f"print(json.dumps({{'f': shutil.move(f, {str(tmp_path / 'e2e.onnx')!r})}}))")
    src = run_python(code)["f"]
    art = describe(src)
    assert art.layout == "end-to-end" and art.spec.kpt_shape == (51, 3)
    code, out, err = run_cli("score", src, "--no-latency", "--max-images", "4", "--out", tmp_path / "s")
    assert code == 0 and "e2e.onnx" in out, err[-2000:]
    code, _, err = run_cli("compile", src, "--out", tmp_path / "b")
    assert code == 2 and "end-to-end" in err and "compile the .pt" in err and "Traceback" not in err
    assert not (tmp_path / "b" / "e2e.onnx").exists()


@pytest.mark.slow
def test_a_packed_onnx_that_cannot_be_rewritten_says_so_in_one_line(tiny51, tmp_path):
    import onnx

    src = Path(_ultralytics_onnx(tiny51, tmp_path))
    m = onnx.load(str(src))
    for p in m.metadata_props:
        if p.key == "head":
            p.value = "MyHead"  # a custom head: its decoding is unknown
    onnx.save(m, str(src))
    code, out, err = run_cli("compile", src, "--out", tmp_path / "b", "--targets", "onnx")
    warn = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert code == 0 and len(warn) == 1, err[-2000:]
    assert "'MyHead'" in warn[0] and "compile the .pt instead" in warn[0] and str(src) in warn[0]
    assert read_manifest(tmp_path / "b" / "given.onnx")["report"]["rewritten"] is None


def test_converter_shortcuts_build_the_same_files(tiny_build, tmp_path, monkeypatch):
    """onnx2tf with and without the symbolic-rank shortcut build the same network (the same
    operations, outputs bit for bit; in one process Keras numbers the second build's layers on,
    so names differ: fresh compiles give byte-identical files), and the TFLite converter with
    and without converted_once writes byte-identical files; within one block the SavedModel is
    loaded once and a float-I/O conversion after the int8 one converts nothing again."""
    from contextlib import nullcontext

    from facelm.compiler import convert, onnx2tf_rank
    from facelm.compiler.tf_build import float_tflite, onnx2tf_saved_model

    out, _ = tiny_build
    faces = np.random.default_rng(1).random((2, 3, 96, 96), np.float32)
    built = {}
    for name, shortcut in (("with", onnx2tf_rank.symbolic_rank_shortcut), ("without", nullcontext)):
        monkeypatch.setattr(onnx2tf_rank, "symbolic_rank_shortcut", shortcut)
        sm = tmp_path / name / "sm"
        onnx2tf_saved_model(out / "tiny51.sim.onnx", sm, faces)
        float_tflite(sm, tmp_path / name / "fp32.tflite", "float32")
        built[name] = _run_tflite(tmp_path / name / "fp32.tflite", faces[0].transpose(1, 2, 0)[None])
    assert built["with"][0] == built["without"][0]  # the same operations, in order
    assert all(np.array_equal(a, b) for a, b in zip(built["with"][1], built["without"][1], strict=True))

    from tensorflow.lite.python import lite
    sm, calib = tmp_path / "with" / "sm", np.random.default_rng(0).random((4, 96, 96, 3), np.float32)
    loads, real_load = [], lite._load
    monkeypatch.setattr(lite, "_load", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    convert._LOADED.clear(), convert._CONVERTED.clear()
    convert.quantize_tflite(sm, tmp_path / "a.tflite", calib, "int8")
    convert.quantize_tflite(sm, tmp_path / "b.tflite", calib, "float32")
    assert len(loads) == 1 and len(convert._CONVERTED) == 1
    monkeypatch.setattr(convert, "converted_once", nullcontext)
    convert.quantize_tflite(sm, tmp_path / "c.tflite", calib, "float32")
    assert (tmp_path / "b.tflite").read_bytes() == (tmp_path / "c.tflite").read_bytes()
    assert len(loads) == 3  # without the block: the converter's own two loads


def _run_tflite(path: Path, x: np.ndarray) -> tuple[list, list]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x.astype(np.float32))
    it.invoke()
    outs = sorted((it.get_tensor(o["index"]) for o in it.get_output_details()), key=lambda a: a.shape)
    return [op["op_name"] for op in it._get_ops_details()], outs


def test_the_rank_shortcut_answers_only_for_symbolic_tensors():
    import tensorflow as tf

    from facelm.compiler.onnx2tf_rank import _TF

    class Symbolic:
        pass

    t = _TF(tf, Symbolic)
    assert (t.rank(Symbolic()) == 0) is False and t.float32 is tf.float32
    assert bool((t.rank(tf.constant(3.0)) == 0).numpy()) and not bool((t.rank(tf.zeros((2, 2))) == 0).numpy())
