"""Landmark conventions: canonical iBUG-68 order, the challenge's 51-point subset, regions,
mirror indices and normalisers. Everything else maps its points through these tables."""
from __future__ import annotations

import numpy as np

from facelm.core.errors import InputError

N68 = 68
JAW = tuple(range(0, 17))
#: The challenge's 51 points are the 68 without the jaw, in the same order.
IDX51_IN_68 = tuple(range(17, 68))

REGIONS = {
    "jaw": tuple(range(0, 17)),
    "brows": tuple(range(17, 27)),
    "nose": tuple(range(27, 36)),
    "eyes": tuple(range(36, 48)),
    "mouth": tuple(range(48, 68)),
}
OUTER_EYE_CORNERS = (36, 45)
RIGHT_EYE, LEFT_EYE = tuple(range(36, 42)), tuple(range(42, 48))

# Mirror partner of each of the 68 points (a horizontal flip swaps left and right).
_PAIRS = [(0, 16), (1, 15), (2, 14), (3, 13), (4, 12), (5, 11), (6, 10), (7, 9),
          (17, 26), (18, 25), (19, 24), (20, 23), (21, 22),
          (31, 35), (32, 34),
          (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),
          (48, 54), (49, 53), (50, 52), (55, 59), (56, 58),
          (60, 64), (61, 63), (65, 67)]
FLIP68 = list(range(N68))
for _a, _b in _PAIRS:
    FLIP68[_a], FLIP68[_b] = _b, _a
FLIP68 = tuple(FLIP68)
FLIP51 = tuple(FLIP68[i] - 17 for i in IDX51_IN_68)


def canonical_indices(n_points: int) -> tuple[int, ...]:
    """Return the iBUG-68 index of each of a layout's points (68 or 51 points).

    Raises ValueError for counts with no known mapping onto the 68-point order."""
    if n_points == 68:
        return tuple(range(68))
    if n_points == 51:
        return IDX51_IN_68
    raise InputError(f"{n_points} landmarks have no known mapping onto the iBUG-68 order (68 or 51 expected)")


def flip_indices(n_points: int) -> tuple[int, ...]:
    """Mirror partner of each point for a 68- or 51-point layout (for horizontal flips)."""
    return {68: FLIP68, 51: FLIP51}.get(n_points) or _raise(n_points)


def _raise(n_points: int):
    raise InputError(f"no mirror indices known for {n_points} landmarks (68 or 51 expected)")


def common_points(model_points: int, data_points: int) -> tuple[list[int], list[int], list[int]]:
    """Points both sides have: (indices into model points, indices into data points, iBUG-68 ids).

    Equal counts that are neither 51 nor 68 are taken as the same layout."""
    if model_points == data_points and model_points not in (51, 68):
        idx = list(range(model_points))
        return idx, idx, idx
    m, d = canonical_indices(model_points), canonical_indices(data_points)
    shared = [c for c in m if c in d]
    return [m.index(c) for c in shared], [d.index(c) for c in shared], shared


def normaliser(gt68: dict[int, np.ndarray], kind: str, all_gt: np.ndarray) -> float:
    """Distance that divides the point-to-point error.

    gt68 maps iBUG-68 ids to ground-truth (x, y); all_gt is every ground-truth point.
    kind: 'inter-ocular' (outer eye corners), 'inter-pupil' (eye centres) or 'bbox'
    (sqrt(w*h) of the ground-truth points)."""
    if kind == "bbox":
        wh = all_gt.max(0) - all_gt.min(0)
        return float(np.sqrt(max(wh[0], 1e-9) * max(wh[1], 1e-9)))
    if kind == "inter-ocular":
        a, b = OUTER_EYE_CORNERS
        if a not in gt68 or b not in gt68:
            raise InputError("inter-ocular normaliser needs points 36 and 45 of the 68-point order")
        return float(np.linalg.norm(gt68[a] - gt68[b]))
    if kind == "inter-pupil":
        if not all(i in gt68 for i in RIGHT_EYE + LEFT_EYE):
            raise InputError("inter-pupil normaliser needs the eye points 36-47 of the 68-point order")
        r = np.mean([gt68[i] for i in RIGHT_EYE], 0)
        l = np.mean([gt68[i] for i in LEFT_EYE], 0)
        return float(np.linalg.norm(r - l))
    raise InputError(f"unknown normaliser {kind!r} (inter-ocular, inter-pupil or bbox)")
