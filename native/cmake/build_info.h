// What a cmake-js build found and left out (CUDA, TensorRT) and why, for `ct-edge doctor` and for
// load errors. Compiled only by native/CMakeLists.txt (sources.json key "cmake"); the addon's Init
// calls register_build_info(env, exports) under #ifdef CT_EDGE_HAVE_BUILD_INFO.
#pragma once
#include <napi.h>

namespace ctedge {
// Sets exports.build = { system: 'cmake-js', cuda: { found, version, architectures, whyNot },
// tensorrt: { found, version, whyNot, libDir } }. A node-gyp build has no exports.build (CPU only).
void register_build_info(Napi::Env env, Napi::Object exports);
}  // namespace ctedge
