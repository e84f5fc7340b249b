import cv2
import numpy as np
import pytest

from facelm.eval.data.datasets import DatasetError, load_dataset, parse_pts


def _pts(points, header=True):
    body = "\n".join(f"{x} {y}" for x, y in points)
    return f"version: 1\nn_points: {len(points)}\n{{\n{body}\n}}\n" if header else body + "\n"


def _img(path, w=120, h=100):
    cv2.imwrite(str(path), np.full((h, w, 3), 128, np.uint8))


def test_parse_pts_variants():
    pts = np.arange(136, dtype=float).reshape(68, 2)
    assert np.allclose(parse_pts(_pts(pts))[0], pts)
    assert np.allclose(parse_pts(_pts(pts, header=False))[0], pts)
    two = "{\n1 2\n3 4\n}\n{\n5 6\n7 8\n}\n"
    faces = parse_pts(two)
    assert len(faces) == 2 and faces[1].tolist() == [[5, 6], [7, 8]]
    with pytest.raises(ValueError):
        parse_pts("version: 1\nn_points: 68\n{\n1 2\n}\n")
    with pytest.raises(ValueError):
        parse_pts("{\n1 two\n}\n")


def test_pts_folder_multi_face_and_bad_files(tmp_path):
    pts = np.random.default_rng(0).uniform(10, 90, (68, 2))
    _img(tmp_path / "a.jpg")
    (tmp_path / "a_1.pts").write_text(_pts(pts))
    (tmp_path / "a_2.pts").write_text(_pts(pts + 5))
    _img(tmp_path / "b.png")
    (tmp_path / "b.pts").write_text(_pts(pts[17:]))  # a 51-point file among 68-point ones
    _img(tmp_path / "c.jpg")
    (tmp_path / "c.pts").write_text("{\n1 x\n}")       # malformed
    (tmp_path / "orphan.pts").write_text(_pts(pts))   # no image
    ds = load_dataset(tmp_path)
    assert ds.n_points == 68
    assert len(ds.samples) == 1 and len(ds.samples[0].faces) == 2
    reasons = " ".join(r for _, r in ds.skipped)
    assert "malformed" in reasons and "no image" in reasons and "51 points" in reasons


def test_challenge_layout_and_yolo_layout(tmp_path):
    pts = np.random.default_rng(1).uniform(10, 90, (51, 2))
    (tmp_path / "ch" / "images").mkdir(parents=True)
    (tmp_path / "ch" / "labels").mkdir()
    _img(tmp_path / "ch" / "images" / "x.jpg")
    (tmp_path / "ch" / "labels" / "x.pts").write_text(_pts(pts) + _pts(pts + 3))
    ds = load_dataset(tmp_path / "ch")
    assert ds.n_points == 51 and len(ds.samples[0].faces) == 2

    from facelm.train.yolo_data import build_yolo_dataset

    src = tmp_path / "pts"
    src.mkdir()
    p68 = np.random.default_rng(2).uniform(20, 80, (68, 2))
    _img(src / "f.jpg")
    (src / "f.pts").write_text(_pts(p68))
    yaml_path = build_yolo_dataset(src, src, tmp_path / "yolo", 51)
    back = load_dataset(yaml_path)
    assert back.n_points == 51
    assert np.allclose(back.samples[0].faces[0], p68[17:], atol=1e-3)


def test_plain_images_and_empty(tmp_path):
    _img(tmp_path / "only.jpg")
    ds = load_dataset(tmp_path)
    assert not ds.labelled and len(ds.samples) == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError):
        load_dataset(tmp_path / "empty")
    with pytest.raises(DatasetError):
        load_dataset(tmp_path / "missing")


def test_read_ahead_keeps_order_bounds_its_window_and_reuses_decoded(tmp_path, monkeypatch):
    from facelm.eval.data import images

    paths = []
    for i in range(20):
        p = tmp_path / f"{i:02d}.png"
        cv2.imwrite(str(p), np.full((8, 8, 3), i, np.uint8))
        paths.append(p)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    paths.insert(5, tmp_path / "bad.png")
    have = {str(paths[0]): np.full((8, 8, 3), 200, np.uint8)}  # decoded already: not read again
    reads, pending = [], []
    real = images.read_image

    def counting(p):
        reads.append(p)
        return real(p)

    monkeypatch.setattr(images, "read_image", counting)
    got = []
    for p, img in images.read_ahead(paths, have, window=3):
        pending.append(len(reads) - len(got))  # read but not yet handed out
        got.append((p, img))
    assert [p for p, _ in got] == paths
    assert got[0][1][0, 0, 0] == 200 and paths[0] not in reads
    assert got[5][1] is None  # unreadable: None, as read_image says
    assert [int(img[0, 0, 0]) for p, img in got if img is not None][1:] == list(range(1, 20))
    assert max(pending) <= 4  # never more than the window ahead of the caller


def test_extra_sets_fingerprint_their_source_once(monkeypatch):
    from facelm.core import files
    from facelm.eval.data.datasets import Dataset, Sample
    from facelm.eval.data.rendered import same_sources, source_key

    calls = []
    monkeypatch.setattr(files, "fingerprint", lambda fs: calls.append(list(fs)) or "f" * 64)
    ds = Dataset("x", ".", [Sample("a.jpg", ())], None)
    with same_sources():
        assert source_key(ds) == source_key(ds) == "f" * 12
    assert len(calls) == 1
    source_key(ds)  # outside a block every call looks at the files again
    assert len(calls) == 2
