"""Calibration selection: deterministic, covers the data, honest about too few images."""
import cv2
import numpy as np
import pytest

from facelm.calib.select import CalibOptions, build_calibration, k_center, onnx2tf_sample
from facelm.core.errors import UserError


def test_k_center_covers_every_cluster_first():
    rng = np.random.default_rng(0)
    centres = rng.uniform(-50, 50, (6, 8))
    sizes = [200, 100, 50, 20, 5, 2]  # very unequal clusters: the first N files would miss some
    feats = np.concatenate([c + rng.normal(0, 0.5, (n, 8)) for c, n in zip(centres, sizes)])
    labels = np.repeat(np.arange(6), sizes)
    chosen = k_center(feats, 6)
    assert sorted(labels[chosen]) == list(range(6))
    assert k_center(feats, 6) == chosen  # deterministic
    assert len(set(k_center(feats, 40))) == 40


def _folder(path, n, seed=0):
    path.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(n):
        colour = rng.integers(0, 255, 3).tolist()
        img = np.full((60 + i, 80, 3), colour, np.uint8)
        cv2.circle(img, (40, 30), 10 + i % 7, (255 - colour[0], 0, colour[2]), -1)
        cv2.imwrite(str(path / f"img{i:03d}.jpg"), img)
    return path


def test_selection_is_cached_and_deterministic(tmp_path):
    src = _folder(tmp_path / "faces", 30)
    opts = CalibOptions(n=10, imgsz=(64, 64))
    a = build_calibration(src, opts, tmp_path / "cache")
    # the selection, and the descriptors every N and size of these faces share
    (desc,) = (tmp_path / "cache").glob("descriptors-*.npz")
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2
    made = desc.stat().st_mtime_ns
    c = build_calibration(src, CalibOptions(n=5, imgsz=(96, 96)), tmp_path / "cache")
    assert c.images == a.images[:5] and desc.stat().st_mtime_ns == made  # k-center's first 5, not recomputed
    b = build_calibration(src, opts, tmp_path / "cache2")
    assert a.images == b.images and np.array_equal(a.arrays, b.arrays)
    assert a.arrays.shape == (10, 3, 64, 64) and a.arrays.dtype == np.float32
    assert onnx2tf_sample(a.arrays).shape == (20, 128, 128, 3)


def test_too_few_images_uses_what_there_is_and_says_so(tmp_path):
    src = _folder(tmp_path / "few", 4)
    cs = build_calibration(src, CalibOptions(n=100, imgsz=(32, 32)), tmp_path / "c")
    assert len(cs.images) == 4 and "using 4" in cs.note


def test_empty_and_unreadable_folders_are_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="empty"):
        build_calibration(tmp_path / "empty", CalibOptions(n=5, imgsz=(32, 32)), tmp_path / "c")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.jpg").write_bytes(b"not an image")
    with pytest.raises(UserError, match="no readable images"):
        build_calibration(bad, CalibOptions(n=5, imgsz=(32, 32)), tmp_path / "c")
