#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and the CUDA toolkit (Jetson or desktop; no Node, no TensorRT):
# builds tools/gpu-check with cmake and nvcc and runs every CUDA crop kernel (RGB, BGR, RGBA, BGRA,
# GRAY, NV12 in BT.601 and BT.709, limited and full range; float32 and float16; whole-frame and
# row-staged) against the CPU crop on real frames
# of the shared sequences, printing the largest differences. Exit 0: all within 1e-5 / 1 ulp.
#
#   tools/gpu-check.sh [SEQUENCES_DIR]          default ../shared/data/sequences (from the repo root)
#   CT_EDGE_CUDA_ARCHS=86 tools/gpu-check.sh    when CMake cannot detect the GPU (CMake < 3.24)
#   FRAMES=8 tools/gpu-check.sh                 frames per sequence (default 4)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${1:-$root/../shared/data/sequences}"
[[ -d "$data" ]] || { echo "no sequences in $data (give the folder: tools/gpu-check.sh DIR)" >&2; exit 2; }
build="${BUILD_DIR:-$(mktemp -d)}"
nvcc="${CUDACXX:-$(command -v nvcc || echo "${CUDA_PATH:-/usr/local/cuda}/bin/nvcc")}"
cmake -S "$root/tools/gpu-check" -B "$build" -DCMAKE_CUDA_COMPILER="$nvcc" ${CT_EDGE_CUDA_ARCHS:+-DCT_EDGE_CUDA_ARCHS="$CT_EDGE_CUDA_ARCHS"} >"$build/configure.log" \
  || { cat "$build/configure.log"; exit 2; }
cmake --build "$build" --parallel "$(nproc 2>/dev/null || echo 2)" >"$build/build.log" || { tail -40 "$build/build.log"; exit 2; }
"$build/gpu_check" "$data" "${FRAMES:-4}"
