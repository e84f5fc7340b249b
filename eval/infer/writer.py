"""The challenge's output format: one text file per image, .pts layout, one block per face,
51 points, faces ordered right to left, absolute pixels of the original image."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facelm.core.files import write_text_atomic
from facelm.eval.data.landmarks import IDX51_IN_68
from facelm.core.errors import InputError


def to_51(points: np.ndarray) -> np.ndarray:
    """A model's 68 or 51 points as the challenge's 51."""
    if len(points) == 68:
        return points[list(IDX51_IN_68)]
    if len(points) == 51:
        return points
    raise InputError(f"{len(points)} landmarks cannot be written as the challenge's 51")


def right_to_left(faces: list[np.ndarray]) -> list[np.ndarray]:
    """The challenge's face order: by the mean x of their points, rightmost first."""
    return sorted(faces, key=lambda p: -float(np.mean(p[:, 0])))


def format_pts(faces: list[np.ndarray]) -> str:
    """Faces right to left, one `{ }` block each."""
    blocks = []
    for pts in right_to_left(faces):
        body = "\n".join(f"{x:.3f} {y:.3f}" for x, y in pts)
        blocks.append(f"version: 1\nn_points: {len(pts)}\n{{\n{body}\n}}\n")
    return "".join(blocks)


def write_predictions(image: Path, faces: list[np.ndarray], out_dir: Path) -> Path:
    return write_text_atomic(Path(out_dir) / (Path(image).stem + ".txt"), format_pts([to_51(f) for f in faces]))


def predict_faces(rt, spec, image: Path, opts=None) -> list[np.ndarray] | None:
    """One image's faces as the challenge's 51 points, right to left; None when it cannot be read."""
    from facelm.eval.infer.decode import DecodeOptions
    from facelm.eval.infer.image import detect
    from facelm.eval.infer.preprocess import read_image

    img = read_image(image)
    if img is None:
        return None
    return right_to_left([to_51(f.points) for f in detect(rt, spec, img, opts or DecodeOptions())])


def predict_image(rt, spec, image: Path, out_dir: Path, opts=None) -> bool:
    """Write one image's file (predict and the submission runner alike). An unreadable image
    still gets its file, listing no face, so every image of the list has an output; returns
    whether the image was read."""
    faces = predict_faces(rt, spec, image, opts)
    write_predictions(image, faces or [], out_dir)
    return faces is not None
