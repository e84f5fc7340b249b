"""How far landmarks are from the truth and how still they hold: NME, failure rate and AUC (nme), the
evaluation loop (evaluate), jitter over moved copies (stability), the other face sets (extra_sets)."""
from facelm.core.lazy import exports

__getattr__, __all__ = exports(__name__, {
    "face_nme": "nme", "match": "nme", "auc": "nme", "summarise": "nme", "Summary": "nme",
    "EvalOptions": "evaluate", "EvalResult": "evaluate", "evaluate": "evaluate", "evaluate_path": "evaluate",
    "face_jitters": "stability", "ExtraSets": "extra_sets", "extra_sets": "extra_sets"})
