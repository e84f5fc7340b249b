"""`sweep`: jobs, failures as rows, caching, the report, Ray, and bad input."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import cli_here, run_cli

ARGS = ("--imgsz", "96", "--precision", "fp32,int8", "--calib-images", "8", "--latency-runs", "10", "--budget-ms", "50",
        "--scales", "1,0.5", "--conditions", "blur")


def _links(src: Path, dst: Path, n: int) -> Path:
    """The first n faces of a .pts folder, as links (the data is never copied)."""
    dst.mkdir(parents=True, exist_ok=True)
    for pts in sorted(src.glob("*.pts"))[:n]:
        for f in (pts, pts.with_suffix(".jpg")):
            (dst / f.name).symlink_to(f)
    return dst


@pytest.fixture(scope="module")
def sweep_inputs(faces, default_model, tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    ck = root / "ckpts"
    ck.mkdir()
    shutil.copy(default_model, ck / "face.pt")
    (ck / "notes.pt").write_text("not a checkpoint")
    data, calib = _links(faces / "afw", root / "afw12", 12), _links(faces / "helen_train", root / "helen16", 16)
    return root, ck, ("--data", data, "--calib-data", calib, *ARGS)


@pytest.fixture(scope="module")
def local_run(sweep_inputs):
    root, ck, args = sweep_inputs
    out = root / "local"
    code, stdout, err = run_cli("sweep", ck, *args, "--out", out)
    return out, code, stdout, err


def _points(out: Path) -> dict:
    """The candidates' points (a later --reference run adds its reference row to the same folder)."""
    pts = json.loads((out / "sweep.json").read_text())["points"]
    return {(Path(p["checkpoint"]).name, p["imgsz"], p["precision"]): p for p in pts if not p.get("reference")}


@pytest.mark.slow
@pytest.mark.shared_data
def test_sweep_reports_every_artifact_and_failures_as_rows(local_run):
    out, code, stdout, err = local_run
    assert code == 1, err[-2000:]  # notes.pt failed, the rest finished
    pts = _points(out)
    good = [pts[("face.pt", 96, p)] for p in ("fp32", "int8")]
    assert all(p["error"] is None and p["nme"] > 0 and p["ms"] > 0 and p["size_mb"] > 0 for p in good)
    assert good[1]["kind"] == "int8-int8-io" and good[1]["size_mb"] < good[0]["size_mb"] / 2
    assert good[1]["front_ms"]  # the fastest point is always on the front
    assert all(p["scales"]["0.5"]["nme"] > 0 and p["scales"]["0.5"]["faces"] > 0 for p in good)
    assert "NME% @0.5" in stdout
    assert all(p["conditions"]["blur:2"]["nme"] > 0 and p["conditions"]["blur:2"]["faces"] > 0 for p in good)
    assert "blur:2 NME% (miss)" in stdout
    assert "not a readable ultralytics checkpoint" in pts[("notes.pt", 96, "int8")]["error"]
    assert "Best under the budget (ms <= 50)" in stdout and "python cli.py package" in stdout
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    assert "★" in (out / "sweep.md").read_text() and (out / "sweep.csv").read_text().startswith("checkpoint,imgsz")


@pytest.mark.slow
@pytest.mark.shared_data
def test_a_sweep_report_page_shows_the_front_and_the_pick(local_run, tmp_path):
    from facelm.htmlreport.page import make_report

    out = local_run[0]
    page = make_report(out, tmp_path / "report")
    text = page.read_text()
    assert (page.parent / "pareto.png").read_bytes()[:4] == b"\x89PNG" and 'src="pareto.png"' in text
    assert "Best under the budget (ms &lt;= 50)" in text and "★" in text
    assert text.count("<tr>") >= 1 + len(json.loads((out / "sweep.json").read_text())["points"])


@pytest.mark.slow
@pytest.mark.shared_data
def test_sweep_rerun_with_nothing_changed_is_cached(sweep_inputs, local_run):
    root, ck, args = sweep_inputs
    out = local_run[0]
    before = _points(out)
    t = time.perf_counter()
    code, _, err = run_cli("sweep", ck, *args, "--out", out)
    assert code == 1 and time.perf_counter() - t < 10, err[-2000:]
    assert _points(out) == before


