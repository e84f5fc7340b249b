"""The shared evaluator on real faces and on artifacts it did not make."""
import json
import shutil

import cv2
import numpy as np
import pytest

from facelm.eval.infer.artifact import describe
from facelm.eval.data.datasets import load_dataset
from facelm.eval.metrics.evaluate import EvalOptions, evaluate
from facelm.eval.infer.runtimes import open_runtime
from tests.conftest import cli_here, run_cli


def _subset(src, dst, n):
    """A folder with the first n faces of a .pts folder, as links (the data is never copied)."""
    dst.mkdir(parents=True, exist_ok=True)
    for pts in sorted(src.glob("*.pts"))[:n]:
        for f in (pts, pts.with_suffix(".jpg")):
            (dst / f.name).symlink_to(f)
    return dst


PREDICT = """
import json, sys
from facelm.core.offline import prepare; prepare()
from ultralytics import YOLO
yolo = YOLO({model!r}, task="pose")
out = {{}}
for p in {images!r}:
    r = yolo.predict(p, imgsz={imgsz!r}, conf=0.25, iou=0.45, verbose=False)[0]
    out[p] = r.keypoints.xy.numpy().tolist()
print(json.dumps(out))
"""


@pytest.mark.pytorch
@pytest.mark.shared_data
def test_pytorch_runtime_equals_ultralytics_predict(default_model, faces):
    from facelm.eval.infer.decode import DecodeOptions, decode
    from facelm.eval.infer.preprocess import preprocess, read_image
    from tests.conftest import run_python

    art = describe(default_model)
    rt = open_runtime(default_model)
    images = [str(p) for p in sorted((faces / "afw").glob("*.jpg"))[:12]]
    theirs = run_python(PREDICT.format(model=str(default_model), images=images, imgsz=list(art.spec.imgsz)))
    worst, compared = 0.0, 0
    for img_path in images:
        img = read_image(img_path)
        x, lb = preprocess(img, art.spec.imgsz)
        ours = decode(rt.run(x), art.spec, lb, DecodeOptions(vote=0))  # ultralytics keeps the top anchor's points
        kp = np.asarray(theirs[img_path]).reshape(-1, art.spec.kpt_shape[0], 2)
        assert len(ours) == len(kp)
        for f in ours:
            d = np.abs(kp - f.points[None]).max(axis=(1, 2)).min()
            worst, compared = max(worst, d), compared + 1
    assert compared >= 10 and worst <= 0.5, worst


@pytest.mark.onnxruntime
@pytest.mark.tflite
@pytest.mark.shared_data
def test_onnx_and_its_fp32_tflite_score_the_same(default_build, faces, tmp_path):
    ds = load_dataset(_subset(faces / "afw", tmp_path / "afw40", 40))
    nmes = []
    stem = default_build.name
    for name, runtime in ((f"{stem}.sim.onnx", "onnxruntime"), (f"{stem}_fp32.tflite", "tflite")):
        rt = open_runtime(default_build / name, runtime=runtime)
        nmes.append(evaluate(rt, describe(default_build / name), ds, EvalOptions(progress=False)).summary.nme)
    assert abs(nmes[0] - nmes[1]) <= 0.01, nmes
    assert nmes[0] < 15


def test_gflops_agree_with_ultralytics_thop(tiny_build, tiny51):
    import copy

    import torch
    import thop  # the counter ultralytics' get_flops uses

    from facelm.core.checkpoint import load_pose_checkpoint
    from facelm.eval.cost.profile import onnx_cost, tflite_cost

    out, _ = tiny_build
    model, info = load_pose_checkpoint(tiny51)
    macs, _ = thop.profile(copy.deepcopy(model), inputs=[torch.zeros(1, 3, *info.imgsz)], verbose=False)
    ref = 2 * macs / 1e9
    for g, _ in (onnx_cost(out / "tiny51.sim.onnx"), tflite_cost(out / "tiny51_fp32.tflite"),
                 onnx_cost(out / "tiny51.int8.onnx")):
        assert g == pytest.approx(ref, rel=0.01)


