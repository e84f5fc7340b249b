"""One image through any model: preprocessing, the runtimes (one protocol, one module each),
decoding, the per-image path (image.detect), artifacts' descriptions, the challenge writer."""
from facelm.core.lazy import exports

__getattr__, __all__ = exports(__name__, {
    "preprocess": "preprocess", "letterbox": "preprocess", "Letterbox": "preprocess",
    "DecodeOptions": "decode", "decode": "decode", "Face": "decode", "detect": "image", "raw_outputs": "image",
    "Timing": "image", "Artifact": "artifact", "describe": "artifact", "predict_image": "writer",
    "predict": "predict", "list_images": "predict", "open_runtime": "runtimes", "runtimes_for": "runtimes"})
