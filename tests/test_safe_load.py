"""Files from elsewhere are data: a .pt naming code to run is refused before any of it runs, every
real checkpoint still loads weights-only, ONNX files cannot make facelm read outside their folder."""
from __future__ import annotations

import builtins
import os
import pickle

import pytest

from facelm.core.errors import UserError
from facelm.core.safe_load import (TRUST_ENV, RefusedFileError, check_checkpoint, check_onnx, checkpoint_globals,
                            load_checkpoint_dict, load_mode)
from tests.conftest import ROOT, cli_here, run_python
from tests.tiny import make_tiny_pose


class _System:
    """A pickle that runs os.system while it is read."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Exec:
    """A pickle that runs builtins.exec while it is read."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.exec, (f"open({self.marker!r}, 'w').write('x')",)


@pytest.fixture(scope="module")
def evil(tmp_path_factory, tiny51):
    """{name: (file, marker)}: the two payloads alone, and one hidden as an extra key of a real
    pose checkpoint (everything else about it is a checkpoint every check passes)."""
    import torch

    d = tmp_path_factory.mktemp("evil")
    out = {}
    for name, payload in (("system", _System), ("exec", _Exec)):
        marker = d / f"PWNED_{name}"
        torch.save(payload(marker), d / f"{name}.pt")
        out[name] = (d / f"{name}.pt", marker)
    ck = torch.load(tiny51, weights_only=False)
    ck["extra"] = _System(d / "PWNED_hidden")
    torch.save(ck, d / "hidden.pt")
    out["hidden"] = (d / "hidden.pt", d / "PWNED_hidden")
    return out


def _cli(*args):
    """The CLI in process, its trust switch restored afterwards: (exit code, all it printed)."""
    code, out, err = cli_here(*args)
    return code, out + err


@pytest.mark.parametrize("name", ["system", "exec", "hidden"])
def test_malicious_pickles_run_nothing(evil, name, tmp_path):
    path, marker = evil[name]
    images = tmp_path / "images"
    images.mkdir()
    commands = [("score", path, "--latency-runs", "0", "--out", tmp_path / "s"),
                ("compile", path, "--out", tmp_path / "c"),
                ("predict", path, "--data", images, "--out", tmp_path / "p"),
                ("train", "--data", images, "--val-data", images, "--init", path, "--out", tmp_path / "t"),
                ("sweep", path, "--imgsz", "64", "--precision", "fp32", "--out", tmp_path / "w")]
    for cmd in commands:
        code, out = _cli(*cmd)
        lines = [ln for ln in out.splitlines() if ln.strip()]
        assert code == 2, (cmd[0], out)
        assert len(lines) == 1 and lines[0].startswith("error:") and path.name in lines[0], (cmd[0], out)
        assert "refused" in lines[0] and "--trust-checkpoint" in lines[0], lines[0]
        expected = "exec" if name == "exec" else "system"
        assert expected in lines[0], lines[0]  # the global it asked for, by name
        assert not marker.exists(), f"{cmd[0]} ran the pickle's code"
        assert not any((tmp_path / d).exists() for d in "scptw"), f"{cmd[0]} wrote before refusing"


def test_allow_list_holds_the_pose_layers_and_nothing_that_runs():
    from facelm.core.allowlist import allowed_globals

    allowed = allowed_globals()
    for name in ("ultralytics.nn.tasks.PoseModel", "ultralytics.nn.modules.head.Pose",
                 "ultralytics.nn.modules.head.Pose26", "ultralytics.nn.modules.block.C2PSA",
                 "ultralytics.nn.modules.block.C3k2", "core.pruned.C2fSplit", "facelm.core.pruned.C2fSplit",
                 "torch.nn.modules.conv.Conv2d",
                 "ultralytics.utils.IterableSimpleNamespace", "numpy.core.multiarray.scalar"):
        assert name in allowed, name
    assert not any(n.startswith(("os.", "posix.", "builtins.exec", "subprocess.", "ultralytics.nn.tasks.Detection"))
                   for n in allowed)
    assert "ultralytics.nn.modules.block.TorchVision" not in allowed  # builds a torchvision model, may download
    assert all(isinstance(obj, type) for n, obj in allowed.items() if not n.endswith("multiarray.scalar"))


