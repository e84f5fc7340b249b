"""The bottom layer: what every package may import and what imports none of them.

- errors:     the one user-facing error type (one line, exit code 2)
- offline:    offline switches, cache folder, converter chatter to a log
- files:      sha256, atomic writes, manifests
- contract:   the model contract: output layout, artifact kinds and is_quantised, ModelSpec,
              ModelInfo (input size resolved once)
- checkpoint: loading an ultralytics pose checkpoint (the last one loaded is kept)
- safe_load:  every .pt read weights-only against an allow-list; ONNX external data kept in
              its folder; --trust-checkpoint
- head:       the INT8-friendly split head (torch)
- progress:   bars on a terminal, one line per finished step in a log
- clock:      named parts of a compile stage's seconds, kept in its manifest

Nothing here imports another package of the project, nor click (tests/test_layers.py)."""
