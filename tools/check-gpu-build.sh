#!/usr/bin/env bash
# The GPU addon as a Jetson user builds it, proved on a machine without a GPU or TensorRT:
#   1. the package is packed (dist built here, no prebuild step) and installed in a new project;
#   2. stand-in libnvinfer/libnvonnxparser (test/native/trt-standin) are built against the public
#      TensorRT 10.3.0 headers (../shared/third_party/tensorrt-headers/10.3.0, or TRT_HEADERS);
#   3. `npx ct-edge build-native --tensorrt-root ... --cuda-archs 87` builds the whole addon (CUDA
#      kernels with nvcc, the TensorRT backend) inside node_modules/ct-edge;
#   4. the addon records the stand-in folder as DT_RPATH, not DT_RUNPATH, and the libraries libnvinfer
#      loads by itself at run time are found (the stand-in libnvinfer dlopens one, as TensorRT does);
#   5. tools/package-check/gpu-standin.mjs: features cuda and tensorrt, typed errors (ERR_CUDA,
#      ERR_MODEL_NOT_FOUND) from Engine.load and buildEngine, the per-environment class after a
#      worker exits; doctor and build-engine --dry-run run.
# Needs the npm registry (the install), nvcc, cmake, g++. About a minute on 2 cores.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
headers="${TRT_HEADERS:-$root/../shared/third_party/tensorrt-headers/10.3.0}"
[[ -f "$headers/NvInfer.h" ]] || { echo "TensorRT headers not found in $headers (set TRT_HEADERS)" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export ONNXRUNTIME_NODE_INSTALL=skip npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
t0=$SECONDS
step() { echo "[gpu-build $((SECONDS - t0))s] $*"; }

cd "$root"
npm run --silent build
tgz="$work/$(npm pack --ignore-scripts --silent --pack-destination "$work" | tail -1)"
tar -tzf "$tgz" | grep -q '^package/test/' && { echo "the package ships test/" >&2; exit 1; }
step "packed $(basename "$tgz")"

mkdir "$work/app" && cd "$work/app"
echo '{ "name": "gpu-consumer", "private": true, "type": "module" }' > package.json
npm install "$tgz" >install.log 2>&1 || { cat install.log; exit 1; }
node -e "require.resolve('cmake-js/bin/cmake-js')" || { echo "cmake-js did not come with ct-edge" >&2; exit 1; }
step "installed; cmake-js came with it"

"$root/test/native/trt-standin/build.sh" "$headers" "$work/trt"
trt_version="$(printf '#include <NvInferVersion.h>\nNV_TENSORRT_MAJOR.NV_TENSORRT_MINOR.NV_TENSORRT_PATCH\n' | g++ -E -P -isystem "$headers" - | tail -1 | tr -d ' ')"

npx ct-edge build-native --tensorrt-root "$work/trt" --cuda-archs 87 ${CUDA_PATH:+--cuda-path "$CUDA_PATH"} | sed 's/^/  /'
step "build-native done"

addon=node_modules/ct-edge/build/Release/ct_edge.node
dyn="$(readelf -d "$addon")"
echo "$dyn" | grep -E '\((RPATH|RUNPATH)\)' | sed 's/^ */  /'
echo "$dyn" | grep -q "(RPATH).*$work/trt/lib" || { echo "the addon does not record $work/trt/lib as DT_RPATH" >&2; exit 1; }
if echo "$dyn" | grep -q '(RUNPATH)'; then echo "the addon has a DT_RUNPATH: libraries libnvinfer loads would not be found" >&2; exit 1; fi

cp "$root/tools/package-check/gpu-standin.mjs" .
node gpu-standin.mjs "$trt_version" 87 2>stderr.log | sed 's/^/  /'
if grep -q 'stand-in libnvinfer: dlopen' stderr.log; then cat stderr.log >&2; echo "a library libnvinfer loads at run time was not found" >&2; exit 1; fi
npx ct-edge doctor 2>&1 | grep -E '^  (Addon|CUDA|TensorRT|GPU) ' | sed 's/^/  doctor:/'
npx ct-edge doctor | grep -q "TensorRT *$trt_version (compiled against $trt_version)"
npx ct-edge build-engine node_modules/ct-edge/models/student-2.onnx --dry-run | grep -q "^trtexec --onnx=" || { echo "build-engine --dry-run printed no trtexec command" >&2; exit 1; }
step "ok: the installed package built and loaded the GPU addon; a machine without a GPU gets typed errors"
