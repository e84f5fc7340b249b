"""Faces at other scales: the renderer (deterministic, points moved with the pixels, the face
never covered) and `score --scales`."""
import json

import numpy as np
import pytest

from facelm.core.errors import UserError
from facelm.eval.data.scales import check_scales, place, scaled_dataset
from tests.conftest import cli_here, run_cli


def test_scales_are_checked():
    assert check_scales(["1", "0.5", "0.35", "0.5"]) == (1.0, 0.5, 0.35)
    for bad, why in (("0", "outside"), ("1.5", "outside"), ("-0.5", "outside"), ("half", "not a number")):
        with pytest.raises(UserError, match=f"--scales .*{why}"):
            check_scales([bad])


def test_points_move_with_the_pixels_and_the_face_is_never_covered():
    img = np.zeros((200, 300, 3), np.uint8)
    pts = np.array([[60.0, 40.0], [250.0, 170.0], [150.0, 100.0]])
    for x, y in pts.astype(int):
        img[y - 2:y + 3, x - 2:x + 3] = 255
    canvas = np.full_like(img, 77)
    out, (moved,), (px0, py0, px1, py1) = place(img, [pts], 0.5, np.random.default_rng(3), canvas)
    assert (px1 - px0, py1 - py0) == (150, 100) and px0 <= moved[:, 0].min() and moved[:, 0].max() < px1
    assert out.shape == img.shape
    for x, y in moved:  # each white square lands where its point went
        patch = out[int(y) - 3:int(y) + 4, int(x) - 3:int(x) + 4, 0]
        assert patch.max() > 150
    # the shrunk image is whole: its 150 x 100 block holds no filler grey
    x0, y0 = int(round(moved[2][0] - (150 + 0.5) * 0.5 + 0.5)), int(round(moved[2][1] - (100 + 0.5) * 0.5 + 0.5))
    assert not (out[y0:y0 + 100, x0:x0 + 150] == 77).all(axis=2).any()


@pytest.fixture()
def tiny_set(tmp_path):
    """Six synthetic labelled images (68 points each) as a .pts folder."""
    import cv2

    from facelm.eval.data.datasets import load_dataset

    rng = np.random.default_rng(0)
    for i in range(6):
        img = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
        cv2.imwrite(str(tmp_path / f"img{i}.png"), img)
        pts = rng.uniform(40, 100, (68, 2))
        body = "\n".join(f"{x:.3f} {y:.3f}" for x, y in pts)
        (tmp_path / f"img{i}.pts").write_text(f"version: 1\nn_points: 68\n{{\n{body}\n}}\n")
    return load_dataset(tmp_path)


def test_the_rendering_is_the_same_every_time(tiny_set, tmp_path):
    a = scaled_dataset(tiny_set, 0.5, cache=tmp_path / "a")
    b = scaled_dataset(tiny_set, 0.5, cache=tmp_path / "b")
    assert a.name == f"{tiny_set.name}@0.5" and len(a.samples) == len(tiny_set.samples)
    for sa, sb, s0 in zip(a.samples, b.samples, tiny_set.samples):
        assert sa.image.read_bytes() == sb.image.read_bytes()
        np.testing.assert_allclose(sa.faces[0], sb.faces[0])
        span0, span = np.ptp(s0.faces[0], 0), np.ptp(sa.faces[0], 0)
        np.testing.assert_allclose(span, span0 * 0.5, rtol=0.01)  # the face is half its size
    assert scaled_dataset(tiny_set, 1) is tiny_set
    assert scaled_dataset(tiny_set, 0.5, seed=1, cache=tmp_path / "a").samples[0].faces[0].tolist() != \
        a.samples[0].faces[0].tolist()


