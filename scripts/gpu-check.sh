#!/usr/bin/env bash
# Device run (DESIGN.md): build without SystemC/RTL, run the `cuda` ctest label and the
# CUDA benchmarks. Logs go to $OUT when set (the device runner collects it), else to
# <build>/gpu-check. Usage: scripts/gpu-check.sh [build-dir]   (env JOBS=N to limit -j)
# The GPU machine lacks the nlohmann-json and CLI11 packages: run scripts/stage-headers.sh
# on the build machine first and carry .deps with the device run (CMake finds it there).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-gpu}
logs=${OUT:-$build/gpu-check}
jobs=${JOBS:-$(nproc)}
mkdir -p "$logs"
status=0

{
  date -u
  nvidia-smi || echo "nvidia-smi not available"
  nvcc --version || echo "nvcc not on PATH"
} >"$logs/device.txt" 2>&1

generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
if ! cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DTESSEL_SYSTEMC=OFF -DTESSEL_RTL=OFF -DTESSEL_CUDA=ON >"$logs/configure.log" 2>&1; then
  echo "gpu-check: configure failed (see $logs/configure.log)"
  tail -n 30 "$logs/configure.log"
  exit 1
fi
if ! cmake --build "$build" -j "$jobs" >"$logs/build.log" 2>&1; then
  echo "gpu-check: build failed (see $logs/build.log)"
  grep -E "error|Error" "$logs/build.log" | head -n 40
  exit 1
fi

# The CUDA code is the plugin libtessel_cuda.so (tests and benchmarks dlopen it from the build
# tree); record which CUDA libraries it resolves to, and stop early if it is missing.
plugin=$build/libtessel_cuda.so
if [[ ! -f $plugin ]]; then
  echo "gpu-check: $plugin was not built (is nvcc on this machine?)"
  exit 1
fi
ldd "$plugin" >"$logs/plugin.txt" 2>&1
if grep -q "not found" "$logs/plugin.txt"; then
  echo "gpu-check: the CUDA plugin misses libraries:"
  grep "not found" "$logs/plugin.txt"
  exit 1
fi

(cd "$build" && ctest -L cuda --output-on-failure --no-tests=error) >"$logs/ctest-cuda.log" 2>&1 ||
  status=1
tail -n 25 "$logs/ctest-cuda.log"

# Every benchmark program with "cuda" in its name; each skips itself without a device.
while IFS= read -r bench; do
  name=$(basename "$bench")
  echo "== $name"
  if ! "$bench" --benchmark_out="$logs/$name.json" --benchmark_out_format=json \
      >"$logs/$name.txt" 2>&1; then
    echo "gpu-check: $name failed"
    status=1
  fi
  tail -n 25 "$logs/$name.txt"
done < <(find "$build/bench" -maxdepth 1 -type f -name '*cuda*' -perm -u+x | sort)

# ZeRO-Offload on the device (docs/training.md, "Offloaded training"): 40 steps of bf16
# offloaded training with DPU from step 10 and the Perfetto timeline of steps 0-29
# (offload_run/offload_timeline.json), on the built-in synthetic corpus (no data files).
echo "== offload run"
if "$build/tessel" train "$root/configs/train/synthetic_char.yaml" --out "$logs/offload_run" \
    --overwrite --set train.backend=cuda --set train.precision=bf16 --set train.steps=40 \
    --set model.layers=6 --set model.width=512 --set model.heads=8 \
    --set train.offload.precision=bf16 --set train.offload.dpu_warmup=10 \
    --set train.offload.timeline_steps=30 >"$logs/offload_run.txt" 2>&1; then
  rm -f "$logs/offload_run/checkpoint.bin"  # 0.2 GB of weights and moments; not worth copying
  tail -n 5 "$logs/offload_run.txt"
else
  echo "gpu-check: offload run failed"
  tail -n 25 "$logs/offload_run.txt"
  status=1
fi

echo "gpu-check: logs in $logs; status $status"
exit "$status"
