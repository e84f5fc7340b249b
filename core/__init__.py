"""The bottom layer: what every package may import and what imports none of them.

- errors:     the one user-facing error type (one line, exit code 2)
- offline:    offline switches, cache folder, converter chatter to a log
- files:      sha256, atomic writes, manifests
- contract:   the model contract: output layout, ModelSpec, ModelInfo (input size resolved once)
- checkpoint: loading an ultralytics pose checkpoint (once per process and file)
- head:       the INT8-friendly split head (torch)

Nothing here imports compiler/, eval/, calib/, scores/, train/ or click (tests/test_layers.py)."""