def test_runs_side_by_side_render_the_same_set_once(tiny_set, tmp_path):
    """Two trainings (or score runs) started together render the same scaled set into one cache:
    each in a folder of its own, the first to finish keeps its copy, none fails."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        sets = list(pool.map(lambda _: scaled_dataset(tiny_set, 0.5, cache=tmp_path / "c"), range(4)))
    folders = {s.samples[0].image.parent for s in sets}
    assert len(folders) == 1 and (folders.pop() / ".done").is_file()
    assert [p.name for p in (tmp_path / "c" / "scales").iterdir()] == [sets[0].samples[0].image.parent.name]
    assert all(len(s.samples) == len(tiny_set.samples) for s in sets)
    # a killed run's folder (untouched for over STALE_S) goes at the set's next render; a live one stays
    import os
    import shutil
    import time

    from facelm.eval.data.rendered import STALE_S

    folder = scaled_dataset(tiny_set, 0.7, cache=tmp_path / "c").samples[0].image.parent
    shutil.rmtree(folder)
    dead, live = folder.with_name(folder.name + ".dead.tmp"), folder.with_name(folder.name + ".live.tmp")
    for d in (dead, live):
        d.mkdir()
    os.utime(dead, (time.time() - STALE_S - 60,) * 2)
    scaled_dataset(tiny_set, 0.7, cache=tmp_path / "c")
    assert (folder / ".done").is_file() and not dead.exists() and live.exists()


def test_unlabelled_images_cannot_be_scaled(tmp_path):
    from facelm.eval.data.datasets import Dataset

    with pytest.raises(UserError, match="needs labelled faces"):
        scaled_dataset(Dataset("imgs", tmp_path, [], None), 0.5)


@pytest.mark.shared_data
def test_score_at_two_scales(default_model, faces, tmp_path):
    code, out, err = run_cli("score", default_model, "--data", faces / "afw", "--scales", "1,0.5", "--max-images", "20",
                             "--no-latency", "--out", tmp_path, env={"FACELM_CACHE": str(tmp_path / "cache")})
    assert code == 0, err[-2000:]
    row = json.loads((tmp_path / "scores.json").read_text())["rows"][0]
    half = row["scales"]["0.5"]
    assert half["faces"] == row["faces"] and half["nme"] > 0 and 0 <= half["miss"] <= 100
    assert "NME% @0.5" in out and "every face shrunk to 0.5 of its size" in out
    code, _, err = cli_here("score", default_model, "--scales", "1,2", "--no-latency", "--out", tmp_path / "x")
    assert code == 2 and "--scales 2" in err and err.count("\n") == 1


@pytest.mark.shared_data
def test_a_scene_with_no_labelled_face_counts_false_positives(default_model, faces, tmp_path):
    """A YOLO-pose data set whose second image is labelled with no face: the face the model
    finds there is a false positive (per image), not a miss and not dropped."""
    import shutil

    from facelm.eval.data.datasets import load_dataset

    src = load_dataset(faces / "afw").samples[:2]
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    for i, s in enumerate(src):
        shutil.copyfile(s.image, tmp_path / "images" / f"s{i}.jpg")
        h, w = __import__("cv2").imread(str(s.image)).shape[:2]
        lines = []
        for f in s.faces if i == 0 else ():
            (x0, y0), (x1, y1) = f.min(0), f.max(0)
            kp = " ".join(f"{x / w:.6f} {y / h:.6f} 2" for x, y in f)
            lines.append(f"0 {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} {(y1 - y0) / h:.6f} {kp}")
        (tmp_path / "labels" / f"s{i}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    ds = load_dataset(tmp_path)
    assert [len(s.faces) for s in ds.samples] == [1, 0]
    code, out, err = run_cli("score", default_model, "--data", tmp_path, "--no-latency", "--out", tmp_path / "s")
    assert code == 0, err[-2000:]
    row = json.loads((tmp_path / "s" / "scores.json").read_text())["rows"][0]
    assert row["images"] == 2 and row["faces"] == 1 and row["miss"] == 0 and row["fp"] >= 0.5


def test_training_copies_shrunk_into_clutter(tiny_set, tmp_path):
    """train --zoom-out: each factor adds every training face again, from the same renderer."""
    from facelm.eval.data.datasets import load_dataset
    from facelm.train.yolo_data import build_yolo_dataset

    src = tiny_set.root
    data = build_yolo_dataset(src, src, tmp_path / "yolo", 51, zoom_out=(0.5,))
    train = sorted((tmp_path / "yolo" / "images" / "train").iterdir())
    assert len(train) == 2 * len(tiny_set.samples) and sum(p.name.startswith("zoom0.5_") for p in train) == 6
    back = load_dataset(data)
    assert len(back.samples) == len(tiny_set.samples)  # the val split is left as it is
    labels = tmp_path / "yolo" / "labels" / "train"
    plain, small = ((labels / n).read_text().split() for n in ("img0.txt", "zoom0.5_00000_img0.txt"))
    assert float(small[3]) / float(plain[3]) == pytest.approx(0.5, rel=0.05)  # the face's box is half as wide
    # the clutter's own faces are labelled too (half size, in their tiles), apart from the shrunk face
    widths = {round(float(p.read_text().split()[3]), 3) for p in labels.glob("img*.txt")}
    clutter = 0
    for p in labels.glob("zoom0.5_*.txt"):
        main, *rest = [np.array(r.split()[1:5], float) for r in p.read_text().splitlines()]
        clutter += len(rest)
        for box in rest:
            assert any(abs(box[2] - w / 2) < 0.01 for w in widths)
            assert abs(box[0] - main[0]) > (box[2] + main[2]) / 2 or abs(box[1] - main[1]) > (box[3] + main[3]) / 2
    assert clutter >= 6
    # the evaluator's scaled sets leave the clutter unlabelled: one face per image
    assert all(len(s.faces) == 1 for s in scaled_dataset(tiny_set, 0.5, seed=1000, cache=tmp_path / "e").samples)


@pytest.mark.pytorch
@pytest.mark.shared_data
def test_images_decoded_once_for_several_artifacts_score_the_same(default_model, faces):
    """score with several artifacts decodes each image once for all of them (eval.metrics.evaluate.
    decode_all): read-only arrays, within the memory budget, and the same predictions."""
    from facelm.eval.infer.artifact import describe
    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.metrics.evaluate import EvalOptions, decode_all, evaluate
    from facelm.eval.infer.runtimes import open_runtime

    ds = load_dataset(faces / "afw")
    images = decode_all([ds, ds], 1536, max_images=12)
    assert len(images) == 12 and not any(im.flags.writeable for im in images.values())
    assert len(decode_all([ds], 1, max_images=12)) < 12  # 1 MB holds fewer than 12 decoded faces
    art, rt = describe(default_model), open_runtime(default_model)
    opts = EvalOptions(progress=False, max_images=12)
    alone, shared = evaluate(rt, art, ds, opts), evaluate(rt, art, ds, opts, images)
    assert shared.summary.nme == alone.summary.nme and shared.n_images == alone.n_images == 12
