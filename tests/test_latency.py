"""Latency is the inference call alone: a fake runtime with a known cost in its call and a known
cost in its conversion shows each attributed to its own column. And `score`'s exit codes."""
import time

import numpy as np
import pytest

from facelm.eval.infer.image import Timing, raw_outputs
from facelm.eval.cost.profile import LatencyOptions, time_interleaved
from facelm.eval.infer.runtimes import BaseRuntime
from tests.conftest import cli_here, run_cli

INVOKE_S, FEED_S, FETCH_S = 0.004, 0.003, 0.001


class FakeRuntime(BaseRuntime):
    name = "fake"

    def __init__(self, invoke_s=INVOKE_S):
        self.invoke_s, self.invokes = invoke_s, 0

    def feed(self, x):
        time.sleep(FEED_S)

    def invoke(self):
        self.invokes += 1
        time.sleep(self.invoke_s)

    def fetch(self):
        time.sleep(FETCH_S)
        return [np.zeros((1, 2, 4), np.float32)]


def test_timing_attributes_the_call_and_the_conversion():
    x = np.zeros((1, 3, 8, 8), np.float32)
    fast, slow = FakeRuntime(), FakeRuntime(2 * INVOKE_S)
    opts = LatencyOptions(warmup=10, min_runs=30, min_seconds=0.0, rounds=3, io_runs=10)
    lat = time_interleaved({"fast": (fast, x), "slow": (slow, x)}, opts)
    # sleep overshoots by a fraction of a millisecond, never undershoots
    assert INVOKE_S * 1000 <= lat["fast"].median_ms < INVOKE_S * 1000 + 1.0
    assert 2 * INVOKE_S * 1000 <= lat["slow"].median_ms < 2 * INVOKE_S * 1000 + 1.0
    assert (FEED_S + FETCH_S) * 1000 <= lat["fast"].io_ms < (FEED_S + FETCH_S) * 1000 + 1.0
    assert lat["fast"].runs >= 30 and lat["fast"].p90_ms >= lat["fast"].median_ms
    assert fast.invokes >= 10 + 30 + 10  # warm-up, timed runs, conversion runs


def test_runs_extend_to_the_minimum_time():
    lat = time_interleaved({"a": (FakeRuntime(), np.zeros(1))},
                           LatencyOptions(warmup=2, min_runs=5, min_seconds=0.2, rounds=2, io_runs=0))
    assert lat["a"].runs >= 0.2 / (INVOKE_S + 0.001)


def test_per_image_timing_in_the_evaluator_splits_the_same_way():
    t = Timing()
    for _ in range(5):
        raw_outputs(FakeRuntime(), np.zeros((1, 3, 8, 8), np.float32), t)
    assert 5 * INVOKE_S <= t.invoke < 5 * INVOKE_S + 0.005
    assert 5 * (FEED_S + FETCH_S) <= t.convert < 5 * (FEED_S + FETCH_S) + 0.005


def test_bad_latency_options_are_refused():
    with pytest.raises(ValueError):
        LatencyOptions(min_runs=0)


# --- exit codes a CI gate can use --------------------------------------------------------------

def test_unknown_runtime_is_a_usage_error(tiny_build, tmp_path):
    out, _ = tiny_build
    code, _, err = cli_here("score", "--build", out, "--runtimes", "tflit", "--out", tmp_path / "s")
    assert code == 2 and "unknown runtime 'tflit'" in err and "known: pytorch, onnxruntime, tflite" in err
    assert not (tmp_path / "s").exists()


def test_a_filter_that_matches_nothing_is_an_error(tiny_build, tmp_path):
    out, _ = tiny_build
    code, _, err = cli_here("score", out / "tiny51.sim.onnx", "--runtimes", "tflite", "--out", tmp_path / "s")
    assert code == 2 and "no artifact" in err and "Traceback" not in err


def test_scored_rows_exit_zero(tiny_build, tmp_path):
    out, _ = tiny_build
    code, stdout, err = run_cli("score", out / "tiny51_int8.tflite", out / "tiny51_int8_fio.tflite", "--threads", "1",
                                "--latency-runs", "20", "--max-images", "3", "--out", tmp_path / "s")
    assert code == 0, err[-2000:]
    assert "inference call alone" in stdout and "CPU:" in stdout


def test_a_quantised_artifact_slower_than_its_parent_is_flagged(tmp_path):
    from facelm.eval.scoring import _slower_than_parent
    from facelm.scores.records import ScoreRow

    parent, fast, slow = (str(tmp_path / n) for n in ("m.sim.onnx", "m.int8.onnx", "m_int8.tflite"))
    rows = [ScoreRow(parent, "onnxruntime", "d", kind="fp32", latency_ms={"1": 20.0}),
            ScoreRow(fast, "onnxruntime", "d", kind="int8-qdq", parent=parent, latency_ms={"1": 8.0}),
            ScoreRow(slow, "onnxruntime", "d", kind="int8-qdq", parent=parent, latency_ms={"1": 27.0})]
    notes = [r.note for r in _slower_than_parent(rows)]
    assert notes[0] is None and notes[1] is None
    assert "slower than its float parent (27.00 vs 20.00 ms)" in notes[2]
