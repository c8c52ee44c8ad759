// N-API bindings of the TensorRT backend (compiled only when CMake finds TensorRT). The addon's Init
// calls register_tensorrt(env, exports) under #ifdef CT_EDGE_WITH_TENSORRT after it has set `features`.
#pragma once
#include <napi.h>

namespace ctedge {
// Sets exports.tensorrt = { version, compiledVersion, buildEngine(options), loadEngine(path, options),
// TrtTracker } and exports.features.tensorrt = true.
void register_tensorrt(Napi::Env env, Napi::Object exports);
}  // namespace ctedge
