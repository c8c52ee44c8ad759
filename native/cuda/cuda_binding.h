// N-API bindings of the CUDA pre-processing (compiled only when CMake finds CUDA). The addon's Init
// calls register_cuda(env, exports) under #ifdef CT_EDGE_WITH_CUDA after it has set `features`.
#pragma once
#include <napi.h>

namespace ctedge {
// Sets exports.cuda = { probe(), cropToTensor(frame, window, outSize, dst, norm) } and
// exports.features.cuda = true (compiled in), exports.features.cudaDevice = <a device is usable>.
void register_cuda(Napi::Env env, Napi::Object exports);
}  // namespace ctedge