def test_first_global_is_named_in_order(tmp_path):
    import torch

    p = tmp_path / "two.pt"
    torch.save({"a": _Exec(tmp_path / "x"), "b": _System(tmp_path / "y")}, p)
    names = checkpoint_globals(p)
    assert names.index("__builtin__.exec") < names.index("posix.system") or "nt.system" in names
    with pytest.raises(RefusedFileError, match="asks for __builtin__.exec"):
        check_checkpoint(p)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_trusted_checkpoint_loads_with_full_pickle_and_says_so(evil, tmp_path, monkeypatch):
    path, marker = evil["hidden"]
    monkeypatch.setenv(TRUST_ENV, "1")
    assert load_mode().startswith("trusted")
    ck = load_checkpoint_dict(path)
    assert marker.exists() and "model" in ck  # full pickle ran it: what the user vouched for
    monkeypatch.delenv(TRUST_ENV)
    assert load_mode() == "weights-only"


@pytest.mark.parametrize("family", ["yolov8", "yolo11", "yolo26"])
def test_every_family_loads_weights_only(family, tmp_path):
    """A checkpoint as ultralytics' trainer writes it (train args, numpy metrics, optimizer
    state): every global it names is on the allow-list, and the model loads through it."""
    import numpy as np
    import torch

    from facelm.core.checkpoint import load_pose_checkpoint

    p = make_tiny_pose(tmp_path / f"{family}.pt", 51, imgsz=64, family=family)
    ck = torch.load(p, weights_only=False)
    # an SGD state_dict's layout (torch.optim itself imports torch._dynamo, which crashes a
    # process that has loaded TensorFlow, as the compile tests do)
    params = list(ck["model"].parameters())
    optimizer = {"state": {i: {"momentum_buffer": torch.zeros_like(t)} for i, t in enumerate(params)},
                 "param_groups": [{"lr": 0.01, "momentum": 0.9, "params": list(range(len(params)))}]}
    ck.update(ema=ck["model"], optimizer=optimizer, train_metrics={"fitness": np.float64(0.5)},
              train_results={"epoch": [np.int64(1)]}, date="2026-12-07", version="8.4.190")
    torch.save(ck, p)
    check_checkpoint(p)
    model, info = load_pose_checkpoint(p)
    assert info.kpt_shape == (51, 3) and info.imgsz == (64, 64)


def test_builtin_models_load_weights_only():
    """Every built-in model, the pruned face51-xs (facelm's own C2fSplit layer) included."""
    import torch

    from facelm.core.checkpoint import load_pose_checkpoint

    for p in sorted((ROOT / "models").glob("*.pt")):
        names = check_checkpoint(p)
        assert "ultralytics.nn.tasks.PoseModel" in names
        model, info = load_pose_checkpoint(p)
        full = torch.load(p, weights_only=False)["model"]
        assert sum(t.numel() for t in full.state_dict().values()) > 0 and info.kpt_shape == (51, 3)


def test_ultralytics_own_save_loads(tmp_path):
    """YOLO(...).save() of every family: ultralytics' own checkpoint layout."""
    from facelm.core.checkpoint import load_pose_checkpoint

    out = tmp_path / "own"
    run_python(
        "import json, sys; sys.path.insert(0, '.')\n"
        "from facelm.core.offline import prepare; prepare()\n"
        "from ultralytics import YOLO\n"
        "for f in ('yolov8n-pose.yaml', 'yolo11n-pose.yaml', 'yolo26n-pose.yaml'):\n"
        f"    YOLO(f, task='pose').save({str(out)!r} + '_' + f.split('-')[0] + '.pt')\n"
        "print(json.dumps({}))")
    for fam in ("yolov8n", "yolo11n", "yolo26n"):
        model, info = load_pose_checkpoint(tmp_path / f"own_{fam}.pt", 64)
        assert info.kpt_shape == (17, 3)


