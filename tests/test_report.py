"""`report`: one HTML page from score/inspect/sweep output; its figures equal scores.json, its
galleries are the faces a plain reading of faces.csv picks, and it loads in a real browser."""
import csv
import html
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import cli_here

pytestmark = pytest.mark.slow
N = 4


@pytest.fixture(scope="module")
def scored(default_build, faces, tmp_path_factory):
    """The built-in model's build scored on 40 AFW images (no timing), inspect run on its int8."""
    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.quant.report import inspect_target
    from facelm.eval.scoring import ScoreOptions, find_artifacts, score_paths
    from facelm.scores.table import write_scores

    out = tmp_path_factory.mktemp("scores")
    ds = load_dataset(faces / "afw")
    recs = []
    rows = score_paths(find_artifacts(default_build), ds, ScoreOptions(max_images=40, time_latency=False,
                                                                       progress=False), None, recs)
    write_scores(rows, recs, out, {"cpu": "test", "cores": 2, "features": []}, faces / "afw")
    list(inspect_target(default_build / f"{default_build.name}_int8.tflite", faces / "afw", 8))
    return out


@pytest.fixture(scope="module")
def page(scored, tmp_path_factory):
    from facelm.htmlreport.page import make_report

    return make_report(scored, tmp_path_factory.mktemp("r") / "report", N)


class Cells(HTMLParser):
    """Tables (by id) as lists of cell texts, and gallery figures as (gallery, artifact, image, face)."""

    def __init__(self):
        super().__init__()
        self.tables, self.figures, self._table, self._row, self._cell, self._grid = {}, [], None, None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and a.get("id"):
            self._table = self.tables.setdefault(a["id"], [])
        if tag == "table" and a.get("id"):
            self._table = self.tables.setdefault(a["id"], [])
        if tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        if tag in ("td", "th") and self._row is not None:
            self._cell = ""
        if tag == "div" and "data-gallery" in a:
            self._grid = (a["data-gallery"], a["data-artifact"], a["data-runtime"])
        if tag == "figure" and self._grid:
            self.figures.append((*self._grid, a["data-image"], int(a["data-face"]), "missing" not in a.get("class", "")))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        if tag == "table":
            self._table = self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def parse(page: Path) -> Cells:
    c = Cells()
    c.feed(page.read_text())
    return c


def test_every_figure_equals_scores_json(scored, page):
    from facelm.scores.records import COLUMNS

    rows = json.loads((scored / "scores.json").read_text())["rows"]
    cells = parse(page)
    head, *body = cells.tables["scores"]
    assert len(body) == len(rows)
    for r, shown in zip(rows, body):
        for col, value in zip(head, shown):
            key = next(k for k, h in COLUMNS.items() if h == col)
            if key == "artifact":
                assert r[key].endswith(value)
            elif r[key] is None or isinstance(r[key], str):
                assert value == (r[key] or "")
            else:
                assert float(value) == pytest.approx(r[key], abs=1e-9), (r["artifact"], key)
    regions = cells.tables["regions"]
    with_regions = [r for r in rows if r["regions"]]
    for r, shown in zip(with_regions, regions[1:]):
        assert [float(v) for v in shown[1:]] == [r["regions"][k] for k in regions[0][1:]]


def test_faces_csv_agrees_with_the_rows(scored):
    rows = {(r["artifact"], r["runtime"]): r for r in json.loads((scored / "scores.json").read_text())["rows"]}
    per = {}
    with open(scored / "faces.csv") as f:
        for rec in csv.DictReader(f):
            per.setdefault((rec["artifact"], rec["runtime"]), []).append(rec)
    assert set(per) == {k for k, r in rows.items() if r["nme"] is not None}
    for k, recs in per.items():
        found = [float(r["nme"]) for r in recs if r["missed"] == "0"]
        assert sum(found) / len(found) == pytest.approx(rows[k]["nme"], abs=2e-3)
        assert 100 * sum(r["missed"] == "1" for r in recs) / len(recs) == pytest.approx(rows[k]["miss"], abs=0.01)
        if rows[k]["drift"] is not None:  # drift per face exists where the parent found the face too
            assert any(r["drift"] for r in recs)


