"""Galleries: the faces where a quantised artifact drifts most from its float parent, and its
worst faces against ground truth, picked from faces.csv and drawn by running the same
artifacts on those images again (the evaluator's own path: detect, then match to the labels)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

SIDE = 200  # px, the drawn crop's longer side
GREEN, RED, GREY = (60, 180, 75), (40, 40, 230), (160, 160, 160)  # BGR


def pick(faces: list[dict], artifact: str, runtime: str, by: str, n: int) -> list[dict]:
    """The n faces of one row with the largest `by` (drift or nme), ties by image and face."""
    own = [f for f in faces if f["artifact"] == artifact and f["runtime"] == runtime and f[by] is not None]
    return sorted(own, key=lambda f: (-f[by], f["image"], f["face"]))[:n]


class Drawer:
    """Runs artifacts on labelled images and draws one face's points, reference against child."""

    def __init__(self, data, out_dir: Path):
        from facelm.eval.data.datasets import load_dataset

        self.ds = load_dataset(data) if data and Path(data).exists() else None
        self.samples = {str(s.image): s for s in self.ds.samples} if self.ds else {}
        self.out, self._rts, self._found, self._folders = Path(out_dir), {}, {}, set()

    def _sample(self, image: str):
        """The labelled sample of an image: of the scored faces, or of a rendered set beside it
        (a condition's faces in the cache), read once per folder."""
        if image not in self.samples and self.ds and Path(image).parent not in self._folders:
            from facelm.eval.data.datasets import load_dataset

            self._folders.add(Path(image).parent)
            if (Path(image).parent / ".done").is_file():
                self.samples.update({str(s.image): s for s in load_dataset(Path(image).parent).samples})
        return self.samples.get(image)

    def _faces(self, artifact: str, runtime: str, sample, img):
        """The artifact's points matched to each labelled face (shared points), None for a miss;
        once per artifact and image (a face can be in both galleries, a parent in many)."""
        key = (artifact, runtime, str(sample.image))
        if key not in self._found:
            self._found[key] = self._match(artifact, runtime, sample, img)
        return self._found[key]

    def _match(self, artifact: str, runtime: str, sample, img):
        from facelm.eval.infer.artifact import describe
        from facelm.eval.metrics.evaluate import point_mapping
        from facelm.eval.infer.image import detect
        from facelm.eval.metrics.nme import match
        from facelm.eval.infer.runtimes import open_runtime

        if (artifact, runtime) not in self._rts:
            art = describe(Path(artifact))
            self._rts[(artifact, runtime)] = (open_runtime(Path(artifact), 1, runtime=runtime), art.spec)
        rt, spec = self._rts[(artifact, runtime)]
        m_idx, d_idx, _ = point_mapping(spec.kpt_shape[0], self.ds.n_points, str(self.ds.root))
        preds = [f.points[m_idx] for f in detect(rt, spec, img)]
        gts = [g[d_idx] for g in sample.faces]
        return gts, [None if pi is None else preds[pi] for pi in match(gts, preds)]

    def draw(self, rec: dict, reference: tuple | None, name: str) -> dict:
        """rec: a faces.csv record; reference: (artifact, runtime) of the float parent, or None
        for ground truth. Returns the figure's entry (its file, or why it could not be drawn)."""
        from facelm.eval.infer.preprocess import read_image

        entry = {**rec, "name": Path(rec["image"]).name, "file": None, "problem": None}
        sample = self._sample(rec["image"])
        img = read_image(rec["image"]) if sample else None
        if img is None:
            entry["problem"] = ("the scored faces' folder is gone" if not self.ds else
                                "image not in the scored faces" if not sample else "image unreadable")
            return entry
        gts, child = self._faces(rec["artifact"], rec["runtime"], sample, img)
        ref = gts if reference is None else self._faces(*reference, sample, img)[1]
        a, b = ref[rec["face"]], child[rec["face"]]
        if a is None or b is None:
            entry["problem"] = "no face found there on this run"
            return entry
        cv2_write(self.out / name, crop_with_points(img, gts[rec["face"]], a, b))
        entry["file"] = name
        return entry


def crop_with_points(img: np.ndarray, gt: np.ndarray, ref: np.ndarray, child: np.ndarray) -> np.ndarray:
    """The face's box with a margin, scaled to SIDE px: reference points green, child red, a grey
    line where a point moved."""
    import cv2

    lo, hi = gt.min(0), gt.max(0)
    m = (hi - lo).max() * 0.35
    x0, y0 = np.maximum(lo - m, 0).astype(int)
    x1, y1 = np.minimum(hi + m, img.shape[1::-1]).astype(int)
    crop = img[y0:y1, x0:x1]
    s = SIDE / max(crop.shape[:2])
    crop = cv2.resize(crop, (max(int(crop.shape[1] * s), 1), max(int(crop.shape[0] * s), 1)))
    pa, pb = (ref - (x0, y0)) * s, (child - (x0, y0)) * s
    for p, q in zip(pa, pb):
        if np.linalg.norm(p - q) > 1:
            cv2.line(crop, tuple(map(int, p)), tuple(map(int, q)), GREY, 1, cv2.LINE_AA)
    for pts, colour in ((pa, GREEN), (pb, RED)):
        for p in pts:
            cv2.circle(crop, tuple(map(int, p)), 2, colour, -1, cv2.LINE_AA)
    return crop


def cv2_write(path: Path, img: np.ndarray) -> None:
    import cv2

    if not cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 85]):
        raise OSError(f"{path}: could not be written")
