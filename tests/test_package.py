"""Submission packages: contents, and verification in a fresh venv with no network."""
import shutil
import zipfile

import pytest

from compiler.package import build_package, third_party_imports
from compiler.package_verify import SubmissionError, verify_package

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    from eval.datasets import load_dataset
    from eval.defaults import default_eval_data

    return [s.image for s in load_dataset(default_eval_data()).samples][:4]


@pytest.fixture()
def package(tiny_build, tmp_path):
    out, _ = tiny_build
    return build_package(out, tmp_path / "submission")


def test_package_contents(package):
    names = {p.name for p in package.iterdir()}
    assert {"model.tflite", "run_model.py", "requirements.txt", "model.json", "vendor"} <= names
    req = package.joinpath("requirements.txt").read_text().split()
    assert sorted(r.split("==")[0] for r in req) == ["ai-edge-litert", "numpy", "opencv-python-headless"]
    assert third_party_imports([package / "run_model.py"]) == set()  # everything else is vendored
    with zipfile.ZipFile(package.with_suffix(".zip")) as z:
        assert "run_model.py" in z.namelist() and "model.tflite" in z.namelist()
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    assert (package / "vendor/eval/decode.py").read_text() == (repo / "eval/decode.py").read_text()
    assert "int8" in package.joinpath("model.json").read_text()


def test_verify_passes_and_matches_evaluator(package, images):
    r = verify_package(package, images)
    assert r["images"] == len(images) and r["max_px_diff"] <= 0.5


@pytest.mark.parametrize("which", ["int8", "fp32"])
def test_verify_on_a_trained_model_compares_real_landmarks(default_build, tmp_path, images, which):
    pkg = build_package(default_build, tmp_path / "sub", f"tflite_{which}")
    r = verify_package(pkg, images)
    assert r["faces"] >= len(images) - 1 and r["max_px_diff"] <= 0.5


def test_missing_model_fails(package, images):
    (package / "model.tflite").unlink()
    with pytest.raises(SubmissionError, match="model file missing"):
        verify_package(package, images)


def test_missing_requirement_fails(package, images):
    req = package / "requirements.txt"
    req.write_text("\n".join(ln for ln in req.read_text().splitlines() if "opencv" not in ln) + "\n")
    with pytest.raises(SubmissionError, match="cv2"):
        verify_package(package, images)


def test_broken_import_fails(package, images):
    run = package / "run_model.py"
    run.write_text(run.read_text().replace("from eval.writer import", "from eval.writers import"))
    with pytest.raises(SubmissionError, match="eval.writers"):
        verify_package(package, images)


def test_package_from_missing_build_is_an_error(tmp_path):
    from core.errors import UserError

    with pytest.raises(UserError, match="no such build"):
        build_package(tmp_path / "none", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    shutil.rmtree(tmp_path, ignore_errors=True)
