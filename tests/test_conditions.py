"""Faces in the world: the condition renderer (deterministic; points move with the pixels where a
condition moves them), moved copies and the jitter they measure, landmark voting in the decoder,
and `score --conditions / --stability` end to end."""
import json

import numpy as np
import pytest

from facelm.core.errors import UserError
from facelm.eval.data.conditions import CONDITIONS, check_conditions, conditioned_dataset, working_frame
from facelm.eval.data.moved import moved_copies, origin, transforms
from tests.conftest import cli_here, run_cli


def test_conditions_are_checked():
    assert check_conditions("dark,blur:3, roll:1") == (("dark", 2), ("blur", 3), ("roll", 1))
    assert check_conditions("all") == tuple((n, 2) for n in CONDITIONS) and len(CONDITIONS) == 8
    assert check_conditions("") == () and check_conditions("jpeg,jpeg:2") == (("jpeg", 2),)
    for bad, why in (("fog", "unknown condition 'fog'"), ("blur:4", "severity '4' outside 1-3"),
                     ("blur:x", "severity 'x' outside 1-3"), ("dark,roll:0", "--conditions roll:0")):
        with pytest.raises(UserError, match=why):
            check_conditions(bad)


def _dots(tmp_path, n=3, size=(240, 320)):
    """n images, one 68-point face each, every point a white dot on black."""
    import cv2

    from facelm.eval.data.datasets import load_dataset

    tmp_path.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        img = np.zeros((*size, 3), np.uint8)
        pts = rng.uniform(60, min(size) - 60, (68, 2))
        for x, y in pts:
            cv2.circle(img, (int(round(x)), int(round(y))), 2, (255, 255, 255), -1)
        cv2.imwrite(str(tmp_path / f"img{i}.png"), img)
        body = "\n".join(f"{x:.3f} {y:.3f}" for x, y in pts)
        (tmp_path / f"img{i}.pts").write_text(f"version: 1\nn_points: 68\n{{\n{body}\n}}\n")
    return load_dataset(tmp_path)


def _on_a_dot(img, pts, min_value=120):
    return all(img[int(round(y)) - 1:int(round(y)) + 2, int(round(x)) - 1:int(round(x)) + 2].max() >= min_value
               for x, y in pts)


def test_every_condition_renders_the_same_every_time_and_points_follow_the_pixels(tmp_path):
    import cv2

    ds = _dots(tmp_path / "src")
    for name in CONDITIONS:
        a = conditioned_dataset(ds, name, 3, cache=tmp_path / "a")
        b = conditioned_dataset(ds, name, 3, cache=tmp_path / "b")
        assert a.name == f"{ds.name}+{name}:3" and len(a.samples) == len(ds.samples)
        from facelm.eval.data.datasets import read_pts_folder  # faces.json says what the .pts files say

        plain = read_pts_folder(a.root)
        assert [s.image for s in plain.samples] == [s.image for s in a.samples] and plain.n_points == a.n_points
        assert all(np.array_equal(p.faces[0], q.faces[0]) for p, q in zip(plain.samples, a.samples))
        for sa, sb, s0 in zip(a.samples, b.samples, ds.samples):
            assert sa.image.read_bytes() == sb.image.read_bytes()
            img = cv2.imread(str(sa.image))
            if name in ("dark", "bright", "noise", "jpeg"):  # light and noise leave the points where they were
                np.testing.assert_allclose(sa.faces[0], s0.faces[0], atol=2e-3)
            if name == "roll":  # turned 35 degrees: the points moved, each still on its dot
                assert np.abs(sa.faces[0] - s0.faces[0]).max() > 5 and _on_a_dot(img, sa.faces[0])
    # an unlabelled folder cannot be put under a condition
    from facelm.eval.data.datasets import Dataset

    with pytest.raises(UserError, match="--conditions needs labelled faces"):
        conditioned_dataset(Dataset("imgs", tmp_path, [], None), "dark")


