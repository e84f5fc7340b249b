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


#: Images read ahead of the one in use (a window, so a large folder never sits in memory whole).
READ_AHEAD = 8


def read_ahead(paths, have: dict | None = None, window: int = READ_AHEAD):
    """(path, image or None) for each path in order; images not in `have` are read on a worker
    thread, up to `window` ahead, while the caller works on the current one (decoding a JPEG
    releases the GIL: on two cores reading overlaps inference instead of preceding it)."""
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    have = have or {}
    paths = iter(paths)
    with ThreadPoolExecutor(1, thread_name_prefix="facelm-read") as pool:
        todo: deque = deque()

        def more():
            for p in paths:
                img = have.get(str(p))
                todo.append((p, img if img is not None else pool.submit(read_image, p)))
                if len(todo) > window:
                    return

        more()
        while todo:
            p, item = todo.popleft()
            more()
            yield p, item.result() if isinstance(item, Future) else item
