"""The evaluator, by job, each sub-package importing only those above it in this list:

- data:    datasets of every layout, the iBUG-68 point order, the image reader, scaled sets
- infer:   preprocessing, runtimes, decoding, the per-image path, artifacts, the writer
- metrics: NME, failure rate, AUC and matching; the evaluation loop
- cost:    GFLOPs, size, latency and memory, and the machine
- quant:   INT8 error, tensor by tensor (`inspect`)

and beside them the scoring loop that joins them (scoring) and the defaults (defaults)."""
