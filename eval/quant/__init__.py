"""Where INT8 error comes from: each quantised tensor against its float parent's (error), and
`inspect`'s report of it, tables and plots (report)."""
from facelm.core.lazy import exports

__getattr__, __all__ = exports(__name__, {
    "tflite_tensor_errors": "error", "ort_tensor_errors": "error", "inspect_target": "report",
    "quantised_artifacts": "report"})
