"""The committed built-in models: load offline and score as their model cards say."""
import json
import os

import pytest

from facelm.eval.defaults import DEFAULT_MODEL, MODELS


@pytest.mark.pytorch
@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(MODELS))
def test_builtin_model_scores_as_its_card_says(name, faces):
    from facelm.eval.infer.artifact import describe
    from facelm.eval.data.datasets import load_dataset
    from facelm.eval.metrics.evaluate import EvalOptions, evaluate
    from facelm.eval.infer.runtimes import open_runtime

    model = MODELS[name]
    card = json.loads(model.with_suffix(".card.json").read_text())
    art = describe(model)
    assert art.spec.kpt_shape == (51, 3) and art.spec.imgsz == tuple(card["imgsz"])
    rt = open_runtime(model)
    s = evaluate(rt, art, load_dataset(faces / "afw"), EvalOptions(progress=False)).summary
    assert s.nme == pytest.approx(card["val"]["nme"], rel=0.01)
    assert s.n_missed == card["val"]["missed"]


def test_default_model_is_small_and_committed(default_model):
    assert default_model.stat().st_size < 20e6
    assert DEFAULT_MODEL == MODELS["face51-s"] or "FACELM_MODEL" in os.environ
