"""The pipeline alone: PIPELINE (stages.py), each stage a function (source, reference, output,
context); export, simplification and conversion (export.py, convert.py); the float checks
(verify.py) and the INT8 guard (guard.py); pipeline.py runs the list with caching and
manifests. The sweep (explore/) and the submission (submit/) sit above and import it."""
