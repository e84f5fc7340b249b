"""Scores of the built-in model's artifacts, per runtime, against scores/baselines/*.json.

Each runtime's test carries its marker, so `tox -e <runtime>` runs it in an environment that
holds only that runtime. Baselines change only through `cli.py score --update-baselines`."""
import pytest

from facelm.scores.records import ScoreRow
from facelm.scores.regression import RegressionError, check, compare, load_baseline


def _row(**kw):
    base = dict(artifact="b/m_int8.tflite", runtime="tflite", dataset="afw", kind="int8-int8-io", nme=4.0, fr10=2.0,
                auc10=0.6, miss=0.0, drift=1.0, gflops=1.7, size_mb=4.5)
    return ScoreRow(**{**base, **kw})


def test_a_perturbed_score_fails_with_the_right_message():
    from facelm.scores.regression import baseline_row

    baseline = [baseline_row(_row())]
    check([_row(nme=4.1)], baseline)  # inside the INT8 tolerance of 0.15
    with pytest.raises(RegressionError) as e:
        check([_row(nme=4.5, miss=3.0)], baseline)
    msg = str(e.value)
    assert "m_int8.tflite [tflite] nme: baseline 4.0, new 4.5, tolerance 0.15" in msg
    assert "miss: baseline 0.0, new 3.0, tolerance 1.0" in msg
    assert compare([_row(error="boom")], baseline)[0].metric == "row"
    float_base = [baseline_row(_row(artifact="b/m_fp32.tflite", kind="fp32"))]
    assert [m.metric for m in compare([_row(artifact="b/m_fp32.tflite", kind="fp32", nme=4.05)], float_base)] == ["nme"]


def test_the_score_table_tells_two_runs_best_pt_apart():
    """Rows are named by folder/file, or by as many more parts as tell two files apart."""
    from facelm.scores.table import score_table, short_paths

    rows = [_row(artifact=f"build/{run}/run/weights/best.pt", kind="fp32") for run in ("m", "m2")]
    rows.append(_row(artifact="build/face51_s/face51_s_int8.tflite"))
    table = score_table(rows)
    assert "m/run/weights/best.pt" in table and "m2/run/weights/best.pt" in table
    assert "face51_s/face51_s_int8.tflite" in table and "build/face51_s" not in table
    assert short_paths(["a/x.pt", "x.pt", "b/a/x.pt"]) == {"a/x.pt": "a/x.pt", "x.pt": "x.pt", "b/a/x.pt": "b/a/x.pt"}
    assert short_paths(["/r/a/x.pt", "/a/x.pt"]) == {"/r/a/x.pt": "r/a/x.pt", "/a/x.pt": "/a/x.pt"}



def test_the_compile_table_says_what_the_int8_guard_judged(tmp_path):
    """Labelled faces: the NME ratio; a parent that finds no face (untrained): the anchor drift
    the guard judged by, not the face drift (nan, there being no face)."""
    from facelm.compiler.pipeline import StageResult
    from facelm.scores.table import compile_table

    f = tmp_path / "m_int8.tflite"
    f.write_bytes(b"0" * 1000)
    faces = {"remedy": "a", "parent_faces": 30, "child_nme": 5.15, "parent_nme": 5.0, "child_missed": 1,
             "parent_missed": 1, "drift_nme": 0.4, "anchor_drift_pct": 0.7}
    none = {"remedy": "a", "parent_faces": 0, "drift_nme": float("nan"), "drift_missed": 0, "anchor_drift_pct": 0.83}
    rows = [StageResult("tflite_int8", f, False, 1.0, {"guard": {"passed": p, "chosen": "a", "attempts": [a]}})
            for a, p in ((faces, True), (none, True))]
    table = compile_table(rows)
    assert "ok: NME x1.030, misses 1 vs 1 (a, 1 tried)" in table
    assert "ok: anchor drift 0.83% (the parent finds no face)" in table and "nan" not in table


def test_the_compile_table_ends_with_the_total_and_the_slowest_stage(tmp_path):
    from facelm.compiler.pipeline import StageResult
    from facelm.scores.table import compile_table

    f = tmp_path / "m.onnx"
    f.write_bytes(b"0" * 1000)
    rows = [StageResult("onnx", f, True, 0.0), StageResult("sim", f, False, 0.8), StageResult("saved_model", f, False, 11.6),
            StageResult("tflite_fp32", f, False, 0.0, error="not built: it needs saved_model, which failed")]
    last = compile_table(rows, 14.04).splitlines()[-1]
    assert last.startswith("14.0 s in all (2 built, 1 current;") and last.endswith("slowest stage: saved_model 11.6 s")
    assert compile_table(rows[:1], 0.31).splitlines()[-1] == "0.3 s in all: every artifact was current"
    assert "in all" not in compile_table(rows)  # untimed (a Build made by hand)

@pytest.mark.shared_data
@pytest.mark.parametrize("runtime", [
    pytest.param("onnxruntime", marks=pytest.mark.onnxruntime),
    pytest.param("tflite", marks=pytest.mark.tflite),
    pytest.param("pytorch", marks=pytest.mark.pytorch),
])
def test_runtime_scores_match_baseline(runtime, default_build, faces):
    from facelm.eval.scoring import regression_rows

    base = load_baseline(runtime)
    rows = regression_rows(default_build, runtime)
    check(rows, base["rows"])
