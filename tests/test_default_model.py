"""The committed built-in model: loads offline and scores as its model card says."""
import json

import pytest

from eval.defaults import DEFAULT_MODEL


@pytest.mark.pytorch
@pytest.mark.shared_data
def test_default_model_scores_as_its_card_says(default_model, faces):
    from eval.artifact import describe
    from eval.datasets import load_dataset
    from eval.evaluate import EvalOptions, evaluate
    from eval.runtimes import open_runtime

    card = json.loads(DEFAULT_MODEL.with_suffix(".card.json").read_text())
    art = describe(default_model)
    assert art.spec.kpt_shape == (51, 3) and art.spec.imgsz == tuple(card["imgsz"])
    rt = open_runtime(default_model)
    s = evaluate(rt, art, load_dataset(faces / "afw"), EvalOptions(progress=False)).summary
    assert s.nme == pytest.approx(card["val"]["nme"], rel=0.01)
    assert s.n_missed == card["val"]["missed"]


def test_default_model_is_small_and_committed(default_model):
    assert default_model.stat().st_size < 20e6
