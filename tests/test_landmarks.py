import numpy as np
import pytest

from facelm.eval.data.landmarks import FLIP51, FLIP68, canonical_indices, common_points, normaliser


def test_flip_indices_are_involutions():
    for flip in (FLIP68, FLIP51):
        assert sorted(flip) == list(range(len(flip)))
        assert all(flip[flip[i]] == i for i in range(len(flip)))
    assert FLIP68[36] == 45 and FLIP68[48] == 54 and FLIP68[8] == 8 and FLIP68[30] == 30
    assert FLIP51[36 - 17] == 45 - 17


def test_51_is_68_without_jaw():
    assert canonical_indices(51) == tuple(range(17, 68))
    m, d, ids = common_points(51, 68)
    assert m == list(range(51)) and d == list(range(17, 68)) and ids == list(range(17, 68))
    m, d, ids = common_points(68, 51)
    assert m == list(range(17, 68)) and d == list(range(51))
    with pytest.raises(ValueError):
        common_points(17, 68)


def test_normalisers_on_known_geometry():
    gt = {i: np.array([0.0, 0.0]) for i in range(36, 48)}
    gt[36] = np.array([0.0, 0.0])
    gt[45] = np.array([30.0, 40.0])
    assert normaliser(gt, "inter-ocular", np.zeros((2, 2))) == pytest.approx(50.0)
    for i in range(36, 42):
        gt[i] = np.array([10.0, 10.0])
    for i in range(42, 48):
        gt[i] = np.array([16.0, 18.0])
    assert normaliser(gt, "inter-pupil", np.zeros((2, 2))) == pytest.approx(10.0)
    pts = np.array([[0, 0], [40, 10], [20, 90.0]])
    assert normaliser(gt, "bbox", pts) == pytest.approx(60.0)
