#!/usr/bin/env bash
# Everything a GPU session measures and tests, in one device call of at most 10 minutes.
#
#   ../shared/gpu/prepare_wheels.sh              # here, first: the wheels the GPU machine lacks
#   run(command="bash bench/gpu_session.sh", carry=[".whl"], timeout_s=600)
#
# Each part has its own time limit and writes its result under $OUT as soon as it ends, so a
# part that runs out of time loses only itself:
#   gpu.txt                    the GPU's name and memory (nvidia-smi)
#   bench_inference.json       bench/gpu.py --sections inference predict_files
#   bench_training.json        bench/gpu.py --sections training training_loader
#   tests.txt                  the GPU-relevant tests (CUDA paths of NMS, AMP, fastai, Lightning)
#   times.txt                  seconds per part
# QUICK=1 runs the same tiny (bench/gpu.py --quick) for a rehearsal on the CPU.
set -uo pipefail
OUT=${OUT:-/tmp/gpu_session}
mkdir -p "$OUT"
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl >/dev/null && export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONPATH=${PYTHONPATH:-$PWD} PYTHONUNBUFFERED=1
PY=${PY:-python3}
QUICK_ARGS=()
[ "${QUICK:-0}" = 1 ] && QUICK_ARGS=(--quick --iters 1 --warmup 0 --files 4 --train-workers 2)
(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || echo "no nvidia-smi") \
  > "$OUT/gpu.txt"

part() {  # part NAME SECONDS COMMAND...: run with a limit, record rc and seconds
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  timeout "$limit" "$@"
  echo "$name rc=$? seconds=$((SECONDS - start)) limit=$limit" | tee -a "$OUT/times.txt"
}

part inference 200 bash -c "$PY bench/gpu.py ${QUICK_ARGS[*]} --sections inference predict_files \
  > '$OUT/bench_inference.json' 2> '$OUT/bench_inference.err'"
part training 220 bash -c "$PY bench/gpu.py ${QUICK_ARGS[*]} --sections training training_loader \
  > '$OUT/bench_training.json' 2> '$OUT/bench_training.err'"
XDIST=$($PY -c "import xdist" 2>/dev/null && echo "-n 4")  # pytest-xdist, where installed
part tests 120 bash -c "$PY -m pytest -q -x -p no:cacheprovider $XDIST \
  tests/efficientdet/test_batched_nms.py tests/efficientdet/test_postprocess.py \
  tests/engines/test_fastai_steps.py tests/engines/test_mixed_precision.py \
  tests/engines/test_fastai.py tests/engines/test_lightning.py \
  tests/efficientdet/test_runtime.py tests/engines/test_step_values.py > '$OUT/tests.txt' 2>&1"
tail -3 "$OUT/tests.txt"
