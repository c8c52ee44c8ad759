#!/usr/bin/env bash
# Builds the TensorRT stand-ins (this folder) into a TensorRT-shaped prefix:
#   test/native/trt-standin/build.sh HEADERS_DIR OUT_DIR
# OUT_DIR/include -> HEADERS_DIR (e.g. ../shared/third_party/tensorrt-headers/10.3.0), and in
# OUT_DIR/lib: libnvinfer.so.<major> (+ libnvinfer.so), libnvonnxparser.so.<major> (+ .so) and
# libnvinfer_builder_resource.so.<version>, with TensorRT's sonames, so that CMake finds it with
# TENSORRT_ROOT=OUT_DIR and the addon links and loads as against a tarball TensorRT.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ $# -eq 2 && -f "$1/NvInfer.h" ]] || { echo "usage: $0 HEADERS_DIR OUT_DIR (HEADERS_DIR holds NvInfer.h, NvOnnxParser.h)" >&2; exit 2; }
headers="$(cd "$1" && pwd)" out="$2"
cuda_inc="${CUDA_PATH:-/usr/local/cuda}/include"
cxx="${CXX:-g++}"
read -r major minor patch < <(printf '#include <NvInferVersion.h>\nNV_TENSORRT_MAJOR NV_TENSORRT_MINOR NV_TENSORRT_PATCH\n' | "$cxx" -E -P -isystem "$headers" - | tail -1)
mkdir -p "$out/lib"
ln -sfn "$headers" "$out/include"
flags=(-std=c++17 -O1 -shared -fPIC -Wall -Wextra -Werror -isystem "$headers" -isystem "$cuda_inc")
"$cxx" "${flags[@]}" -Wl,-soname,"libnvinfer_builder_resource.so.$major.$minor.$patch" "$here/builder_resource_standin.cpp" -o "$out/lib/libnvinfer_builder_resource.so.$major.$minor.$patch"
"$cxx" "${flags[@]}" -Wl,-soname,"libnvinfer.so.$major" "$here/nvinfer_standin.cpp" -o "$out/lib/libnvinfer.so.$major" -ldl
"$cxx" "${flags[@]}" -Wl,-soname,"libnvonnxparser.so.$major" "$here/nvonnxparser_standin.cpp" -o "$out/lib/libnvonnxparser.so.$major"
ln -sfn "libnvinfer.so.$major" "$out/lib/libnvinfer.so"
ln -sfn "libnvonnxparser.so.$major" "$out/lib/libnvonnxparser.so"
echo "stand-in TensorRT $major.$minor.$patch in $out"
