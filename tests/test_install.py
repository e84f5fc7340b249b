"""The package as users install it: a wheel built from the sources, installed (not editable) into
a new virtual environment, and run from a folder that is not the checkout: --help, compile of a
built-in model found by name, compile + score --all + package of the tiny model."""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
#: What the wheel is built from: the sources as a clone has them, without local state.
IGNORE = shutil.ignore_patterns(".git", ".venv", ".tox", "build", "runs", "tests", "bench", "__pycache__", "*.egg-info",
                                ".pytest_cache")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the venv's bin folder, a working folder outside the checkout, its environment)."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=IGNORE)
    _ok([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", tmp / "dist", src])
    wheel = next((tmp / "dist").glob("facelm-*.whl"))
    import zipfile

    tops = {n.split("/")[0] for n in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"facelm", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}, tops
    _ok([sys.executable, "-m", "venv", tmp / "venv"])
    venv_bin = tmp / "venv" / "bin"
    _ok([venv_bin / "python", "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel])
    # The dependencies are this environment's (a second 3 GB install would only repeat the lock);
    # a path line reaches them without running their .pth hooks, so no editable checkout leaks in.
    purelib = subprocess.run([venv_bin / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "facelm_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FACELM_MODEL", "FACELM_BUILD", "FACELM_DATA")}
    return venv_bin, work, env


def _ok(cmd, **kw) -> subprocess.CompletedProcess:
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=900, **kw)
    assert p.returncode == 0, f"{cmd[:3]}: exit {p.returncode}\n{p.stdout[-1500:]}\n{p.stderr[-3000:]}"
    return p


def test_the_installed_modules_are_the_wheels(installed):
    venv_bin, work, env = installed
    out = _ok([venv_bin / "python", "-c", "import facelm.core as core, facelm.models as models, facelm.submit as "
               "submit, facelm.cli; print(core.__file__); print(models.BUILTIN['face51-s']); print(submit.__file__)"],
              cwd=work, env=env).stdout.split()
    assert all(str(venv_bin.parent) in p and str(ROOT) not in p for p in out)
    assert Path(out[1]).is_file()  # the built-in model is package data


def test_help_from_another_folder(installed):
    venv_bin, work, env = installed
    t = time.perf_counter()
    p = _ok([venv_bin / "facelm", "--help"], cwd=work, env=env)
    print(f"facelm --help: {time.perf_counter() - t:.2f} s")
    assert "compile" in p.stdout and "score" in p.stdout


def test_compile_a_builtin_model_by_name(installed):
    venv_bin, work, env = installed
    # no faces of the user's domain beside an installed facelm: INT8 is refused before anything is made
    p = subprocess.run([str(venv_bin / "facelm"), "compile", "face51-s", "--out", "nofaces"], cwd=work, env=env,
                       capture_output=True, text=True)
    assert p.returncode == 2 and "need faces like the ones the model will meet" in p.stderr, p.stderr[-2000:]
    assert not (work / "nofaces").exists()
    _ok([venv_bin / "facelm", "compile", "face51-s", "--targets", "sim", "--out", "b/face51_s"], cwd=work, env=env)
    manifest = json.loads((work / "b" / "face51_s" / "face51_s.sim.onnx.json").read_text())
    assert manifest["stage"] == "sim"


def test_compile_score_and_package_the_tiny_model(installed, tiny51, faces):
    venv_bin, work, env = installed
    data = faces / "afw"
    _ok([venv_bin / "facelm", "compile", tiny51, "--targets", "tflite_int8", "--calib-data", data, "--calib-images", "12",
         "--data", data], cwd=work, env=env)
    assert (work / "build" / "tiny51" / "tiny51_int8.tflite").is_file()
    _ok([venv_bin / "facelm", "score", "--all", "--no-latency", "--max-images", "8", "--data", data], cwd=work, env=env)
    rows = json.loads((work / "build" / "scores" / "afw" / "scores.json").read_text())["rows"]
    assert {Path(r["artifact"]).name for r in rows} >= {"tiny51_int8.tflite", "tiny51.sim.onnx"}
    assert all(r["error"] is None and not r["latency_ms"] for r in rows)
    _ok([venv_bin / "facelm", "package", "build/tiny51", "--out", "sub"], cwd=work, env=env)
    assert (work / "sub" / "run_model.py").is_file() and (work / "sub" / "vendor" / "facelm" / "eval" / "infer" / "decode.py").is_file()


def test_readme_api_example_from_another_folder(installed, default_build):
    """`import facelm` from outside the checkout, and the README's Python example as written (its
    compile finds the built-in model's build current, copied into the working folder)."""
    import re

    venv_bin, work, env = installed
    code = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    ex = work / "example"
    shutil.copytree(default_build, ex / "build" / "face51_s")
    # installed, the faces beside the checkout are not found by themselves: INT8 wants them named
    no_faces = subprocess.run([str(venv_bin / "python"), "-c", code], cwd=ex, env=env, capture_output=True, text=True)
    assert no_faces.returncode == 1 and "need faces like the ones the model will meet" in no_faces.stderr
    from facelm.eval.defaults import shared_faces

    p = _ok([venv_bin / "python", "-c", code], cwd=ex, env={**env, "FACELM_DATA": str(shared_faces())})
    assert "NME" in p.stdout and "True" in p.stdout.splitlines()[0]
    gone = subprocess.run([str(venv_bin / "python"), "-c", "import core"], cwd=ex, env=env, capture_output=True)
    assert gone.returncode != 0  # nothing but facelm at the top level: a user's own `core` is theirs
