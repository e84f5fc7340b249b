"""The decoder reads both layouts identically, and the letterbox round-trips."""
import numpy as np
import pytest

from facelm.eval.infer.decode import DecodeOptions, ModelSpec, decode
from facelm.eval.infer.preprocess import letterbox, preprocess


def _outputs(n=50, k=51, hw=(96, 128), seed=0):
    rng = np.random.default_rng(seed)
    h, w = hw
    boxes = np.column_stack([rng.uniform(0.2, 0.8, n), rng.uniform(0.2, 0.8, n), rng.uniform(0.05, 0.3, (n, 2))])
    scores = rng.uniform(0, 1, (n, 1))
    kp = rng.uniform(0, 1, (n, k, 3))
    planar = kp.transpose(0, 2, 1).reshape(1, n, k * 3)  # x of every point, then y, then visibility
    split = [boxes[None].astype(np.float32), scores[None].astype(np.float32), planar.astype(np.float32)]
    pk = kp.copy()
    pk[..., 0] *= w
    pk[..., 1] *= h
    packed = np.concatenate([boxes * [w, h, w, h], scores, pk.reshape(n, -1)], 1).T[None].astype(np.float32)
    return split, packed


def test_split_and_packed_layouts_decode_the_same():
    spec = ModelSpec((51, 3), 1, (96, 128))
    split, packed = _outputs()
    img = np.zeros((300, 400, 3), np.uint8)
    _, lb = letterbox(img, spec.imgsz)
    a, b = decode(split, spec, lb), decode([packed], spec, lb)
    assert len(a) == len(b) > 0
    for fa, fb in zip(a, b):
        assert np.allclose(fa.points, fb.points, atol=1e-3) and np.allclose(fa.box, fb.box, atol=1e-3)
        assert fa.points.shape == (51, 2) and fa.score >= 0.25


def test_an_end_to_end_export_decodes_like_the_packed_one():
    """ultralytics' NMS-free export: rows x1, y1, x2, y2, score, class, points in pixels."""
    from facelm.core.contract import LAYOUT_E2E

    hw = (96, 128)
    _, packed = _outputs(hw=hw)
    p = packed[0].T  # rows cx, cy, w, h, score, points
    e2e = np.concatenate([p[:, :2] - p[:, 2:4] / 2, p[:, :2] + p[:, 2:4] / 2, p[:, 4:5], np.zeros((len(p), 1)),
                          p[:, 5:]], 1)[None].astype(np.float32)
    img = np.zeros((300, 400, 3), np.uint8)
    _, lb = letterbox(img, hw)
    a = decode([packed], ModelSpec((51, 3), 1, hw), lb)
    b = decode([e2e], ModelSpec((51, 3), 1, hw, LAYOUT_E2E), lb)
    assert len(a) == len(b) > 0
    for fa, fb in zip(a, b):
        assert np.allclose(fa.points, fb.points, atol=1e-3) and np.allclose(fa.box, fb.box, atol=1e-3)
    with pytest.raises(ValueError, match="end-to-end output"):
        decode([e2e[:, :, :-3]], ModelSpec((51, 3), 1, hw, LAYOUT_E2E), lb)


def test_thresholds_and_nms():
    spec = ModelSpec((51, 3), 1, (96, 128))
    split, _ = _outputs()
    _, lb = letterbox(np.zeros((96, 128, 3), np.uint8), spec.imgsz)
    assert decode(split, spec, lb, DecodeOptions(conf=1.0)) == []
    many = decode(split, spec, lb, DecodeOptions(conf=0.0, iou=1.0))
    few = decode(split, spec, lb, DecodeOptions(conf=0.0, iou=0.1))
    assert len(few) < len(many)
    with pytest.raises(ValueError):
        DecodeOptions(conf=2)


def test_letterbox_round_trip_and_ultralytics_equality():
    from ultralytics.data.augment import LetterBox

    rng = np.random.default_rng(0)
    for h, w in [(300, 500), (512, 341), (64, 64), (97, 203)]:
        img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        ours, lb = letterbox(img, (160, 160))
        theirs = LetterBox((160, 160), auto=False)(image=img)
        assert np.array_equal(ours, theirs)
        pts = rng.uniform(0, [w, h], (10, 2))
        inp = pts * lb.gain_xy + lb.pad_xy
        assert np.allclose(lb.to_original(inp), pts, atol=1e-6)
    x, _ = preprocess(img, (160, 160))
    assert x.shape == (1, 3, 160, 160) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1


def test_anchor_offsets_decode_like_absolute_landmarks():
    """The split head's offsets from each anchor's grid point, plus the grid point in float,
    give the same faces as absolute landmarks."""
    from facelm.eval.infer.decode import grid_points

    hw, k = (96, 128), 51
    n = sum((96 // s) * (128 // s) for s in (8, 16, 32))
    v1, _ = _outputs(n=n, hw=hw)
    gx, gy = grid_points(n, hw)
    kp = v1[2][0].reshape(n, 3, k)
    off = np.concatenate([kp[:, 0] - gx[:, None], kp[:, 1] - gy[:, None]], 1)[None].astype(np.float32)
    v2 = [v1[0], v1[1], off, kp[:, 2][None].astype(np.float32)]
    _, lb = letterbox(np.zeros((300, 400, 3), np.uint8), hw)
    a, b = decode(v1, ModelSpec((k, 3), 1, hw), lb), decode(v2, ModelSpec((k, 3), 1, hw), lb)
    assert len(a) == len(b) > 0
    for fa, fb in zip(a, b):
        assert np.allclose(fa.points, fb.points, atol=1e-3) and np.allclose(fa.vis, fb.vis)
    with pytest.raises(ValueError, match="do not tile"):
        grid_points(n + 1, hw)
