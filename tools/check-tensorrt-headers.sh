#!/usr/bin/env bash
# Compile-checks native/tensorrt/*.cpp (g++ -fsyntax-only, -Wall -Wextra -Werror) against one or more
# TensorRT header directories, without TensorRT libraries or a GPU. Each directory must hold NvInfer.h
# and NvOnnxParser.h (TensorRT's include/ plus onnx-tensorrt's NvOnnxParser.h for releases that do not
# ship it in include/). The CUDA runtime headers come from CUDA_PATH (default /usr/local/cuda).
#
#   tools/check-tensorrt-headers.sh ../shared/third_party/tensorrt-headers/{10.3.0,10.16,11.1}   (CI)
#   tools/check-tensorrt-headers.sh --extract GIT_DIR REF OUT_DIR [ONNX_TRT_GIT_DIR ONNX_REF]
#       extracts include/ of a TensorRT git repository (github.com/NVIDIA/TensorRT) at REF into OUT_DIR
#       (and NvOnnxParser.h from onnx-tensorrt when the TensorRT tree lacks it). Headers stay outside
#       the repository: never put them under this checkout. TensorRT 8.5 (JetPack 5.1) and 8.6
#       (JetPack 6.0), whose headers are not in ../shared:
#         tools/check-tensorrt-headers.sh --extract TensorRT.git 8.5.2 /tmp/trt-headers/8.5.2 onnx-tensorrt.git 8.5-GA
#         tools/check-tensorrt-headers.sh --extract TensorRT.git v8.6.1 /tmp/trt-headers/8.6.1 onnx-tensorrt.git 8.6-GA
#         tools/check-tensorrt-headers.sh /tmp/trt-headers/8.5.2 /tmp/trt-headers/8.6.1
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ "${1:-}" == "--extract" ]]; then
  git_dir="$2" ref="$3" out="$4"
  case "$(cd "$(dirname "$out")" 2>/dev/null && pwd)/" in "$root"/*) echo "refusing to write headers inside the repository: $out" >&2; exit 2;; esac
  mkdir -p "$out"
  git --git-dir="$git_dir" ls-tree -r --name-only "$ref" include/ | while read -r f; do
    mkdir -p "$out/$(dirname "${f#include/}")"
    git --git-dir="$git_dir" show "$ref:$f" > "$out/${f#include/}"
  done
  if [[ ! -f "$out/NvOnnxParser.h" && $# -ge 6 ]]; then
    git --git-dir="$5" show "$6:NvOnnxParser.h" > "$out/NvOnnxParser.h"
  fi
  grep -hE '#define (NV_TENSORRT|TRT)_(MAJOR|MINOR|PATCH)(_ENTERPRISE)? +[0-9]+' "$out/NvInferVersion.h" | tr -s ' ' | tr '\n' ' '; echo
  exit 0
fi

if [[ $# -eq 0 ]]; then
  sed -n '2,17p' "$0" >&2
  exit 2
fi
cuda_inc="${CUDA_PATH:-/usr/local/cuda}/include"
[[ -f "$cuda_inc/cuda_runtime_api.h" ]] || { echo "CUDA runtime headers not found in $cuda_inc (set CUDA_PATH)" >&2; exit 2; }
napi_inc="$(cd "$root" && node -p "require('node-addon-api').include_dir" 2>/dev/null || true)"
node_inc="$(cd "$root" && node -p "require('node-api-headers').include_dir" 2>/dev/null || echo /usr/include/node)"
cxx="${CXX:-g++}"
status=0
for dir in "$@"; do
  if [[ ! -f "$dir/NvInfer.h" || ! -f "$dir/NvOnnxParser.h" ]]; then
    echo "FAIL $dir: NvInfer.h or NvOnnxParser.h missing" >&2; status=1; continue
  fi
  version="$(printf '#include <NvInferVersion.h>\nNV_TENSORRT_MAJOR.NV_TENSORRT_MINOR.NV_TENSORRT_PATCH\n' | "$cxx" -E -P -isystem "$dir" - | tail -1 | tr -d ' ')"
  for src in "$root"/native/tensorrt/*.cpp; do
    if "$cxx" -std=c++17 -fsyntax-only -Wall -Wextra -Werror -DNAPI_VERSION=8 -DNAPI_CPP_EXCEPTIONS \
        -isystem "$dir" -isystem "$cuda_inc" ${napi_inc:+-I "$root/$napi_inc"} -I "$node_inc" "$src"; then
      echo "ok   TensorRT $version  $(basename "$src")"
    else
      echo "FAIL TensorRT $version  $(basename "$src")" >&2; status=1
    fi
  done
done
exit $status