def test_galleries_pick_what_faces_csv_says(scored, page):
    with open(scored / "faces.csv") as f:
        recs = list(csv.DictReader(f))
    figures = parse(page).figures
    assert figures, "no gallery"
    for gallery in ("drift", "worst"):
        by = "drift" if gallery == "drift" else "nme"
        for art, rt in {(a, r) for g, a, r, *_ in figures if g == gallery}:
            own = [r for r in recs if r["artifact"] == art and r["runtime"] == rt and r[by]]
            own.sort(key=lambda r: (-float(r[by]), r["image"], int(r["face"])))
            want = [(r["image"], int(r["face"])) for r in own[:N]]
            assert [(i, f) for g, a, r, i, f, _ in figures if (g, a, r) == (gallery, art, rt)] == want
    assert all(drawn for *_, drawn in figures)


def test_report_is_small_and_self_contained(page):
    text = page.read_text()
    assert "http://" not in text and "https://" not in text  # no CDN, no network
    size = sum(f.stat().st_size for f in page.parent.iterdir())
    assert size < 5e6
    srcs = [s.split('"')[1] for s in text.split('src=')[1:]]
    assert srcs and all((page.parent / s).is_file() for s in srcs)
    assert any(s.startswith("inspect_") for s in srcs) and "ced.png" in srcs


def test_the_page_in_a_real_browser(page, tmp_path):
    """Headless Chromium loads the page from disk: no console error, every image decoded."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    probe = page.parent / "probe.html"
    probe.write_text(page.read_text().replace("</body>", """<script>
window.addEventListener('load', () => { const imgs = [...document.images];
  const pre = document.createElement('pre'); pre.id = 'probe';
  pre.textContent = JSON.stringify({n: imgs.length, errors: window.__errors || [],
    broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)});
  document.body.appendChild(pre); });
window.addEventListener('error', e => { (window.__errors = window.__errors || []).push(String(e.message)); }, true);
</script></body>"""))
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
            "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"]
    try:
        dom = subprocess.run([*args, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120)
        shot = tmp_path / "report.png"
        subprocess.run([*args, "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}", page.as_uri()],
                       capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"chromium could not start here: {e}")
    finally:
        probe.unlink()
    if "<html" not in dom.stdout:
        pytest.skip(f"chromium printed no page: {dom.stderr.strip().splitlines()[-1:]}")
    result = json.loads(html.unescape(dom.stdout.split('<pre id="probe">')[1].split("</pre>")[0]))
    console = [ln for ln in dom.stderr.splitlines() if "CONSOLE" in ln and ("rror" in ln or "Uncaught" in ln)]
    assert result["n"] >= 3 and result["broken"] == [] and result["errors"] == [] and console == []
    assert shot.is_file() and shot.stat().st_size > 20_000


def test_bad_input_is_one_line(scored, tmp_path):
    code, _, err = cli_here("report", tmp_path, "--out", tmp_path / "r")
    assert code == 2 and err.count("\n") == 1 and "no scores.json" in err
    old = tmp_path / "old"
    old.mkdir()
    d = json.loads((scored / "scores.json").read_text())
    del d["data"]
    (old / "scores.json").write_text(json.dumps(d))
    code, _, err = cli_here("report", old, "--out", tmp_path / "r")
    assert code == 2 and "older layout" in err and str(old / "scores.json") in err
    assert not (tmp_path / "r").exists()


def test_an_unreadable_image_is_named_and_the_report_goes_on(scored, tmp_path):
    """A copy of the scores whose data folder holds one image that no longer decodes."""
    from facelm.htmlreport.page import make_report
    from facelm.scores.records import read_faces

    d = json.loads((scored / "scores.json").read_text())
    worst = max((f for f in read_faces(scored / "faces.csv") if f["nme"] is not None), key=lambda f: f["nme"])
    data = tmp_path / "data"
    shutil.copytree(d["data"], data, ignore=lambda folder, names: [n for n in names if not (
        Path(n).stem.split("_")[0] in worst["image"] or n.endswith(".pts"))])
    broken = data / Path(worst["image"]).name
    broken.write_bytes(b"not an image any more")
    copy = tmp_path / "scores"
    copy.mkdir()
    d["data"] = str(data)
    (copy / "scores.json").write_text(json.dumps(d))
    (copy / "faces.csv").write_text((scored / "faces.csv").read_text().replace(worst["image"], str(broken)))
    page = make_report(copy, tmp_path / "r", 2)
    text = page.read_text()
    assert f"{broken.name} #{worst['face']}: could not draw (image unreadable" in text