def test_other_task_refused_before_anything_is_rebuilt(tmp_path, monkeypatch):
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from facelm.core.checkpoint import load_pose_checkpoint
    from facelm.train.run import scaled_config

    det = tmp_path / "det.pt"
    torch.save({"model": DetectionModel(scaled_config(0.125, "yolov8n.yaml"), nc=1, verbose=False).half()}, det)

    def no_unpickling(*a, **k):
        raise AssertionError("the file was unpickled")

    monkeypatch.setattr(torch, "load", no_unpickling)
    with pytest.raises(UserError, match="not a pose model"):
        load_pose_checkpoint(det)


@pytest.mark.parametrize("content,words", [(b"PK\x03\x04 not a zip", "not a readable"),
                                           (b"", "not a readable"),
                                           (pickle.dumps({"a": 1}), "not a readable")])
def test_unreadable_files_keep_their_one_line(tmp_path, content, words):
    p = tmp_path / "bad.pt"
    p.write_bytes(content)
    with pytest.raises(UserError, match=words):
        check_checkpoint(p)


def test_zip_that_is_not_a_checkpoint(tmp_path):
    import zipfile

    p = tmp_path / "notes.pt"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("notes.txt", "hello")
    with pytest.raises(UserError, match="not a readable ultralytics checkpoint"):
        check_checkpoint(p)


def _onnx_with_external(folder, location):
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    w = numpy_helper.from_array(np.ones((1, 3, 8, 8), np.float32), "w")
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 3, 8, 8])], [w])
    m = helper.make_model(g)
    w = m.graph.initializer[0]
    w.ClearField("raw_data")
    w.data_location = onnx.TensorProto.EXTERNAL
    e = w.external_data.add()
    e.key, e.value = "location", location
    path = folder / "m.onnx"
    path.write_bytes(m.SerializeToString())
    return path


def test_onnx_external_data_outside_its_folder_is_refused(tmp_path):
    (tmp_path / "secret").write_bytes(b"\0" * 4 * 192)
    inner = tmp_path / "model"
    inner.mkdir()
    for where in ("../secret", str(tmp_path / "secret")):
        path = _onnx_with_external(inner, where)
        with pytest.raises(RefusedFileError, match="outside the model's folder"):
            check_onnx(path)
        code, out = _cli("score", path, "--latency-runs", "0", "--out", tmp_path / "s")
        assert code == 2 and "outside the model's folder" in out and not (tmp_path / "s").exists(), out
    (inner / "w.bin").write_bytes(b"\0" * 4 * 192)
    check_onnx(_onnx_with_external(inner, "w.bin"))  # beside the model: ONNX's own layout, accepted


def test_data_yaml_runs_nothing(tmp_path):
    """ultralytics' data YAMLs may carry a `download:` script; facelm reads the YAML as data."""
    marker = tmp_path / "PWNED"
    y = tmp_path / "faces.yaml"
    y.write_text(f"path: {tmp_path / 'nowhere'}\nval: images\nkpt_shape: [51, 3]\n"
                 f"download: |\n  import os; os.system('touch {marker}')\n")
    code, out = _cli("score", ROOT / "models" / "face51_xs.pt", "--data", y, "--latency-runs", "0",
                     "--out", tmp_path / "s")
    assert code != 0, out  # nothing to score there
    assert not marker.exists()


def test_score_checks_only_the_files_it_opens(tiny_build, faces, monkeypatch):
    """A one-runtime run (tox -e tflite has no onnx and no torch) reads no other file's pickle or
    graph: the check follows the jobs, not the folder."""
    import facelm.core.safe_load as sl
    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.scoring import ScoreOptions, find_artifacts, score_paths

    out, _ = tiny_build
    checked = []
    monkeypatch.setattr(sl, "check_onnx", checked.append)
    monkeypatch.setattr(sl, "check_checkpoint", checked.append)
    opts = ScoreOptions(max_images=2, time_latency=False, progress=False)
    rows = score_paths(find_artifacts(out), load_dataset(faces / "afw"), opts, ("tflite",))
    assert rows and all(r.runtime == "tflite" for r in rows) and checked == []
    score_paths([out / "tiny51.sim.onnx"], load_dataset(faces / "afw"), opts, ("onnxruntime",))
    assert [p.name for p in checked] == ["tiny51.sim.onnx"]
