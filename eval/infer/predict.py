"""`predict`: run one artifact over images and write the challenge's text files."""
from __future__ import annotations

from pathlib import Path

from facelm.core.errors import UserError
from facelm.eval.infer.artifact import describe
from facelm.eval.data.datasets import IMAGE_EXTS
from facelm.eval.infer.decode import DecodeOptions
from facelm.eval.infer.runtimes import open_runtime
from facelm.eval.infer.writer import predict_image


def list_images(src: Path) -> list[Path]:
    """A folder of images, or a text file with one image path per line."""
    src = Path(src)
    if src.is_dir():
        return sorted(p for p in src.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
    if src.is_file():
        return [Path(ln.strip()) for ln in src.read_text().splitlines() if ln.strip()]
    raise UserError(f"{src}: no such image folder or list")


def predict(model: Path, images: Path, out_dir: Path, opts: DecodeOptions = DecodeOptions(), threads: int = 1) -> dict:
    """Returns {'written': n, 'unreadable': [...]}."""
    from facelm.core.safe_load import check_sources

    check_sources([model])
    art = describe(model)
    rt = open_runtime(model, threads)
    written, bad = 0, []
    for p in list_images(images):
        if not predict_image(rt, art.spec, p, Path(out_dir), opts):
            bad.append(str(p))
        written += 1
    return {"written": written, "unreadable": bad}
