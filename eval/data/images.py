"""Reading an image file: one reader for datasets, scaled sets, calibration, evaluation and the
submission runner."""
from __future__ import annotations

import cv2
import numpy as np


def read_image(path) -> np.ndarray | None:
    """cv2.imread that also reads paths with non-ASCII characters; None when unreadable."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError:
        return None
    if data.size == 0:
        return None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return img
