"""The .pts -> YOLO-pose conversion and a short training run on a handful of faces."""
import cv2
import numpy as np
import pytest

from facelm.eval.data.landmarks import FLIP51, FLIP68
from facelm.train.yolo_data import face_box, label_line


def _face68(rng):
    """A face-like 68-point layout (left/right symmetric about x=50) plus noise."""
    from facelm.eval.data.landmarks import FLIP68

    pts = rng.uniform(20, 80, (68, 2))
    for i, j in enumerate(FLIP68):
        if i < j:
            pts[j] = [100 - pts[i, 0], pts[i, 1]]
        elif i == j:
            pts[i, 0] = 50
    return pts


def test_box_from_points_has_margin_and_is_clipped():
    pts = np.array([[10.0, 20.0], [50.0, 80.0]])
    assert face_box(pts, 200, 200).tolist() == [6.0, 14.0, 54.0, 86.0]
    assert face_box(pts, 52, 200).tolist()[2] == 52


def test_flip_indices_round_trip_a_flipped_face_exactly():
    rng = np.random.default_rng(0)
    for flip, sl in ((FLIP68, slice(None)), (FLIP51, slice(17, None))):
        pts = _face68(rng)[sl]
        mirrored = pts.copy()
        mirrored[:, 0] = 100 - mirrored[:, 0]
        # a horizontal flip of the image, with points re-indexed by flip_idx, gives the same face
        assert np.allclose(mirrored[list(flip)], pts)
        twice = mirrored[list(flip)].copy()
        twice[:, 0] = 100 - twice[:, 0]
        assert np.allclose(twice[list(flip)], pts)


def test_label_line_marks_points_outside_the_image_invisible():
    pts = np.array([[10.0, 10.0], [120.0, 50.0]])
    vals = label_line(pts, pts, 100, 100).split()
    assert vals[0] == "0" and len(vals) == 5 + 6
    assert vals[5:8] == ["0.100000", "0.100000", "2"] and vals[8:] == ["0.000000", "0.000000", "0"]


def _handful(tmp_path, seed=1):
    """Six noise images with face-like points each for training (tr/) and validation (va/)."""
    rng = np.random.default_rng(seed)
    for split in ("tr", "va"):
        d = tmp_path / split
        d.mkdir()
        for i in range(6):
            cv2.imwrite(str(d / f"{i}.jpg"), rng.integers(0, 255, (96, 96, 3), dtype=np.uint8))
            pts = _face68(rng) * 0.8 + 5
            (d / f"{i}.pts").write_text("{\n" + "\n".join(f"{x} {y}" for x, y in pts) + "\n}\n")
    return tmp_path / "tr", tmp_path / "va"


