"""Faces in: datasets of every layout facelm reads (datasets), the iBUG-68 point order and its
normalisers (landmarks), the image reader (images), faces shrunk into clutter (scales)."""
from facelm.core.lazy import exports

__getattr__, __all__ = exports(__name__, {
    "Dataset": "datasets", "Sample": "datasets", "DatasetError": "datasets", "load_dataset": "datasets",
    "read_pts_folder": "datasets", "spread": "datasets", "IMAGE_EXTS": "datasets",
    "common_points": "landmarks", "normaliser": "landmarks", "IDX51_IN_68": "landmarks",
    "read_image": "images", "check_scales": "scales", "scaled_dataset": "scales"})
