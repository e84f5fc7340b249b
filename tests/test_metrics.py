"""NME, failure rate and AUC against an independent implementation on hand-made cases."""
import math

import numpy as np
import pytest

from facelm.eval.metrics.nme import auc, face_nme, match, summarise


def reference_nme(pred, gt, d):
    """The standard formula, written out: mean over points of the Euclidean error, / d."""
    total = 0.0
    for (px, py), (gx, gy) in zip(pred, gt):
        total += math.sqrt((px - gx) ** 2 + (py - gy) ** 2)
    return total / len(gt) / d


def face68(scale=100.0, seed=0):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, scale, (68, 2))
    pts[36], pts[45] = (20, 40), (80, 40)  # inter-ocular distance 60
    return pts


def test_nme_known_answer():
    gt = face68()
    pred = gt + np.array([3.0, 4.0])  # every point 5 px off
    nme, errs = face_nme(pred, gt, list(range(68)), "inter-ocular", gt)
    assert nme == pytest.approx(5 / 60)
    assert np.allclose(errs, 5 / 60)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_nme_matches_reference_on_random_faces(seed):
    rng = np.random.default_rng(seed)
    gt = face68(seed=seed)
    pred = gt + rng.normal(0, 2.0, gt.shape)
    nme, _ = face_nme(pred, gt, list(range(68)), "inter-ocular", gt)
    assert nme == pytest.approx(reference_nme(pred, gt, 60.0), rel=1e-12)
    w, h = np.ptp(gt, 0)
    nme_b, _ = face_nme(pred, gt, list(range(68)), "bbox", gt)
    assert nme_b == pytest.approx(reference_nme(pred, gt, math.sqrt(w * h)), rel=1e-12)


def test_51_point_subset_uses_its_own_eye_corners():
    gt = face68()[17:]
    pred = gt + np.array([0.0, 6.0])
    nme, _ = face_nme(pred, gt, list(range(17, 68)), "inter-ocular", gt)
    assert nme == pytest.approx(6 / 60)


def test_failure_rate_auc_and_misses():
    nmes = [0.02, 0.05, 0.09, 0.12, float("inf")]
    errs = [np.full(68, v) for v in nmes[:4]]
    s = summarise(nmes, errs, list(range(68)))
    assert s.n_faces == 5 and s.n_missed == 1
    assert s.nme == pytest.approx(np.mean(nmes[:4]) * 100, abs=1e-3)
    assert s.fr[0.08] == pytest.approx(60.0) and s.fr[0.10] == pytest.approx(40.0)
    # CED at 0.10: area = (0.10-0.02)*0.2 + (0.10-0.05)*0.2 + (0.10-0.09)*0.2 over 0.10
    assert s.auc[0.10] == pytest.approx((0.08 + 0.05 + 0.01) * 0.2 / 0.10, abs=2e-3)
    assert auc(np.array([0.0]), 0.1) == pytest.approx(1.0, abs=2e-3)
    assert set(s.regions) == {"jaw", "brows", "nose", "eyes", "mouth"}


def test_matching_is_one_to_one_and_reports_misses():
    a = face68(seed=4)
    b = a + 300
    m = match([a, b], [b + 1, a - 1, a + 500])
    assert m == [1, 0]
    assert match([a], []) == [None]
    assert match([a], [a + 1000]) == [None]