@pytest.mark.slow
def test_one_epoch_training_on_a_handful_of_faces(tmp_path):
    _handful(tmp_path, seed=0)
    from pathlib import Path

    from tests.conftest import run_python

    code = ("import json\nfrom pathlib import Path\nfrom facelm.train.run import TrainOptions, train\n"
            f"b = train(Path({str(tmp_path / 'tr')!r}), Path({str(tmp_path / 'va')!r}), Path({str(tmp_path / 'out')!r}), "
            "TrainOptions(imgsz=64, epochs=1, batch=4, width=0.125, act='relu6', device='cpu'))\n"
            "from ultralytics import YOLO\n"
            "m = YOLO(str(b)).model\n"
            "print(json.dumps({'best': str(b), 'params': sum(p.numel() for p in m.parameters()),\n"
            "                  'acts': sorted({type(x).__name__ for x in m.modules() if 'ReLU' in type(x).__name__\n"
            "                                  or 'SiLU' in type(x).__name__})}))")
    res = run_python(code)
    best = Path(res["best"])
    # width 0.125: the same graph as YOLOv8n-pose (4.3 M parameters at 51 points) with half the channels
    assert 1.5e6 < res["params"] < 2.5e6
    assert res["acts"] == ["ReLU6"]  # --act reaches every convolution
    assert best.exists()
    from facelm.eval.infer.artifact import describe

    assert describe(best).spec.kpt_shape == (51, 3)
    data = (tmp_path / "out" / "dataset" / "data.yaml").read_text()
    assert "flip_idx" in data and "kpt_shape" in data
    import json

    card = json.loads(best.with_suffix(".card.json").read_text())
    assert card["train"]["epochs"] == 1 and card["train"]["wall_seconds"] > 0
    assert card["train"]["selected"]["chose"] in ("best.pt", "last.pt")  # by the evaluator's NME
    assert card["train"]["data"] == "tr, 6 faces"
    assert "width 0.125" in card["architecture"] and "relu6" in card["architecture"]
    assert card["train"]["device"].startswith("CPU") and "amp off" in card["train"]["device"]
    assert card["val"]["faces"] == 6 and card["kpt_shape"] == [51, 3] and card["imgsz"] == [64, 64]
    # an untrained model on noise may find no face: then there is no NME to report, not a 0
    assert (card["val"]["nme"] is None) == (card["val"]["missed"] == 6)

    # a ReLU6 network goes through the whole chain: export, conversion, full integer, scoring
    from tests.conftest import run_cli

    code, _, err = run_cli("train", "--data", tmp_path / "tr", "--val-data", tmp_path / "va", "--device", "cpu",
                           "--resume", "--out", tmp_path / "out")
    assert code == 2 and "finished; nothing to resume" in err and "Traceback" not in err

    # --init starts from a checkpoint's weights, the keypoint head included (a 17-point default
    # head once dropped it): after one fine-tune epoch both ends are still close to the init's
    code = ("import json, torch\nfrom pathlib import Path\nfrom facelm.train.run import TrainOptions, train\n"
            f"b = train(Path({str(tmp_path / 'tr')!r}), Path({str(tmp_path / 'va')!r}), Path({str(tmp_path / 'ft')!r}), "
            f"TrainOptions(imgsz=64, epochs=1, batch=4, width=0.125, act='relu6', device='cpu', init=Path({str(best)!r}),"
            " optimizer='SGD', lr0=0.001, warmup_epochs=0, degrees=12.5, mosaic=0.0, scale=0.7,"
            " teacher=Path('models/face51_s.pt'), teacher_weight=0.7))\n"
            "ms = [torch.load(p, weights_only=False)['model'] for p in "
            f"(Path({str(best)!r}), b)]\n"
            "def corr(get):\n"
            "    return float(torch.corrcoef(torch.stack([get(m).float().flatten() for m in ms]))[0, 1])\n"
            "print(json.dumps({'first': corr(lambda m: m.model[0].conv.weight),\n"
            "                  'kpt_head': corr(lambda m: m.model[-1].cv4[0][2].weight)}))")
    corr = run_python(code)
    assert corr["first"] > 0.9 and corr["kpt_head"] > 0.9, corr
    import yaml

    ft_args = yaml.safe_load((tmp_path / "ft" / "run" / "args.yaml").read_text())
    assert (ft_args["optimizer"], ft_args["lr0"], ft_args["warmup_epochs"]) == ("SGD", 0.001, 0)
    assert (ft_args["degrees"], ft_args["mosaic"], ft_args["scale"]) == (12.5, 0.0, 0.7)
    ft_card = json.loads((tmp_path / "ft" / "run" / "weights" / "best.card.json").read_text())
    assert ft_card["train"]["device"].endswith("fliplr 0.5 with flip_idx, degrees 12.5, mosaic 0.0, scale 0.7")
    teach = ft_card["train"]["teacher"]  # distilled: the card says from what (noise holds no face to soften)
    assert (teach["checkpoint"], teach["weight"], teach["faces"]) == ("models/face51_s.pt", 0.7, 6)

    code, _, err = run_cli("compile", best, "--out", tmp_path / "build", "--targets", "tflite_int8", "--calib-data",
                           tmp_path / "tr", "--data", tmp_path / "va")
    assert code == 1 and "INT8 guard not judged (it saw 6 faces" in err, err[-2000:]  # 6 faces judge nothing
    code, out, err = run_cli("score", "--build", tmp_path / "build", "--data", tmp_path / "va", "--threads", "1",
                             "--latency-runs", "5", "--out", tmp_path / "scores")
    assert code == 0, err[-2000:]
    assert "int8-int8-io" in out