def test_the_working_frame_shrinks_only_large_faces():
    img = np.zeros((1000, 800, 3), np.uint8)
    big = np.array([[100.0, 100.0], [600.0, 700.0]])
    out, (pts,), size = working_frame(img, [big])
    assert size == pytest.approx(256, rel=1e-3) and out.shape[0] < 1000
    assert np.ptp(pts, 0) == pytest.approx(np.ptp(big, 0) * out.shape[0] / 1000, rel=2e-3)
    small = np.array([[10.0, 10.0], [110.0, 110.0]])
    out, (pts,), size = working_frame(img, [small])
    assert out is img and size == pytest.approx(100) and np.array_equal(pts, small)


def test_moved_copies_map_back_to_the_same_face(tmp_path):
    import cv2

    ds = _dots(tmp_path / "src")
    copies = moved_copies(ds, 3, cache=tmp_path / "c")
    assert len(copies) == 3 and all(len(c.samples) == len(ds.samples) for c in copies)
    shifts = []
    for c in copies:
        for s, m in zip(c.samples, transforms(c).values()):
            src = ds.samples[origin(s.image)]
            a = np.linalg.inv(m[:, :2])
            back = (s.faces[0] - m[:, 2]) @ a.T
            np.testing.assert_allclose(back, src.faces[0], atol=2e-3)  # the frame is the source's (small faces)
            assert _on_a_dot(cv2.imread(str(s.image)), s.faces[0], 60)
            shifts.append(np.abs(s.faces[0] - src.faces[0]).mean())
    assert 0 < max(shifts) < 6  # a few pixels


def test_training_copies_under_conditions(tmp_path):
    """train --conditions: every training face once more, each image under one of the named
    conditions (the renderer score measures with), its points moved where the condition moves it."""
    from facelm.eval.data.rendered import extras
    from facelm.train.run import TrainOptions
    from facelm.train.yolo_data import build_yolo_dataset

    ds = _dots(tmp_path / "src")
    opts = TrainOptions(conditions="blur,roll:3")
    assert opts.conditions == ("blur:2", "roll:3") and "conditions blur:2,roll:3" in opts.augmentation()
    build_yolo_dataset(ds.root, ds.root, tmp_path / "yolo", 51, conditions=opts.conditions)
    train = sorted((tmp_path / "yolo" / "images" / "train").iterdir())
    copies = [p for p in train if p.name.startswith("cond_")]
    assert len(train) == 2 * len(ds.samples) and len(copies) == len(ds.samples)
    which = extras(copies[0].resolve().parent)
    assert len(which) == len(ds.samples) and set(which.values()) <= {"blur:2", "roll:3"}
    with pytest.raises(UserError, match="--conditions fog: unknown condition"):
        TrainOptions(conditions="fog")


def test_jitter_is_the_spread_of_the_mapped_back_points(tmp_path):
    """Predictions placed by hand: each copy's face is the ground truth plus a known offset, so the
    jitter is known; a face missed in one copy has none and counts as unsteady."""
    from facelm.eval.infer.decode import Face
    from facelm.eval.metrics.evaluate import EvalResult
    from facelm.eval.metrics.stability import face_jitters, summary

    ds = _dots(tmp_path / "src", n=2)
    copies = moved_copies(ds, 4, cache=tmp_path / "c")
    offsets = [(1, 0), (-1, 0), (0, 1), (0, -1)]  # RMS spread about the mean: exactly 1 px
    results = []
    for k, (c, off) in enumerate(zip(copies, offsets)):
        res = EvalResult(None)
        for s, m in zip(c.samples, transforms(c).values()):
            if origin(s.image) == 1 and k == 2:  # the second face is missed in one copy
                res.matches[str(s.image)], res.predictions[str(s.image)] = [(0, None, float("inf"))], []
                continue
            gt = ds.samples[origin(s.image)].faces[0] + off  # in the source frame, then moved into the copy
            pts = gt @ m[:, :2].T + m[:, 2]
            res.predictions[str(s.image)] = [Face(np.zeros(4), 0.9, 0, pts, np.ones(68))]
            res.matches[str(s.image)] = [(0, 0, 0.0)]
        results.append(res)
    recs = face_jitters(ds, copies, results, (list(range(68)), list(range(68)), list(range(68))))
    iod = np.linalg.norm(ds.samples[0].faces[0][36] - ds.samples[0].faces[0][45])
    assert recs[0]["jitter"] == pytest.approx(100 / iod, rel=1e-3) and recs[0]["missed"] == 0
    assert recs[1]["jitter"] is None and recs[1]["missed"] == 1
    assert summary(recs) == {"jitter": round(100 / iod, 3), "faces": 1, "unsteady": 1}


