"""Faces in: datasets of every layout (datasets), the iBUG-68 order and normalisers (landmarks), the
image reader (images), rendered sets: shrunk into clutter, under conditions, moved (scales, conditions, moved)."""
from facelm.core.lazy import exports

__getattr__, __all__ = exports(__name__, {
    "Dataset": "datasets", "Sample": "datasets", "DatasetError": "datasets", "load_dataset": "datasets",
    "read_pts_folder": "datasets", "spread": "datasets", "IMAGE_EXTS": "datasets",
    "common_points": "landmarks", "normaliser": "landmarks", "IDX51_IN_68": "landmarks",
    "read_image": "images", "check_scales": "scales", "scaled_dataset": "scales",
    "check_conditions": "conditions", "conditioned_dataset": "conditions", "CONDITIONS": "conditions",
    "moved_copies": "moved"})
