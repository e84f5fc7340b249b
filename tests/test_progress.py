"""Progress in a log: plain lines, no carriage-return frames; and the kinds' one vocabulary."""
import io
import subprocess
import sys

import pytest

from facelm.core.contract import KINDS, QUANTISED_KINDS, is_quantised
from facelm.core.progress import LineProgress, progress
from tests.conftest import ROOT


def test_not_a_terminal_gives_a_line_per_finished_step():
    out = io.StringIO()
    bar = progress(total=3, desc="compile", unit="stage", stream=out)
    assert isinstance(bar, LineProgress)
    for stage in ("onnx", "sim", "tflite_int8"):
        bar.set_description(f"compile {stage}")
        bar.update(1)
    bar.write("a summary line")
    lines = out.getvalue().splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["compile onnx", "compile sim", "compile tflite_int8", "a summary line"]
    assert lines[2].startswith("compile tflite_int8: 3/3 stage") and "\r" not in out.getvalue()


def test_a_long_loop_gives_one_line_when_done():
    out = io.StringIO()
    assert list(progress(range(337), desc="face51_s.pt [pytorch]", unit="img", stream=out)) == list(range(337))
    assert out.getvalue().splitlines() == [out.getvalue().splitlines()[0]]
    assert out.getvalue().startswith("face51_s.pt [pytorch]: 337/337 img (")


def test_disabled_bars_stay_quiet_but_write_still_prints():
    out = io.StringIO()
    bar = progress(total=2, desc="sweep", enabled=False, stream=out)
    bar.update(2)
    bar.write("job done")
    assert out.getvalue() == "job done\n"


def test_a_compile_log_has_no_carriage_returns(tiny51, tmp_path):
    """The real command with its output in a file (as CI and nohup see it)."""
    log = tmp_path / "log.txt"
    with log.open("w") as f:
        p = subprocess.run([sys.executable, str(ROOT / "cli.py"), "compile", str(tiny51), "--targets", "sim",
                            "--out", str(tmp_path / "b")], stdout=f, stderr=subprocess.STDOUT, cwd=ROOT, timeout=300)
    text = log.read_text()
    assert p.returncode == 0, text[-2000:]
    assert "\r" not in text and "compile sim: 2/2 stage" in text


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_one_predicate_says_what_is_quantised(kind):
    from facelm.scores.regression import tolerance_class

    expected = kind not in ("fp32", "fp16")
    assert is_quantised(kind) == expected == (kind in QUANTISED_KINDS)
    assert tolerance_class(kind) == ("int8" if expected else "float")


def test_an_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown artifact kind 'int4'"):
        is_quantised("int4")


def test_an_int16x8_artifact_slower_than_its_parent_gets_the_note():
    from facelm.eval.scoring import _slower_than_parent
    from facelm.scores.records import ScoreRow

    parent = ScoreRow(artifact=str(ROOT / "m_fp32.tflite"), runtime="tflite", dataset="afw", kind="fp32", latency_ms={"1": 18.0})
    child = ScoreRow(artifact=str(ROOT / "m_int16x8.tflite"), runtime="tflite", dataset="afw", kind="int16-act-float-io",
                     latency_ms={"1": 412.0}, parent=str(ROOT / "m_fp32.tflite"))
    rows = _slower_than_parent([parent, child])
    assert rows[1].note.startswith("slower than its float parent (412.00 vs 18.00 ms)") and not rows[0].note
