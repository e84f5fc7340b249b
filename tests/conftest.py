import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facelm.eval.defaults import DEFAULT_MODEL, shared_faces  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _offline_env(tmp_path_factory):
    os.environ.setdefault("FACELM_CACHE", str(tmp_path_factory.mktemp("cache")))
    from facelm.core.offline import prepare

    prepare()


@pytest.fixture(scope="session")
def faces() -> Path:
    s = shared_faces()
    if s is None:
        pytest.skip("../shared/data/faces is not beside the checkout")
    return s


@pytest.fixture(scope="session")
def tiny51(tmp_path_factory) -> Path:
    from tests.tiny import make_tiny_pose

    return make_tiny_pose(tmp_path_factory.mktemp("ckpt") / "tiny51.pt", 51, imgsz=96)


@pytest.fixture(scope="session")
def tiny68(tmp_path_factory) -> Path:
    from tests.tiny import make_tiny_pose

    return make_tiny_pose(tmp_path_factory.mktemp("ckpt68") / "tiny68.pt", 68, imgsz=64, seed=1)


@pytest.fixture(scope="session")
def tiny_build(tiny51, tmp_path_factory):
    """The whole pipeline (float and INT8) on the tiny model, once per session."""
    from facelm.compiler.pipeline import CompileOptions, compile_checkpoint

    out = tmp_path_factory.mktemp("build") / "tiny51"
    results = compile_checkpoint(tiny51, out, CompileOptions(calib_n=12, guard_images=12, verify_images=4),
                                 progress=False)
    return out, results


@pytest.fixture(scope="session")
def default_model() -> Path:
    if not DEFAULT_MODEL.exists():
        pytest.skip(f"{DEFAULT_MODEL}: no such checkpoint (FACELM_MODEL names a missing file?)")
    return DEFAULT_MODEL


@pytest.fixture(scope="session")
def default_build(default_model, tmp_path_factory):
    """The built-in model compiled to every artifact, once per session (or an existing build
    named by FACELM_REGRESSION_BUILD, as tox's converter environment leaves it)."""
    given = os.environ.get("FACELM_REGRESSION_BUILD")
    out = Path(given) if given else tmp_path_factory.mktemp("default") / default_model.stem
    try:
        from facelm.compiler.convert import tensorflow

        tensorflow()  # onnxsim before TensorFlow, as the pipeline imports them
        import onnx2tf  # noqa: F401
    except ImportError:
        if not (out / f"{out.name}_int8.tflite").exists():
            pytest.fail(f"{out}: no compiled build and no converter here; run `tox -e converter` first")
        return out
    from facelm.compiler.pipeline import CompileOptions, compile_checkpoint

    compile_checkpoint(default_model, out, CompileOptions(), progress=False)
    return out


def cli_here(*args, env=None):
    """The CLI in this process, through click's CliRunner: (exit code, stdout, stderr). For usage
    and argument checks; a run that trains or exports with ultralytics, or needs a process of its
    own (no network, a clean import state), uses run_cli."""
    from click.testing import CliRunner

    from facelm.cli import main
    from facelm.core.safe_load import TRUST_ENV

    r = CliRunner().invoke(main, [str(a) for a in args], env={TRUST_ENV: None, **(env or {})})
    return r.exit_code, r.stdout, r.stderr


def run_cli(*args, timeout=900, env=None, prefix=()):
    """Run cli.py in a fresh process: (exit code, stdout, stderr)."""
    e = dict(os.environ, **(env or {}))
    p = subprocess.run([*prefix, sys.executable, str(ROOT / "cli.py"), *map(str, args)], capture_output=True,
                       text=True, timeout=timeout, env=e, cwd=ROOT)
    return p.returncode, p.stdout, p.stderr


def run_python(code: str, timeout=900, cwd=None) -> dict:
    """Run code in a fresh interpreter and return the JSON it printed last. ultralytics'
    predict/export/train import torchvision, which crashes in a process that has already
    loaded TensorFlow (as the compile tests do), so those run apart."""
    import json

    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                       cwd=cwd or ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads([ln for ln in p.stdout.splitlines() if ln.startswith("{")][-1])
