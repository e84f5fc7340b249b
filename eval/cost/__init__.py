"""What a model costs: GFLOPs and parameters from the graph, size, latency of the inference call
alone in interleaved rounds, memory, and the machine it was measured on (profile)."""
from facelm.core.lazy import exports

__getattr__, __all__ = exports(__name__, {
    "LatencyOptions": "profile", "time_interleaved": "profile", "time_artifacts": "profile", "machine": "profile",
    "thread_counts": "profile", "onnx_cost": "profile", "tflite_cost": "profile", "torch_cost": "profile"})
