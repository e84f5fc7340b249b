"""A copy of the shared faces shrunk to SIDE px on the longest side, points scaled alike: what
travels to a GPU machine (the tool carries 64 MiB; the faces are 66 MB, at 256 px about 33 MB).

    python bench/gpu/shrink_faces.py ../shared/data/faces .gpu/faces 256

Never inside the repository's tracked files: the faces are research-only (.gpu/ is ignored)."""
import sys
from pathlib import Path

import cv2


def shrink_pts(text: str, f: float) -> str:
    """Every 'x y' line scaled by f; header and brace lines as they are."""
    out = []
    for ln in text.splitlines():
        parts = ln.split()
        try:
            out.append(f"{float(parts[0]) * f:.3f} {float(parts[1]) * f:.3f}" if len(parts) == 2 else ln)
        except ValueError:
            out.append(ln)
    return "\n".join(out) + "\n"


def main(src: Path, dst: Path, side: int) -> None:
    for split in ("afw", "helen_train"):
        (dst / split).mkdir(parents=True, exist_ok=True)
        for pts in sorted((src / split).glob("*.pts")):
            image = next(p for p in (pts.with_suffix(".jpg"), pts.with_suffix(".png")) if p.exists())
            img = cv2.imread(str(image))
            h, w = img.shape[:2]
            f = min(1.0, side / max(h, w))
            if f < 1:
                img = cv2.resize(img, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(dst / split / (pts.stem + ".jpg")), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
            (dst / split / pts.name).write_text(shrink_pts(pts.read_text(), f))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
