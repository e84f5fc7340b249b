"""Scores of the built-in model's artifacts, per runtime, against scores/baselines/*.json.

Each runtime's test carries its marker, so `tox -e <runtime>` runs it in an environment that
holds only that runtime. Baselines change only through `cli.py score --update-baselines`."""
import pytest

from scores.records import ScoreRow
from scores.regression import RegressionError, check, compare, load_baseline


def _row(**kw):
    base = dict(artifact="b/m_int8.tflite", runtime="tflite", dataset="afw", kind="int8-int8-io", nme=4.0, fr10=2.0,
                auc10=0.6, miss=0.0, drift=1.0, gflops=1.7, size_mb=4.5)
    return ScoreRow(**{**base, **kw})


def test_a_perturbed_score_fails_with_the_right_message():
    from scores.regression import baseline_row

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
    from scores.table import score_table, short_paths

    rows = [_row(artifact=f"build/{run}/run/weights/best.pt", kind="fp32") for run in ("m", "m2")]
    rows.append(_row(artifact="build/face51_s/face51_s_int8.tflite"))
    table = score_table(rows)
    assert "m/run/weights/best.pt" in table and "m2/run/weights/best.pt" in table
    assert "face51_s/face51_s_int8.tflite" in table and "build/face51_s" not in table
    assert short_paths(["a/x.pt", "x.pt", "b/a/x.pt"]) == {"a/x.pt": "a/x.pt", "x.pt": "x.pt", "b/a/x.pt": "b/a/x.pt"}
    assert short_paths(["/r/a/x.pt", "/a/x.pt"]) == {"/r/a/x.pt": "r/a/x.pt", "/a/x.pt": "/a/x.pt"}


@pytest.mark.shared_data
@pytest.mark.parametrize("runtime", [
    pytest.param("onnxruntime", marks=pytest.mark.onnxruntime),
    pytest.param("tflite", marks=pytest.mark.tflite),
    pytest.param("pytorch", marks=pytest.mark.pytorch),
])
def test_runtime_scores_match_baseline(runtime, default_build, faces):
    from eval.scoring import regression_rows

    base = load_baseline(runtime)
    rows = regression_rows(default_build, runtime)
    check(rows, base["rows"])
