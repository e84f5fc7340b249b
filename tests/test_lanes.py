"""The side lane (compiler/lanes.py): ONNX Runtime INT8 built in a second process beside the
TensorFlow stages. Same files as one process, a failure there fails its stage alone, and an
interrupted run leaves no half artifact and resumes."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from facelm.compiler.lanes import side_stages
from facelm.compiler.stages import DEFAULT_TARGETS, with_ancestors
from facelm.core.files import read_manifest, sha256
from tests.conftest import ROOT

pytestmark = pytest.mark.converter
OPTS = "CompileOptions(calib_n=12, guard_images=12, verify_images=4)"


def test_the_side_lane_is_what_needs_no_tensorflow(monkeypatch):
    monkeypatch.delenv("FACELM_ONE_PROCESS", raising=False)
    names = lambda targets: [s.name for s in side_stages(with_ancestors(list(targets)))]  # noqa: E731
    assert names(DEFAULT_TARGETS) == ["ort_int8"]
    assert names(["tflite_fp16", "ort_int8"]) == ["ort_int8"]
    assert names(["ort_int8"]) == []  # nothing to overlap with: one process
    assert names(["tflite_int8"]) == []  # every stage needs TensorFlow or is needed
    monkeypatch.setenv("FACELM_ONE_PROCESS", "1")
    assert names(DEFAULT_TARGETS) == []


def _script(tiny51, out, patch: str = "") -> str:
    """A compile in a fresh interpreter (TensorFlow not loaded: the side lane is forked, and
    what patch changes holds in it too); prints each stage's (cached, error) as JSON."""
    return f"""
import json, sys
from pathlib import Path
from facelm.core.offline import prepare; prepare()
from facelm.compiler import convert, lanes
from facelm.compiler.verify import VerificationError
{patch}
from facelm.compiler.pipeline import CompileOptions, compile_checkpoint
assert lanes.start_method() == "fork"
res = compile_checkpoint(Path({str(tiny51)!r}), Path({str(out)!r}), {OPTS}, progress=False)
print(json.dumps({{r.stage: [r.cached, r.error] for r in res}}))
"""


def _run(code: str, env=None, timeout=600) -> dict:
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})))
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_parallel_and_one_process_compiles_make_the_same_files(tiny51, tmp_path):
    """Every file of a compile with the side lane equals, byte for byte, the one process's."""
    both = {}
    for mode, env in (("lanes", {}), ("one", {"FACELM_ONE_PROCESS": "1"})):
        res = _run(_script(tiny51, tmp_path / mode), env)
        assert all(err is None for _, err in res.values()), res
        both[mode] = {p.name: sha256(p) for p in (tmp_path / mode).iterdir() if p.suffix in (".onnx", ".tflite")}
    assert len(both["lanes"]) == 7 and both["lanes"] == both["one"]
    assert read_manifest(tmp_path / "lanes" / "tiny51.int8.onnx")["report"]["guard"]["attempts"]


def test_a_side_stage_that_fails_its_check_fails_alone(tiny51, tmp_path):
    patch = """
def refuse(*a, **k):
    raise VerificationError("tiny51.int8.onnx: output 'scores' differs by 0.5")
convert.quantize_ort = refuse
"""
    res = _run(_script(tiny51, tmp_path / "b", patch))
    assert res["ort_int8"][1] == "tiny51.int8.onnx: output 'scores' differs by 0.5"
    assert all(err is None for stage, (_, err) in res.items() if stage != "ort_int8")
    assert (tmp_path / "b" / "tiny51_int8_fio.tflite").is_file() and not (tmp_path / "b" / "tiny51.int8.onnx").exists()
    assert not list((tmp_path / "b").glob(".*"))


def test_an_error_in_the_side_lane_is_raised_after_the_main_lane_lands(tiny51, tmp_path):
    patch = """
from facelm.core.errors import UserError
def broken(*a, **k):
    raise UserError("calibration faces: none readable")
convert.quantize_ort = broken
"""
    code = _script(tiny51, tmp_path / "c", patch)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert p.returncode == 1 and "UserError: calibration faces: none readable" in p.stderr
    assert (tmp_path / "c" / "tiny51_int8_fio.tflite").is_file() and not list((tmp_path / "c").glob(".*"))


def test_ctrl_c_in_a_parallel_compile_leaves_no_half_artifact_and_the_rerun_resumes(tiny51, tmp_path):
    """Ctrl-C (SIGINT to the process group) while both lanes write: each process removes what it
    was writing, no process is left, and the next run builds only what had not landed."""
    out = tmp_path / "i"
    slow = """
import time
real = convert.quantize_ort
def slow(*a, **k):
    time.sleep(60)
convert.quantize_ort = slow
"""
    p = subprocess.Popen([sys.executable, "-c", _script(tiny51, out, slow)], cwd=ROOT, start_new_session=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not list(out.glob(".tiny51.int8.onnx.*")) and time.time() < deadline:
        time.sleep(0.1)
    assert list(out.glob(".tiny51.int8.onnx.*")), "the side lane never started writing"
    os.killpg(p.pid, signal.SIGINT)
    p.wait(60)
    assert p.returncode != 0
    time.sleep(1)
    assert not list(out.glob(".*")), "temporary files left behind"
    assert subprocess.run(["pgrep", "-g", str(p.pid)], capture_output=True).returncode == 1, "a process is left"
    landed = {f.name.removesuffix(".json") for f in out.glob("*.json")}
    assert "tiny51.int8.onnx" not in landed and all((out / n).exists() for n in landed)
    res = _run(_script(tiny51, out))
    assert all(err is None for _, err in res.values())
    assert res["onnx"][0] and not res["ort_int8"][0]  # resumed: what had landed is current
