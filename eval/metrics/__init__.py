"""How far landmarks are from the truth: NME, failure rate and AUC with face matching (nme), and
the evaluation loop that runs one artifact over a dataset (evaluate)."""
from facelm.core.lazy import exports

__getattr__, __all__ = exports(__name__, {
    "face_nme": "nme", "match": "nme", "auc": "nme", "summarise": "nme", "Summary": "nme",
    "EvalOptions": "evaluate", "EvalResult": "evaluate", "evaluate": "evaluate", "evaluate_path": "evaluate"})
