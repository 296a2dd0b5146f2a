#!/usr/bin/env bash
# The accelerator figures the README quotes, in one run (about 6 minutes on one H100):
#   1. the default search (`vlga run --seed 0`) twice in fresh processes: wall seconds,
#      test accuracy, and whether the two results are identical (timings aside); then
#      once with VLGA_GPU_DETERMINISM=0 (no deterministic XLA flags) for its speed;
#   2. the paper preset at CIFAR-10 shapes (benchmarks/paper_scale.py, synthetic data,
#      --max-candidates N): seconds per candidate, memory, projected hours.
# Usage: OUT=DIR [PYTHON=python3] [CANDIDATES=20] [PAPER_ARGS=...] [PAPER_TIMEOUT=s] \
#          bash benchmarks/accelerator.sh
set -uo pipefail
OUT=${OUT:-/tmp/vlga-accelerator}
PY=${PYTHON:-python3}
CANDIDATES=${CANDIDATES:-20}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
WORK=$(mktemp -d)
"$PY" -c "import os, jax, flax, optax, vlga_jax; print(os.environ['XLA_FLAGS']); print('jax', jax.__version__, 'flax', flax.__version__,
'optax', optax.__version__, jax.devices())"
for i in 1 2 3; do
  start=$EPOCHREALTIME
  [ "$i" = 3 ] && export VLGA_GPU_DETERMINISM=0
  "$PY" -m vlga_jax.cli run --seed 0 --out "$WORK/run$i" --set run.compile_cache_dir=None \
    > "$WORK/run$i.log" 2>&1 || { tail -30 "$WORK/run$i.log"; exit 1; }
  end=$EPOCHREALTIME
  tail -4 "$WORK/run$i.log"
  awk -v a="$start" -v b="$end" -v i="$i" \
    'BEGIN { printf "default search run %d: %.1f s wall (process start to exit)\n", i, b - a }'
done
unset VLGA_GPU_DETERMINISM
echo "(run 3 without the deterministic GPU flags)"
cp "$WORK/run1/result.json" "$OUT/default_result.json"
"$PY" - "$WORK/run1" "$WORK/run2" <<'PYEOF'
import filecmp, json, sys
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items()
                if not any(t in k for t in ("seconds", "time", "started", "finished", "elapsed",
                                            "programs", "trace", "lower", "backend"))}
    return [strip(v) for v in x] if isinstance(x, list) else x
raw = json.load(open(f"{sys.argv[1]}/result.json"))
print(f"default search: test accuracy {raw['test_accuracy']:.4f}, search wall "
      f"{raw['totals']['wall_seconds']:.1f} s, compile {raw['totals']['compile_seconds']:.1f} s, "
      f"train {raw['totals']['train_seconds']:.1f} s")
a, b = (strip(json.load(open(f"{d}/result.json"))) for d in sys.argv[1:])
print("same seed twice: result.json", "identical" if a == b else "DIFFERS",
      "(timings aside); model.npz",
      "identical" if filecmp.cmp(f"{sys.argv[1]}/model.npz", f"{sys.argv[2]}/model.npz",
                                 shallow=False) else "DIFFERS")
PYEOF
# shellcheck disable=SC2086  # PAPER_ARGS: extra options, word-split on purpose
timeout --signal=INT "${PAPER_TIMEOUT:-600}" \
  "$PY" benchmarks/paper_scale.py --max-candidates "$CANDIDATES" --out "$OUT/paper_scale.json" \
  ${PAPER_ARGS:-} \
  2>&1 | tee "$OUT/paper_scale.log"
