"""The Python API and the CLI over it, in process (click's CliRunner): the same numbers both ways,
the README's example runs, one option vocabulary with its earlier spellings deprecated, and
errors sorted into the user's (exit 2, UserError) and bugs (exit 1)."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import facelm
from facelm.core.errors import UserError
from tests.conftest import ROOT, cli_here


cli = cli_here


def test_one_import_name_and_its_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+)?", facelm.__version__)
    code, out, _ = cli("--version")
    assert code == 0 and facelm.__version__ in out
    assert facelm.UserError is UserError and callable(facelm.compile) and callable(facelm.score)
    setup = (ROOT / "setup.py").read_text()
    assert "version=VERSION" in setup and "__version__" in setup  # one version string, read from the package


def test_api_and_cli_agree_to_the_last_digit(faces, tmp_path):
    art = ROOT / "models" / "face51_xs.pt"  # a trained model: it finds the faces
    scores = facelm.score([art], data=faces / "afw", latency=False, max_images=12, progress=False)
    assert scores.ok and len(scores.rows) == 1 and scores.rows[0].nme is not None
    code, _, err = cli("score", art, "--data", faces / "afw", "--latency-runs", "0", "--max-images", "12",
                       "--out", tmp_path / "s")
    assert code == 0, err
    row = json.loads((tmp_path / "s" / "scores.json").read_text())["rows"][0]
    assert (row["nme"], row["miss"], row["fr10"]) == (scores.rows[0].nme, scores.rows[0].miss, scores.rows[0].fr10)
    assert {p.name for p in scores.save(tmp_path / "api")} == {"scores.json", "faces.csv", "scores.md", "scores.csv"}


def test_compile_returns_a_build(tiny51, tmp_path):
    build = facelm.compile(tiny51, out=tmp_path / "b", targets="sim", data=None, progress=False)
    assert build.ok and set(build.artifacts) == {"onnx", "sim"} and build.out == tmp_path / "b"
    assert build.artifacts["sim"].is_file() and "sim" in build.table()
    with pytest.raises(UserError, match="no such checkpoint"):
        facelm.compile(tmp_path / "nope.pt", out=tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_readme_example_runs(default_build, tmp_path, monkeypatch):
    """The README's Python tour, as written, against the built-in model's build (cached)."""
    text = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert "facelm.compile" in code and "facelm.score" in code
    work = tmp_path / "work"
    shutil.copytree(default_build, work / "build" / "face51_s")
    monkeypatch.chdir(work)
    monkeypatch.setenv("FACELM_BUILD", str(work / "build"))
    import facelm.eval.defaults as defaults

    monkeypatch.setattr(defaults, "BUILD", Path("build"))
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the README's own example
    assert scope["build"].ok and scope["scores"].rows[0].nme < 7


def test_threads_name_their_columns(tiny_build, faces, tmp_path):
    out, _ = tiny_build
    code, stdout, err = cli("score", out / "tiny51_int8.tflite", "--data", faces / "afw", "--max-images", "4",
                            "--threads", "1,2,3", "--latency-runs", "3", "--out", tmp_path / "s")
    assert code == 0, err
    header = next(ln for ln in stdout.splitlines() if "artifact" in ln)
    assert all(f"ms {n}t" in header for n in (1, 2, 3))
    row = json.loads((tmp_path / "s" / "scores.json").read_text())["rows"][0]
    assert set(row["latency_ms"]) == {"1", "2", "3"} and all(v > 0 for v in row["latency_ms"].values())
    csv_head = (tmp_path / "s" / "scores.csv").read_text().splitlines()[0].split(",")
    assert {"ms_1t", "ms_2t", "ms_3t"} <= set(csv_head)
    for bad in ("0,2", "1,x", ""):
        code, _, err = cli("score", out / "tiny51_int8.tflite", "--threads", bad)
        assert code == 2 and "--threads" in err and len(err.strip().splitlines()) == 1, err


def test_earlier_spellings_work_once_more_with_one_line(tiny51, faces, tmp_path):
    code, _, err = cli("compile", tiny51, "--targets", "onnx", "--out", tmp_path / "b", "--calib-n", "8",
                       "--verify-data", faces / "afw")
    assert code == 0, err
    warnings = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    assert warnings == ["warning: --calib-n is now --calib-images; the old spelling goes in the next release",
                        "warning: --verify-data is now --data; the old spelling goes in the next release"]
    _, help_text, _ = cli("compile", "--help")
    assert "--calib-images" in help_text and "--calib-n" not in help_text and "--verify-data" not in help_text


def test_user_mistakes_exit_2_and_bugs_exit_1(monkeypatch, tmp_path):
    code, _, err = cli("score", "--frobnicate")
    assert code == 2 and err.startswith("error:") and "--frobnicate" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("score", tmp_path / "missing.tflite", "--data", tmp_path / "none")
    assert code == 2 and "none" in err and len(err.strip().splitlines()) == 1

    import facelm.api as api

    def broken(*a, **k):
        raise ValueError("a bug, not the user's")

    monkeypatch.setattr(api, "predict", broken)
    code, _, err = cli("predict", ROOT / "models" / "face51_xs.pt", "--data", tmp_path, "--out", tmp_path / "p")
    assert code == 1 and "a bug in facelm: ValueError: a bug, not the user's" in err and "Traceback" not in err


def test_every_command_takes_one_vocabulary():
    """The same name means the same thing on every command; bare --n is gone from --help."""
    from facelm.cli import main

    seen: dict = {}
    for name, cmd in main.commands.items():
        for p in cmd.params:
            for o in p.opts:
                if o in ("--data", "--calib-data", "--val-data", "--calib-images", "--faces", "--jobs", "--threads",
                         "--latency-runs", "--out"):
                    seen.setdefault(o, set()).add(p.name)
            assert "--n" not in p.opts or "--n" in getattr(p, "old", ()), (name, p.opts)
    assert all(len(names) == 1 for names in seen.values()), seen
    assert {"score", "sweep"} <= {n for n, c in main.commands.items() if any("--latency-runs" in p.opts for p in c.params)}