def test_score_build_writes_json_md_csv_and_isolates_failures(tiny_build, tmp_path):
    out, _ = tiny_build
    data = tmp_path / "faces"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(data / f"f{i}.jpg"), rng.integers(0, 255, (120, 100, 3), dtype=np.uint8))
        pts = rng.uniform(20, 80, (68, 2))
        (data / f"f{i}.pts").write_text("{\n" + "\n".join(f"{x} {y}" for x, y in pts) + "\n}\n")
    (data / "f3.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    (data / "f3.pts").write_text((data / "f0.pts").read_text())
    build = tmp_path / "build" / "tiny51"
    shutil.copytree(out, build)
    (build / "broken.tflite").write_bytes(b"nonsense")
    code, stdout, err = run_cli("score", "--build", build, "--data", data, "--threads", "1", "--latency-runs", "5",
                                "--out", tmp_path / "s")
    assert code == 1, err[-3000:]  # an error row fails the run, after the table and files are written
    assert "broken.tflite" in err.strip().splitlines()[-1]
    saved = json.loads((tmp_path / "s" / "scores.json").read_text())
    assert saved["machine"]["cores"] >= 1 and "features" in saved["machine"]
    rows = saved["rows"]
    by = {(r["artifact"].split("/")[-1], r["runtime"]): r for r in rows}
    assert ("tiny51.pt", "pytorch") in by and ("tiny51_int8.tflite", "tflite") in by
    assert by[("broken.tflite", "tflite")]["error"]
    good = by[("tiny51_fp32.tflite", "tflite")]
    assert good["error"] is None and good["faces"] == 3 and good["gflops"] > 0 and good["latency_ms"]["1"] > 0
    assert any("f3.jpg" in s[0] for s in good["skipped"])
    assert by[("tiny51_int8.tflite", "tflite")]["parent"].endswith("tiny51_fp32.tflite")
    assert "1 file(s) skipped" in stdout
    assert (tmp_path / "s" / "scores.md").read_text().count("|") > 20
    assert (tmp_path / "s" / "scores.csv").read_text().startswith("artifact,runtime")


def test_keypoint_mismatch_and_empty_data_fail_cleanly(tmp_path):
    from tests.tiny import make_tiny_pose

    k17 = make_tiny_pose(tmp_path / "k17.pt", 17, imgsz=64)
    data = tmp_path / "d"
    data.mkdir()
    cv2.imwrite(str(data / "a.jpg"), np.zeros((50, 50, 3), np.uint8))
    (data / "a.pts").write_text("{\n" + "\n".join("10 10" for _ in range(68)) + "\n}\n")
    code, _, err = cli_here("score", k17, "--data", data, "--threads", "1", "--out", tmp_path / "s")
    assert code == 2 and "17 landmarks" in err and "Traceback" not in err
    (tmp_path / "empty").mkdir()
    code, _, err = cli_here("score", k17, "--data", tmp_path / "empty", "--out", tmp_path / "s2")
    assert code == 2 and "empty" in err and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.tflite
def test_ultralytics_packed_tflite_scores(tiny51, tmp_path):
    """A team's existing best_float32.tflite, made by ultralytics' own export, scores as is."""
    from tests.conftest import run_python

    np.save(tmp_path / "calibration_image_sample_data_20x128x128x3_float32.npy",
            np.random.default_rng(0).uniform(0, 1, (20, 128, 128, 3)).astype(np.float32))
    shutil.copy(tiny51, tmp_path / "team.pt")
    run_python("import json\nfrom facelm.core.offline import prepare; prepare()\nfrom ultralytics import YOLO\n"
               f"YOLO({str(tmp_path / 'team.pt')!r}, task='pose').export(format='saved_model', imgsz=96)\n"
               "print(json.dumps({}))", cwd=tmp_path)
    tfl = next(tmp_path.glob("team_saved_model/*_float32.tflite"))
    art = describe(tfl)
    assert art.layout == "packed" and art.spec.kpt_shape == (51, 3)
    data = tmp_path / "imgs"
    data.mkdir()
    cv2.imwrite(str(data / "a.jpg"), np.full((80, 90, 3), 100, np.uint8))
    ds = load_dataset(data)
    rt = open_runtime(tfl)
    res = evaluate(rt, art, ds, EvalOptions(progress=False))
    assert res.n_images == 1 and res.summary is None
