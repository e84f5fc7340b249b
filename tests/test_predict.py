"""`predict`: the challenge's text files, one per image, the same way as the submission runner."""
import numpy as np

from facelm.eval.data.datasets import parse_pts
from tests.conftest import run_cli


def test_predict_writes_one_file_per_image_even_an_unreadable_one(default_model, faces, tmp_path):
    imgs = sorted((faces / "afw").glob("*.jpg"))[:2]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    lst = tmp_path / "list.txt"
    lst.write_text("\n".join(str(p) for p in [*imgs, bad]) + "\n")
    code, out, err = run_cli("predict", default_model, "--data", lst, "--out", tmp_path / "out")
    assert code == 0, err
    assert "wrote 3 files" in out and "1 unreadable" in out
    assert (tmp_path / "out" / "broken.txt").read_text() == ""  # its file, listing no face
    for p in imgs:
        blocks = parse_pts((tmp_path / "out" / f"{p.stem}.txt").read_text())
        assert blocks and all(b.shape == (51, 2) for b in blocks)
        xs = [float(np.mean(b[:, 0])) for b in blocks]
        assert xs == sorted(xs, reverse=True)  # right to left