def test_landmark_voting_averages_the_anchors_of_one_face():
    """Two candidates for one face (IoU 0.9) and one elsewhere: voting takes the score-weighted
    mean of the two, never the third; vote=0 keeps the top anchor's points alone."""
    from facelm.core.contract import ModelSpec
    from facelm.eval.infer.decode import DecodeOptions, decode
    from facelm.eval.infer.preprocess import Letterbox

    spec = ModelSpec((1, 2), 1, (64, 64), "packed")
    rows = [[32, 32, 20, 20, 0.9, 30, 30], [32.5, 32, 20, 20, 0.6, 35, 30], [10, 10, 8, 8, 0.8, 11, 11]]
    out = np.asarray(rows, np.float32).T[None]
    lb = Letterbox((64, 64), (1.0, 1.0), (0, 0))
    voted = {round(f.score, 2): f.points[0] for f in decode([out], spec, lb)}
    alone = {round(f.score, 2): f.points[0] for f in decode([out], spec, lb, DecodeOptions(vote=0))}
    np.testing.assert_allclose(voted[0.9], [(0.9 * 30 + 0.6 * 35) / 1.5, 30], atol=1e-4)
    np.testing.assert_allclose(alone[0.9], [30, 30], atol=1e-4)
    np.testing.assert_allclose(voted[0.8], [11, 11], atol=1e-4)
    with pytest.raises(Exception, match="vote"):
        DecodeOptions(vote=1.5)


@pytest.mark.shared_data
def test_score_under_conditions_and_its_jitter(default_model, faces, tmp_path):
    env = {"FACELM_CACHE": str(tmp_path / "cache")}
    code, out, err = run_cli("score", default_model, "--data", faces / "afw", "--conditions", "dark,roll:3",
                             "--stability", "--max-images", "12", "--no-latency", "--out", tmp_path / "s", env=env)
    assert code == 0, err[-2000:]
    row = json.loads((tmp_path / "s" / "scores.json").read_text())["rows"][0]
    assert set(row["conditions"]) == {"dark:2", "roll:3"}
    for c in row["conditions"].values():
        assert c["faces"] == row["faces"] and c["nme"] > 0 and 0 <= c["miss"] <= 100 and c["imitates"]
    assert row["jitter"] > 0 and row["jitter_faces"] > 0 and row["jitter_x"] is None  # a .pt has no parent
    assert "dark:2 NME% (miss)" in out and "roll:3: a tilted head" in out and "jitter% ↓" in out
    from facelm.scores.records import read_faces

    recs = read_faces(tmp_path / "s" / "faces.csv")
    assert {r["set"] for r in recs} == {"", "dark:2", "roll:3"}
    assert any(r["jitter"] for r in recs if not r["set"]) and not any(r["jitter"] for r in recs if r["set"])
    # the report: a chart and the worst faces under each condition, drawn from the rendered faces
    code, _, err = run_cli("report", tmp_path / "s", "--out", tmp_path / "r", "--faces", "2", env=env)
    assert code == 0, err[-2000:]
    page = (tmp_path / "r" / "report.html").read_text()
    assert "conditions.png" in page and page.count('data-gallery="condition"') == 2
    assert page.count("<figure data-image=") >= 4 and "could not draw" not in page


@pytest.mark.shared_data
def test_conditions_and_stability_refuse_bad_input(default_model, faces, tmp_path):
    for args, why in ((("--conditions", "fog"), "--conditions fog: unknown condition"),
                      (("--conditions", "blur:9"), "--conditions blur:9: severity '9' outside 1-3")):
        code, _, err = cli_here("score", default_model, *args, "--no-latency", "--out", tmp_path / "x")
        assert code == 2 and why in err and err.count("\n") == 1, err
    images = tmp_path / "imgs"
    images.mkdir()
    import shutil

    shutil.copyfile(next((faces / "afw").glob("*.jpg")), images / "a.jpg")
    code, _, err = cli_here("score", default_model, "--data", images, "--stability", "--no-latency",
                            "--out", tmp_path / "y")
    assert code == 2 and "--stability needs labelled faces" in err and err.count("\n") == 1, err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
