"""Version ranges: one source (core/ranges.py) for setup.py and the run-time checks; a runtime older
than its range refused before anything is written; onnx2tf patches that stand aside under a
release they were not written for, with the converter's own output still checked."""
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_here


def _older(monkeypatch, name: str, version: str):
    import facelm.core.versions as versions

    real = versions.installed
    monkeypatch.setattr(versions, "installed", lambda n: version if n == name else real(n))


def test_setup_reads_the_ranges_and_admits_newer_pythons():
    import runpy

    from facelm.core.ranges import REQUIRES

    text = (ROOT / "setup.py").read_text()
    assert 'python_requires=">=3.11"' in text
    assert runpy.run_path(str(ROOT / "core" / "ranges.py"))["REQUIRES"] == REQUIRES
    lock = dict(ln.split("==") for ln in (ROOT / "requirements.lock").read_text().splitlines()
                if "==" in ln and not ln.startswith("#"))
    lock = {k.lower().replace("_", "-"): v for k, v in lock.items()}
    from packaging.specifiers import SpecifierSet

    for name, spec in REQUIRES.items():  # the lock is inside every range
        assert lock[name.lower()] in SpecifierSet(spec), (name, lock[name.lower()], spec)
        assert re.fullmatch(r">=[\d.]+(,<[\d.]+)?", spec), spec  # a tested floor, at most one ceiling


@pytest.mark.parametrize("name", ["onnxruntime", "ai-edge-litert", "onnx2tf"])
def test_a_runtime_older_than_its_range_is_refused_before_anything_is_written(name, tiny51, tmp_path,
                                                                                 monkeypatch):
    _older(monkeypatch, name, "1.0.0")
    out = tmp_path / "b"
    code, _, err = cli_here("compile", tiny51, "--out", out, "--targets", "onnx")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{name} 1.0.0 is installed; facelm needs {name}>=" in err and not out.exists()


def test_score_checks_its_runtimes(default_model, faces, tmp_path, monkeypatch):
    _older(monkeypatch, "onnxruntime", "1.16.3")
    code, _, err = cli_here("score", default_model, "--data", faces / "afw", "--no-latency", "--max-images", "2",
                            "--out", tmp_path / "s")
    assert code == 2 and "onnxruntime 1.16.3 is installed; facelm needs onnxruntime>=1.23.0" in err, err
    assert not (tmp_path / "s").exists()


def test_onnx2tf_patches_stand_aside_under_another_release(tiny51, tmp_path, monkeypatch, capsys):
    """Under an onnx2tf the patches were not written for, each says so once and onnx2tf converts
    alone; the float check still holds the file to the ONNX graph."""
    import facelm.compiler.onnx2tf_adds as adds
    import facelm.core.versions as versions

    monkeypatch.setattr(versions, "within", lambda name, spec: False)
    monkeypatch.setattr(adds, "_SAID", set())
    from facelm.compiler.pipeline import CompileOptions, compile_checkpoint

    res = compile_checkpoint(tiny51, tmp_path / "b", CompileOptions(targets=("tflite_fp32",), verify_images=4),
                             progress=False)
    err = capsys.readouterr().err
    assert not [r for r in res if r.failed], [(r.stage, r.failed) for r in res]
    said = [ln for ln in err.splitlines() if "is not applied" in ln]
    assert len(said) == 3 and all(ln.startswith("onnx2tf ") and "onnx2tf>=1.29,<1.30" in ln for ln in said), err
    for patch in ("channels-last Add correction", "attention products as sums", "symbolic-rank shortcut"):
        assert sum(patch in ln for ln in said) == 1, (patch, err)
    fp32 = next(r for r in res if r.stage == "tflite_fp32")
    assert max(v for v in fp32.report["max_abs_diff"].values() if v is not None) < 1e-3
    assert Path(fp32.path).is_file()
