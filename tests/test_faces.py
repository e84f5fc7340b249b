"""Where compile's INT8 faces come from: --calib-data/--data, the checkpoint's own training data,
the shared faces; with none, a refusal before anything is made; and a guard on too few faces is
never "ok"."""
import json
import os
from pathlib import Path

import pytest

from tests.conftest import cli_here, run_cli

NO_SHARED = {"FACELM_DATA": "/nonexistent/faces"}


def _pts_subset(src: Path, dst: Path, n: int) -> Path:
    """The first n annotated faces of a .pts folder, linked (never copied) into dst."""
    dst.mkdir(parents=True)
    for pts in sorted(src.glob("*.pts"))[:n]:
        img = next(p for p in (pts.with_suffix(e) for e in (".jpg", ".png")) if p.exists())
        for f in (pts, img):
            if not (dst / f.name).exists():
                os.symlink(f, dst / f.name)
    return dst


@pytest.fixture(scope="module")
def trained_on(faces, tiny51, tmp_path_factory):
    """tiny51 re-saved as if trained on a YOLO dataset on disk (12 HELEN faces to train, 60 AFW
    faces to validate), as `facelm train` leaves one."""
    import torch

    from facelm.train.yolo_data import build_yolo_dataset

    root = tmp_path_factory.mktemp("trained")
    yaml = build_yolo_dataset(_pts_subset(faces / "helen_train", root / "tr", 12),
                              _pts_subset(faces / "afw", root / "va", 60), root / "dataset")
    ckpt = torch.load(tiny51, weights_only=False)
    ckpt["train_args"] = {**ckpt["train_args"], "data": str(yaml)}
    torch.save(ckpt, root / "mine.pt")
    return root / "mine.pt", yaml


def test_compile_faces_order(tmp_path, monkeypatch):
    from facelm.eval.defaults import compile_faces

    monkeypatch.setenv("FACELM_DATA", str(tmp_path / "none"))
    assert compile_faces() == compile_faces(None, None, str(tmp_path / "gone.yaml"))
    assert compile_faces().calib is None and compile_faces().guard is None
    a, b = tmp_path / "a", tmp_path / "b"
    f = compile_faces(a, b, None)
    assert (f.calib, f.guard, f.calib_from, f.guard_from) == (a, b, "--calib-data", "--data")
    f = compile_faces(None, b, None)  # one given alone serves both, and says so
    assert f.calib == f.guard == b and "as no calibration faces were found" in f.calib_from
    (tmp_path / "none" / "afw").mkdir(parents=True)
    f = compile_faces(None, b, None)
    assert f.guard == b and f.calib == tmp_path / "none" / "helen_train" and f.calib_from == "the shared faces"


def test_int8_with_no_faces_is_refused_before_anything_is_made(tiny51, tmp_path):
    out = tmp_path / "b"
    code, _, err = cli_here("compile", tiny51, "--out", out, env=NO_SHARED)
    assert code == 2 and str(tiny51) in err and "need faces like the ones the model will meet" in err, err
    assert "the checkpoint names no training data" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    # the float artifacts need no faces of the user's domain
    code, _, err = cli_here("compile", tiny51, "--out", out, "--targets", "tflite_fp32", env=NO_SHARED)
    assert code == 0, err[-2000:]


def test_compile_calibrates_on_the_checkpoints_training_data(trained_on, tmp_path):
    ckpt, yaml = trained_on
    out = tmp_path / "b"
    code, _, err = run_cli("compile", ckpt, "--out", out, "--targets", "tflite_int8", "--calib-images", "8",
                           env=NO_SHARED)
    assert code == 0, err[-2000:]
    assert f"the checkpoint's training data, {yaml}: train split" in err
    m = json.loads((out / "mine_int8.tflite.json").read_text())
    root = yaml.parent
    assert (m["options"]["calib_data"], m["options"]["verify_data"]) == (str(root / "images" / "train"),
                                                                         str(root / "images" / "val"))
    from facelm.eval.data.datasets import load_dataset

    val = load_dataset(root / "images" / "val")  # the split folder reads as labelled faces
    assert val.labelled and m["report"]["guard"]["faces"] == sum(len(s.faces) for s in val.samples) >= 60
    assert m["report"]["guard"]["judged"] is True
    assert m["report"]["guard"]["attempts"][0]["calibration_images"] == 8


def test_a_guard_on_few_faces_is_not_judged(trained_on, faces, tmp_path):
    ckpt, yaml = trained_on
    few = _pts_subset(faces / "afw", tmp_path / "few", 6)
    out = tmp_path / "b"
    code, stdout, err = run_cli("compile", ckpt, "--out", out, "--targets", "tflite_int8", "--calib-images", "8",
                                "--data", few, env=NO_SHARED)
    assert code == 1 and "INT8 guard not judged (it saw 6 faces; at least 50 are needed" in err, err[-2000:]
    assert "NOT JUDGED on 6 faces" in stdout and " ok" not in stdout
    m = json.loads((out / "mine_int8.tflite.json").read_text())
    # --data is the guard's; calibration still comes from the checkpoint's training data
    assert m["options"]["verify_data"] == str(few)
    assert m["options"]["calib_data"] == str(yaml.parent / "images" / "train")


def test_the_guard_chooses_on_one_half_and_confirms_on_the_other():
    """Every other image chooses, the rest confirm, when each half holds MIN_GUARD_FACES faces;
    fewer, and the same faces do both (the guard then says nothing of held-out faces)."""
    import numpy as np

    from facelm.compiler.guard import MIN_GUARD_FACES, faces_judged, halves
    from facelm.eval.data.datasets import Dataset, Sample

    face = np.zeros((68, 2))
    ds = Dataset("f", Path("."), [Sample(Path(f"{i}.jpg"), (face,)) for i in range(2 * MIN_GUARD_FACES + 1)], 68)
    a, b = halves(ds)
    assert faces_judged(a) == MIN_GUARD_FACES + 1 and faces_judged(b) == MIN_GUARD_FACES
    assert not {s.image for s in a.samples} & {s.image for s in b.samples} and a.name != b.name
    ds.samples = ds.samples[:2 * MIN_GUARD_FACES - 1]
    assert halves(ds) == (ds, None)


@pytest.mark.shared_data
def test_the_built_in_models_guard_records_its_held_out_half(default_build):
    from facelm.core.files import read_manifest

    g = read_manifest(default_build / f"{default_build.name}_int8.tflite")["report"]["guard"]
    assert g["faces"] == 337 and g["chosen_on"] == 169 and g["held_out"]["faces"] == 168
    assert g["passed"] == (g["held_out"]["passed"] and any(a["passed"] for a in g["attempts"]))
    assert g["held_out"]["child_nme"] <= 1.03 * g["held_out"]["parent_nme"]
