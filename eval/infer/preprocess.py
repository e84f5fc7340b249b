"""The one preprocessing function: letterbox exactly as ultralytics does (so checkpoints see
what they were trained on), BGR->RGB, 0..1 float, NCHW. Calibration, evaluation, verification
and the submission runner all call this, and Letterbox.to_original undoes it."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from facelm.core.errors import InputError
from facelm.eval.data.images import read_image  # noqa: F401 - the pipeline's reader, re-exported

PAD_VALUE = 114


@dataclass(frozen=True)
class Letterbox:
    """How an original image was placed in the model input."""
    orig_hw: tuple[int, int]
    gain_xy: tuple[float, float]
    pad_xy: tuple[int, int]

    def to_original(self, xy: np.ndarray) -> np.ndarray:
        """Input-pixel coordinates (..., 2) -> original-image pixels, clipped to the image."""
        out = (xy - np.asarray(self.pad_xy, np.float64)) / np.asarray(self.gain_xy, np.float64)
        h, w = self.orig_hw
        out[..., 0] = out[..., 0].clip(0, w)
        out[..., 1] = out[..., 1].clip(0, h)
        return out


def letterbox(image_bgr: np.ndarray, hw: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping aspect ratio and pad to hw with grey 114, centred (ultralytics' LetterBox
    with auto=False, scaleup=True)."""
    h0, w0 = image_bgr.shape[:2]
    nh, nw = hw
    r = min(nh / h0, nw / w0)
    new_w, new_h = max(round(w0 * r), 1), max(round(h0 * r), 1)
    dw, dh = (nw - new_w) / 2, (nh - new_h) / 2
    img = image_bgr if (w0, h0) == (new_w, new_h) else cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    return img, Letterbox((h0, w0), (new_w / w0, new_h / h0), (left, top))


def preprocess(image_bgr: np.ndarray, hw: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """Image (H, W, 3) BGR uint8 -> model input [1, 3, h, w] float32 RGB in 0..1, and its letterbox."""
    if image_bgr is None or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        raise InputError("expected a 3-channel image")
    img, lb = letterbox(image_bgr, hw)
    x = np.ascontiguousarray(img[:, :, ::-1].transpose(2, 0, 1))[None].astype(np.float32) / 255.0
    return x, lb