@pytest.mark.slow
@pytest.mark.shared_data
def test_a_reference_is_scored_and_timed_beside_the_candidates_but_never_picked(sweep_inputs, local_run, tmp_path):
    root, ck, args = sweep_inputs
    out = local_run[0]
    mine = _points(out)[("face.pt", 96, "int8")]
    ref = tmp_path / "rival.tflite"  # the same bytes as a candidate: its figures must come out the same
    shutil.copy(mine["artifact"], ref)
    code, stdout, err = run_cli("sweep", ck, *args, "--out", out, "--reference", ref, "--max-miss", "100")
    assert code == 1, err[-2000:]
    data = json.loads((out / "sweep.json").read_text())
    rival = [p for p in data["points"] if p["reference"]]
    assert len(rival) == 1 and rival[0]["artifact"] == str(ref.resolve())
    r = rival[0]
    assert (r["nme"], r["miss"], r["size_mb"], r["gflops"], r["kind"]) == \
           (mine["nme"], mine["miss"], mine["size_mb"], mine["gflops"], mine["kind"])
    assert r["scales"]["0.5"]["nme"] == mine["scales"]["0.5"]["nme"]
    assert r["ms"] > 0 and not r["front_ms"] and not r["front_mb"] and data["max_miss"] == 100
    assert data["best"]["reference"] is False
    assert "Reference: reference rival@96 int8" in (out / "sweep.md").read_text() and "no: reference" in stdout


def test_sweep_reference_and_miss_budget_bad_input(tmp_path, tiny51):
    (tmp_path / "notes.tflite").write_text("not a model")
    code, _, err = cli_here("sweep", tiny51, "--reference", tmp_path / "notes.tflite", "--out", tmp_path / "o")
    assert code == 2 and "--reference" in err and "notes.tflite" in err and "Traceback" not in err
    code, _, err = cli_here("sweep", tiny51, "--reference", tmp_path / "none.tflite", "--out", tmp_path / "o")
    assert code == 2 and "--reference" in err and "no such file" in err
    code, _, err = cli_here("sweep", tiny51, "--max-miss", "150", "--out", tmp_path / "o")
    assert code == 2 and "--max-miss 150" in err
    assert not (tmp_path / "o").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.shared_data
def test_sweep_on_a_local_ray_cluster_gives_the_same_table(sweep_inputs, local_run, tmp_path):
    pytest.importorskip("ray")
    root, ck, args = sweep_inputs
    ray = Path(sys.executable).with_name("ray")
    port = _free_port()
    # A cluster on loopback only, with no token: nothing outside this machine can reach it.
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    start = subprocess.run([str(ray), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                            "--num-cpus", "2", "--include-dashboard=false", "--disable-usage-stats"],
                           capture_output=True, text=True, timeout=120, env=env)
    assert start.returncode == 0, start.stderr[-2000:]
    try:
        code, _, err = run_cli("sweep", ck, *args, "--ray", f"127.0.0.1:{port}", "--out", tmp_path / "ray",
                               env={"RAY_AUTH_MODE": "disabled"})
    finally:
        subprocess.run([str(ray), "stop", "--force"], capture_output=True, timeout=120, env=env)
    assert code == 1, err[-3000:]
    local, remote = _points(local_run[0]), _points(tmp_path / "ray")
    assert set(local) == set(remote)
    for k, p in local.items():
        q = remote[k]
        assert (p["nme"], p["miss"], p["drift"], p["kind"], p["size_mb"], p["gflops"]) == \
               (q["nme"], q["miss"], q["drift"], q["kind"], q["size_mb"], q["gflops"]), k
        assert (p["error"] is None) == (q["error"] is None)
    assert (tmp_path / "ray" / "pareto.png").exists()


def test_sweep_bad_input(tmp_path, tiny51):
    (tmp_path / "empty").mkdir()
    code, _, err = cli_here("sweep", tmp_path / "empty", "--out", tmp_path / "o")
    assert code == 2 and "no .pt checkpoints" in err and "Traceback" not in err
    code, _, err = cli_here("sweep", tiny51, "--imgsz", "96,100", "--out", tmp_path / "o")
    assert code == 2 and "not a multiple of the model stride 32" in err and "96, 128" in err
    code, _, err = cli_here("sweep", tiny51, "--precision", "int4", "--out", tmp_path / "o")
    assert code == 2 and "int4" in err and "fp32, fp16, int8" in err
    code, _, err = run_cli("sweep", tiny51, "--imgsz", "64", "--ray", f"127.0.0.1:{_free_port()}", "--out",
                           tmp_path / "o")
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert code == 2 and "no Ray cluster answers" in lines[-1] and "Traceback" not in err


def test_job_key_follows_the_compiler(monkeypatch):
    """A compiler change (a stage revision) makes a sweep's cached scores stale."""
    import facelm.compiler.pipeline as pipeline
    from facelm.explore.jobs import Job, SweepOptions, job_key

    job = Job(Path("x.pt"), 96)
    before = job_key(job, "abc", SweepOptions())
    assert job_key(job, "abc", SweepOptions()) == before
    monkeypatch.setitem(pipeline.REVISIONS, "tflite_int8", "another change")
    assert job_key(job, "abc", SweepOptions()) != before
