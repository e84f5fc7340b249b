"""The split head's output contract, recorded in every artifact's metadata and manifest
(kept apart from the torch module so reading it costs no torch import)."""
LAYOUT = "split-norm-v1"
OUTPUTS = ("boxes", "scores", "landmarks")  # [1,N,4] cxcywh, [1,N,nc], [1,N,K*D] planar (x.., y.., v..); 0..1
