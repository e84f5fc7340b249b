#!/usr/bin/env bash
# Trainings side by side on a GPU machine lent by the device tool (bench/gpu/README.md): run there
# from the repository root as `JOBS=bench/gpu/jobs_X.sh bash bench/gpu/run.sh`, with .gpu/ (wheels,
# polars stand-in, shrunk faces) carried. Each run's chosen checkpoint, card, results.csv and log
# come back under $OUT, one archive per run (the tool takes 8 files of 16 MB at most: an archive
# over 15 MB is split into parts; `cat` them back together).
# HOURS: each run's budget; LIMIT: seconds before a run is stopped whatever it is doing.
# Here, a rehearsal on the CPU: NO_WHEELS=1 PY=.venv/bin/python HOURS=0.002 OUT=/tmp/o bash bench/gpu/run.sh
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
HOURS=${HOURS:-0.115}; LIMIT=${LIMIT:-555}; R=${R:-/tmp/gpu_runs}; F=.gpu/faces
if [ -z "${NO_WHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD/.gpu/stub
fi
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
PY=${PY:-python3}
nvidia-smi -L 2>/dev/null; $PY -c "import torch, numpy, ultralytics; print(torch.__version__, numpy.__version__, ultralytics.__version__, torch.cuda.is_available())"
t0=$(date +%s)
run() {  # name, then train's options
  local name=$1; shift
  timeout "$LIMIT" $PY cli.py train --train $F/helen_train --val $F/afw --hours "$HOURS" --out "$R/$name" "$@" \
    > "$R/$name.log" 2>&1
  echo "$name: exit $? after $(( $(date +%s) - t0 )) s"
}
mkdir -p "$R"
if [ -z "${PACK_ONLY:-}" ]; then
FT="--optimizer SGD --lr0 0.002 --warmup-epochs 0 --degrees 10"
. "${JOBS:?name the jobs file, e.g. JOBS=bench/gpu/jobs_zoom.sh}"
wait
fi
# pack: each run's picked checkpoint (the one its card names; best.pt when there is no card),
# card, results.csv, args and log; an archive over 15 MB goes in parts (cat them back together)
for d in "$R"/*/; do
  n=$(basename "$d"); w=${d}run/weights
  card=$(ls "$w"/*.card.json 2>/dev/null | head -1)
  pt=$w/best.pt; [ -n "$card" ] && pt=${card%.card.json}.pt
  # a run stopped mid-way leaves its optimizer state in best.pt (twice the size): drop it
  [ -z "$card" ] && [ -f "$pt" ] && $PY -c "import sys; from ultralytics.utils.torch_utils import strip_optimizer; strip_optimizer(sys.argv[1])" "$pt" >/dev/null 2>&1
  files=(); for f in "$pt" "$card" ${d}run/results.csv ${d}run/args.yaml "$R/$n.log"; do [ -f "$f" ] && files+=("$f"); done
  tar -czf "$R/$n.tgz" "${files[@]}" 2>/dev/null
  if [ "$(stat -c %s "$R/$n.tgz")" -gt 15000000 ]; then split -b 15000000 -d "$R/$n.tgz" "$OUT/$n.tgz.part"
  else cp "$R/$n.tgz" "$OUT/"; fi
done
grep -hE "Error|Traceback|epochs completed" "$R"/*.log | tail -20
ls -la "$OUT"
for c in "$R"/*/run/weights/*.card.json; do
  $PY -c "import json,sys; c=json.load(open(sys.argv[1])); t=c['train']; print(sys.argv[1].split('/')[-4], t.get('epochs'), t.get('wall_seconds'), json.dumps(t.get('selected')))" "$c"
done
