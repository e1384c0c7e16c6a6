#!/usr/bin/env bash
# The GPU check of issue 7, in one go, on an NVIDIA machine (H100/H200) with PyTorch CUDA installed:
#   1. installs CuPy when it is missing (cupy-cuda12x or cupy-cuda13x, after nvidia-smi's CUDA version),
#   2. runs the test suite with its inputs on the GPU (pytest --backend cupy) and tests/test_backend.py,
#   3. times MLP 784-512-10 and CifarNet training steps, batch 256 float32, against PyTorch CUDA.
#
#   bash scripts/gpu_check.sh             # on the GPU machine; the output goes in the issue's note
#   bash scripts/gpu_check.sh --dry-run   # anywhere: the same steps on tests/fake_cupy.py, short
#   bash scripts/gpu_check.sh --quick     # skip step 2's whole-suite run (minutes of CuPy kernel compiles)
#
# Exit status: 0 when every step passed, else the number of failed steps.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DRY=0
QUICK=0
for arg in "$@"; do
    case $arg in
        --dry-run) DRY=1 ;;
        --quick) QUICK=1 ;;
        *) echo "usage: bash scripts/gpu_check.sh [--dry-run] [--quick]"; exit 2 ;;
    esac
done
failed=0
step() { echo; echo "=== $* ==="; }

step "machine"
date -u
git log -1 --format='toynn commit %h (%cs) %s' 2>/dev/null || true
if [ $DRY = 0 ]; then
    if ! nvidia-smi; then
        echo "gpu_check: nvidia-smi failed: no NVIDIA GPU or driver here (use --dry-run to check the script)"
        exit 2
    fi
    $PY - <<'EOF' || { echo "gpu_check: PyTorch with CUDA is needed for the comparison"; exit 2; }
import torch
assert torch.cuda.is_available(), "torch.cuda.is_available() is False"
print(f"PyTorch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
EOF

    step "CuPy"
    if ! $PY -c "import cupy; cupy.cuda.runtime.getDeviceCount()" 2>/dev/null; then
        # the driver's CUDA version (the highest runtime it supports) picks the wheel
        cuda=$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9][0-9]*\)\..*/\1/p' | head -n 1)
        if [ "${cuda:-0}" -ge 13 ]; then pkg=cupy-cuda13x; elif [ "${cuda:-0}" -ge 12 ]; then pkg=cupy-cuda12x; else
            echo "gpu_check: the driver supports CUDA ${cuda:-unknown}; CuPy wheels need CUDA 12 or 13"
            exit 2
        fi
        echo "installing $pkg[ctk] (CuPy with the CUDA components it needs, from PyPI)"
        $PY -m pip install -q "$pkg[ctk]" || { echo "gpu_check: pip install $pkg failed (no network?)"; exit 2; }
    fi
    $PY -c "import cupy; print('CuPy', cupy.__version__, 'CUDA runtime', cupy.cuda.runtime.runtimeGetVersion())"
    BACKEND=cupy
    BENCH_ARGS=()
else
    echo "DRY RUN: tests/fake_cupy.py stands in for CuPy, PyTorch runs on the CPU"
    BACKEND=fake
    BENCH_ARGS=(--dry-run)
fi

step "tests/test_backend.py: device vs CPU results"
$PY -m pytest -q -p no:cacheprovider -rfE tests/test_backend.py || failed=$((failed + 1))

if [ $QUICK = 0 ]; then
step "the test suite with its inputs on the device (pytest --backend $BACKEND)"
# NOTE: many tests still read arrays with np.asarray(t.data) or torch.tensor(t.data), which CuPy refuses:
# the full report goes to a file, the summary here
report="${OUT:-/tmp}/gpu_suite_$BACKEND.txt"
if [ $DRY = 0 ]; then
    files=(tests)
else  # the whole suite on the fake takes long on a small CPU; these files pass on it and show the mechanism
    files=(tests/test_data.py tests/test_dual.py tests/test_errors.py tests/test_zoo.py tests/test_checkpoint.py)
fi
$PY -m pytest -q -p no:cacheprovider --backend "$BACKEND" --tb=line "${files[@]}" >"$report" 2>&1 || failed=$((failed + 1))
grep -E '^(FAILED|ERROR)' "$report" | sed 's/::.*//' | sort | uniq -c | sort -rn | head -n 40
tail -n 1 "$report"
echo "(full report: $report)"
fi

step "training steps: toynn on CuPy vs PyTorch CUDA"
$PY scripts/gpu_bench.py "${BENCH_ARGS[@]}" --json "${OUT:-/tmp}/gpu_bench.json" || failed=$((failed + 1))

step "done: $failed failed step(s)"
exit $failed