@pytest.mark.slow
def test_shape_levers_build_the_network_they_name_and_it_compiles(tmp_path):
    """--kpt-channels, --max-channels and --levels: the checkpoint holds that network (plain
    ultralytics modules, loadable by ultralytics alone), the card names the levers, and the
    two-level head goes through full integer and the shared decoder."""
    from tests.conftest import run_cli, run_python

    tr, va = _handful(tmp_path)
    code, _, err = run_cli("train", "--data", tr, "--val-data", va, "--device", "cpu", "--imgsz", "64", "--epochs", "1",
                           "--batch", "4", "--kpt-channels", "16", "--max-channels", "64", "--levels", "4,5",
                           "--out", tmp_path / "out")
    assert code == 0, err[-2000:]
    best = tmp_path / "out" / "run" / "weights" / "best.pt"
    code = ("import json, torch\nfrom ultralytics import YOLO\n"
            f"m = YOLO({str(best)!r}).model\nh = m.model[-1]\n"
            "convs = [x for x in m.modules() if isinstance(x, torch.nn.Conv2d)]\n"
            "print(json.dumps({'kpt': [b[0].conv.out_channels for b in h.cv4], 'strides': h.stride.tolist(),\n"
            "                  'widest': max(c.out_channels for c in convs if c not in [b[-1] for b in h.cv4]),\n"
            "                  'layers': len(m.model)}))")
    net = run_python(code)
    assert net["kpt"] == [16, 16] and net["strides"] == [16.0, 32.0] and net["widest"] <= 64, net
    assert net["layers"] == 23  # YOLOv8n-pose's 23 layers: levels 4,5 need every neck layer up to P5
    import json

    card = json.loads(best.with_suffix(".card.json").read_text())
    assert "kpt-channels 16, max-channels 64, levels 4,5" in card["architecture"]
    code, _, err = run_cli("compile", best, "--out", tmp_path / "build", "--targets", "tflite_int8", "--calib-data", tr,
                           "--data", va)
    assert code == 1 and "INT8 guard not judged (it saw 6 faces" in err, err[-2000:]  # 6 faces judge nothing
    code, out, err = run_cli("score", "--build", tmp_path / "build", "--data", va, "--no-latency",
                             "--out", tmp_path / "scores")
    assert code == 0 and "int8-int8-io" in out, err[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("arch,head", [("yolo11", "Pose"), ("yolo26", "Pose26")])
def test_every_family_trains_with_the_same_options_and_exports(arch, head, tmp_path):
    """--arch builds that family's network; --kpt-channels narrows its own keypoint layout (YOLO26:
    trunk, cv4_kpts and cv4_sigma); the card names the family; the checkpoint compiles."""
    from tests.conftest import run_cli, run_python

    tr, va = _handful(tmp_path)
    code, _, err = run_cli("train", "--data", tr, "--val-data", va, "--device", "cpu", "--imgsz", "64", "--epochs", "1",
                           "--batch", "4", "--arch", arch, "--width", "0.125", "--kpt-channels", "24",
                           "--out", tmp_path / "out")
    assert code == 0, err[-2000:]
    best = tmp_path / "out" / "run" / "weights" / "best.pt"
    net = run_python("import json\nfrom ultralytics import YOLO\n"
                     f"h = YOLO({str(best)!r}).model.model[-1]\n"
                     "print(json.dumps({'head': type(h).__name__, 'trunk': [b[1].conv.out_channels for b in h.cv4],\n"
                     "                  'kpts': [c.in_channels for c in getattr(h, 'cv4_kpts', None) or [b[-1] for b in h.cv4]]}))")
    assert net == {"head": head, "trunk": [24] * 3, "kpts": [24] * 3}, net
    import json

    arch_text = json.loads(best.with_suffix(".card.json").read_text())["architecture"]
    assert arch_text.startswith(f"{arch}n-pose.yaml") and "kpt-channels 24" in arch_text
    code, _, err = run_cli("compile", best, "--out", tmp_path / "build", "--targets", "onnx")
    assert code == 0, err[-2000:]


def test_split_c2f_is_c2f_tensor_for_tensor(tmp_path):
    """core.pruned.C2fSplit: the two halves of C2f's first convolution as two, same outputs."""
    import torch

    from facelm.core.pruned import C2fSplit, split_c2f
    from tests.tiny import make_tiny_pose

    model = torch.load(make_tiny_pose(tmp_path / "t.pt", 51, imgsz=64), weights_only=False)["model"].float().eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        before = model(x)[0]
        assert split_c2f(model) == 8 and sum(isinstance(m, C2fSplit) for m in model.modules()) == 8
        assert torch.equal(model(x)[0], before)


@pytest.mark.slow
def test_prune_then_fine_tune_keeps_the_pruned_network(tmp_path):
    """--prune cuts --init's channels with torch-pruning (the card says how much), the pruned
    network trains and compiles to full integer, and a second run from it keeps its shape."""
    from tests.conftest import run_cli, run_python
    from tests.tiny import make_tiny_pose

    tr, va = _handful(tmp_path)
    init = make_tiny_pose(tmp_path / "init.pt", 51, imgsz=64)
    args = ("--data", tr, "--val-data", va, "--device", "cpu", "--imgsz", "64", "--epochs", "1", "--batch", "4",
            "--width", "0.125")
    code, _, err = run_cli("train", *args, "--init", init, "--prune", "0.4", "--out", tmp_path / "p")
    assert code == 0, err[-2000:]
    best = tmp_path / "p" / "run" / "weights" / "best.pt"
    import json

    card = json.loads(best.with_suffix(".card.json").read_text())
    pr = card["train"]["pruned"]
    assert pr["ratio"] == 0.4 and pr["gflops_after"] < 0.6 * pr["gflops_before"] and "prune 0.4" in card["architecture"]
    count = ("import json, torch\nfrom facelm.core.pruned import C2fSplit\n"
             "m = torch.load({!r}, weights_only=False)['model']\n"
             "print(json.dumps({{'split': sum(isinstance(x, C2fSplit) for x in m.modules()),\n"
             "                  'params': sum(p.numel() for p in m.model[:-1].parameters()),\n"
             "                  'silu': sum(type(x).__name__ == 'SiLU' for x in m.modules()),\n"
             "                  'kpt': sorted({{b[1].conv.out_channels for b in m.model[-1].cv4}})}}))")
    pruned = run_python(count.format(str(best)))
    # a run from the pruned network keeps its shape; --act and a narrower --kpt-channels change
    # only the activations and the keypoint trunk, on the trained weights
    code, _, err = run_cli("train", *args, "--init", best, "--act", "relu", "--kpt-channels", "16",
                           "--out", tmp_path / "again")
    assert code == 0, err[-2000:]
    again_pt = tmp_path / "again" / "run" / "weights" / "best.pt"
    again = run_python(count.format(str(again_pt)))
    assert pruned["split"] == again["split"] == 8 and pruned["params"] == again["params"]
    assert pruned["silu"] > 0 and again["silu"] == 0 and pruned["kpt"][0] > 16 and again["kpt"] == [16]
    arch = json.loads(again_pt.with_suffix(".card.json").read_text())["architecture"]
    assert arch.endswith("prune 0.4, then relu, kpt-channels 16"), arch
    code, _, err = run_cli("compile", best, "--out", tmp_path / "build", "--targets", "tflite_int8", "--calib-data", tr,
                           "--data", va)
    assert code == 1 and "INT8 guard not judged (it saw 6 faces" in err, err[-2000:]  # 6 faces judge nothing


def test_shape_levers_bad_input(tmp_path):
    from tests.conftest import run_cli
    from facelm.train.run import TrainOptions
    from facelm.train.shape import apply_levels

    for bad, msg in (({"levels": "3,5"}, "consecutive"), ({"levels": "2,3"}, "has levels 3,4,5"),
                     ({"levels": "x"}, "expected pyramid levels"), ({"kpt_channels": 4}, "kpt-channels 4"),
                     ({"max_channels": 4096}, "max-channels 4096"), ({"arch": "yolov5"}, "yolov8, yolo11, yolo26"),
                     ({"prune": 1.5, "init": tmp_path}, "prune 1.5"), ({"prune": 0.3}, "of the network --init names")):
        with pytest.raises(ValueError, match=msg):
            TrainOptions(**bad)
    assert TrainOptions(levels="5,4").levels == (4, 5)
    cfg = {"head": [["a"], ["b"], ["c"], ["d"], ["e"], ["f"], [[15, 18, 21], 1, "Pose", ["nc", "kpt_shape"]]]}
    apply_levels(cfg, (3, 4))  # the layers that only fed P5 go with it
    assert cfg["head"] == [["a"], ["b"], ["c"], [[15, 18], 1, "Pose", ["nc", "kpt_shape"]]]
    code, _, err = run_cli("train", "--data", tmp_path, "--val-data", tmp_path, "--levels", "3,6", "--out", tmp_path / "o")
    assert code == 2 and "levels '3,6'" in err and "Traceback" not in err and not (tmp_path / "o").exists()


def test_device_resolution(monkeypatch):
    import torch

    from facelm.core.errors import UserError
    from facelm.train.device import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    d = resolve_device("auto")
    assert (d.spec, d.workers, d.amp) == ("cpu", 0, False) and d.describe.startswith("CPU")
    with pytest.raises(UserError, match="no CUDA device is visible"):
        resolve_device("0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"GPU{i}")
    d = resolve_device("auto")
    assert (d.spec, d.workers, d.amp) == ("0", 6, True) and "GPU0" in d.describe
    assert resolve_device("0,1", workers=2).spec == "0,1" and resolve_device("0,1", workers=2).workers == 2
    assert resolve_device("cpu").spec == "cpu"
    with pytest.raises(UserError, match="only 2 CUDA"):
        resolve_device("2")
    with pytest.raises(UserError, match="expected auto, cpu"):
        resolve_device("gpu")


def test_train_bad_device_activation_and_resume(tmp_path):
    import torch

    from tests.conftest import run_cli

    (tmp_path / "d").mkdir()
    if not torch.cuda.is_available():
        code, _, err = run_cli("train", "--data", tmp_path / "d", "--val-data", tmp_path / "d", "--device", "0")
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        assert code == 2 and "no CUDA device is visible" in lines[-1] and "Traceback" not in err
    code, _, err = run_cli("train", "--data", tmp_path / "d", "--val-data", tmp_path / "d", "--act", "gelu")
    assert code == 2 and "relu6" in err  # the choices are listed
    code, _, err = run_cli("train", "--data", tmp_path / "d", "--val-data", tmp_path / "d", "--init", tmp_path / "no.pt")
    assert code == 2 and "no.pt" in err and "does not exist" in err
    code, _, err = run_cli("train", "--data", tmp_path / "d", "--val-data", tmp_path / "d", "--lr0", "0.002")
    assert code == 2 and "give a named optimizer" in err and "Traceback" not in err
    code, _, err = run_cli("train", "--data", tmp_path / "d", "--val-data", tmp_path / "d", "--mosaic", "1.5")
    assert code == 2 and "mosaic 1.5" in err and "0..1" in err and "Traceback" not in err
    code, _, err = run_cli("train", "--data", tmp_path / "d", "--val-data", tmp_path / "d", "--device", "cpu", "--resume",
                           "--out", tmp_path / "o")
    assert code == 2 and "nothing to resume" in err


def test_best_checkpoint_is_picked_by_landmark_error(tmp_path, monkeypatch):
    """ultralytics' best.pt (box + pose mAP) gives way to last.pt when last.pt's NME is lower."""
    from types import SimpleNamespace

    import facelm.train.card as card

    w = tmp_path / "weights"
    w.mkdir()
    (w / "best.pt").write_bytes(b"fitness pick")
    (w / "last.pt").write_bytes(b"last epoch")
    nme = {b"fitness pick": 4.764, b"last epoch": 4.711}
    monkeypatch.setattr(card, "_evaluate", lambda p, val, progress=False: SimpleNamespace(
        nme=nme[p.read_bytes()], n_missed=0))
    best, summary, why = card.pick_by_nme(w, tmp_path)
    assert best == w / "best.pt" and best.read_bytes() == b"last epoch" and summary.nme == 4.711
    assert (w / "best_fitness.pt").read_bytes() == b"fitness pick"
    assert why["chose"] == "last.pt" and why["best.pt"]["nme"] == 4.764 and why["last.pt"]["nme"] == 4.711

    # fewer missed faces come before a lower NME (NME counts only the faces found)
    for f in w.iterdir():
        f.unlink()
    (w / "best.pt").write_bytes(b"fitness pick")
    (w / "last.pt").write_bytes(b"last epoch")
    missed = {b"fitness pick": 4, b"last epoch": 2}
    nme = {b"fitness pick": 6.185, b"last epoch": 6.280}
    monkeypatch.setattr(card, "_evaluate", lambda p, val, progress=False: SimpleNamespace(
        nme=nme[p.read_bytes()], n_missed=missed[p.read_bytes()]))
    best, summary, why = card.pick_by_nme(w, tmp_path)
    assert best.read_bytes() == b"last epoch" and why["chose"] == "last.pt" and why["last.pt"]["missed"] == 2
    missed = {b"fitness pick": 0, b"last epoch": 0}

    # the other way round, a tie, or an unscorable last epoch: ultralytics' pick stays
    for best_nme, last_nme in ((4.6, 4.7), (4.7, 4.7), (4.7, float("nan"))):
        for f in w.iterdir():
            f.unlink()
        (w / "best.pt").write_bytes(b"fitness pick")
        (w / "last.pt").write_bytes(b"last epoch")
        nme = {b"fitness pick": best_nme, b"last epoch": last_nme}
        best, summary, why = card.pick_by_nme(w, tmp_path)
        assert best.read_bytes() == b"fitness pick" and why["chose"] == "best.pt"
        assert not (w / "best_fitness.pt").exists()


def test_a_pruned_keypoint_trunk_only_narrows(tmp_path):
    """reshape_pruned: --kpt-channels at or above the trunk's width is a one-line ValueError
    before any layer changes; below it, every level's trunk narrows and the network still runs."""
    import torch

    from tests.tiny import make_tiny_pose
    from facelm.train.prune import reshape_pruned

    model = torch.load(make_tiny_pose(tmp_path / "t.pt", 51, imgsz=64), weights_only=False)["model"].float()
    width = model.model[-1].cv4[0][1].conv.out_channels
    with pytest.raises(ValueError, match=f"kpt-channels {width}: .* {width} wide already"):
        reshape_pruned(model, None, width)
    assert {b[1].conv.out_channels for b in model.model[-1].cv4} == {width}
    assert reshape_pruned(model, "nn.ReLU()", 8) == {"activation": "nn.ReLU()", "kpt_channels": 8}
    assert {b[1].conv.out_channels for b in model.model[-1].cv4} == {8}
    model.eval()(torch.zeros(1, 3, 64, 64))


def test_keep_levels_cuts_the_head_and_neck_tensor_for_tensor(tmp_path):
    """--levels on a built network (a pruned --init has no YAML to rebuild): the kept levels'
    outputs are the full network's own, anchor for anchor; a dropped top level takes the neck
    layers that fed only it; a level the network lacks is one clear error."""
    import torch

    from tests.tiny import make_tiny_pose
    from facelm.train.shape import keep_levels

    full = torch.load(make_tiny_pose(tmp_path / "t.pt", 51, imgsz=64), weights_only=False)["model"].float().eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        ref = full(x)[0]  # decoded [1, 4 + 1 + 153, 8x8 + 4x4 + 2x2 anchors]
        for levels, anchors, layers in (((4, 5), slice(64, 84), len(full.model)), ((3, 4), slice(0, 80), len(full.model) - 3)):
            m = torch.load(tmp_path / "t.pt", weights_only=False)["model"].float().eval()
            keep_levels(m, levels)
            assert len(m.model) == layers and m.model[-1].stride.tolist() == [2.0 ** lv for lv in levels]
            assert torch.allclose(m(x)[0], ref[..., anchors], atol=1e-5)
    with pytest.raises(ValueError, match="has levels 3,4"):
        keep_levels(m, (4, 5))


def test_teacher_soft_targets_move_the_model_points_only(faces, tmp_path):
    """train --teacher: each training face the teacher finds gets weight x its landmarks +
    (1 - weight) x the label on the model's 51 points, the jaw untouched; the labels written for
    ultralytics carry them; validation keeps its annotations; a wrong teacher is one line."""
    import json

    from facelm.core.errors import UserError
    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.defaults import MODELS
    from facelm.eval.metrics.evaluate import evaluate_path
    from facelm.eval.data.landmarks import canonical_indices
    from tests.conftest import run_cli
    from tests.tiny import make_tiny_pose
    from facelm.train.teacher import soft_targets
    from facelm.train.yolo_data import build_yolo_dataset

    for split in ("tr", "va"):
        (tmp_path / split).mkdir()
        for img in sorted((faces / "afw").glob("*.jpg"))[:5]:
            for f in (img, img.with_suffix(".pts")):
                (tmp_path / split / f.name).symlink_to(f)
    teacher = MODELS["face51-s"]
    ds = load_dataset(tmp_path / "tr")
    pred = evaluate_path(teacher, ds)
    full, report = soft_targets(ds, teacher, 51, 1.0, progress=False)
    half, _ = soft_targets(ds, teacher, 51, 0.5, progress=False)
    ids = list(canonical_indices(51))
    jaw = [i for i in range(68) if i not in ids]
    n = 0
    for s, f1, fh in zip(ds.samples, full.samples, half.samples):
        for gi, pi, _ in pred.matches[str(s.image)]:
            label, mine = s.faces[gi], pred.predictions[str(s.image)][pi].points
            assert np.allclose(f1.faces[gi][ids], mine) and np.allclose(fh.faces[gi][ids], (label[ids] + mine) / 2)
            assert np.array_equal(f1.faces[gi][jaw], label[jaw])
            n += 1
    assert n == report["faces_softened"] >= 5 and report["faces"] >= n and report["mean_shift_px"] > 0
    data = build_yolo_dataset(tmp_path / "tr", tmp_path / "va", tmp_path / "ds", 51, teacher=(teacher, 1.0))
    assert json.loads((data.parent / "teacher.json").read_text())["faces_softened"] == n
    s0 = full.samples[0]
    w, h = cv2.imread(str(s0.image)).shape[1::-1]
    row = [float(v) for v in (data.parent / "labels" / "train" / s0.image.with_suffix(".txt").name).read_text().split("\n")[0].split()]
    assert np.allclose(np.array(row[5:]).reshape(51, 3)[:, :2] * [w, h], s0.faces[0][ids], atol=1e-3)
    val_row = (data.parent / "labels" / "val" / s0.image.with_suffix(".txt").name).read_text().split("\n")[0]
    assert val_row.split()[5:] != [f"{v:.6f}" if i % 3 < 2 else "2" for i, v in enumerate(row[5:])]  # the label's own
    with pytest.raises(UserError, match="predicts 68 points, the student 51"):
        soft_targets(ds, make_tiny_pose(tmp_path / "t68.pt", 68, imgsz=64), 51, 0.5)
    (tmp_path / "notes.pt").write_text("not a model")
    for bad, msg in ((("--teacher", tmp_path / "notes.pt"), "not a pose model"),
                     (("--teacher", teacher, "--teacher-weight", "0"), "teacher-weight 0.0")):
        code, _, err = run_cli("train", "--data", tmp_path / "tr", "--val-data", tmp_path / "va", *bad, "--out", tmp_path / "o")
        assert code == 2 and msg in err and "Traceback" not in err and not (tmp_path / "o").exists(), err[-500:]
