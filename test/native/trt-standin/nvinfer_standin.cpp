// A stand-in for libnvinfer, for building and loading the GPU addon where TensorRT is not installed
// (CI, tools/check-gpu-build.sh). Written for ct-edge, not NVIDIA code: it implements only the C
// entry points the TensorRT headers' inline factories call, compiled against the real headers so
// that the signatures are TensorRT's. Every factory logs an error through the caller's logger and
// returns null, which ct-edge must turn into a typed error.
//
// Like the real library, it loads a library of its own at run time by its bare soname (TensorRT 10
// dlopens libnvinfer_builder_resource.so.<version> from its own folder): when the addon's run path
// does not reach that folder for libraries loaded *by* libnvinfer, the load fails and this prints
// "stand-in libnvinfer: dlopen(...) failed", which the check looks for.
#include <NvInfer.h>
#include <dlfcn.h>

#include <cstdio>
#include <string>

namespace {

void refuse(void* logger, const char* what) {
  if (logger)
    static_cast<nvinfer1::ILogger*>(logger)->log(nvinfer1::ILogger::Severity::kERROR,
                                                 (std::string("stand-in libnvinfer: ") + what + " is not available (no TensorRT here)").c_str());
}

__attribute__((constructor)) void load_resource() {
  const std::string name = "libnvinfer_builder_resource.so." + std::to_string(NV_TENSORRT_MAJOR) + "." +
                           std::to_string(NV_TENSORRT_MINOR) + "." + std::to_string(NV_TENSORRT_PATCH);
  if (!dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL)) std::fprintf(stderr, "stand-in libnvinfer: dlopen(%s) failed: %s\n", name.c_str(), dlerror());
}

}  // namespace

// TensorRT's encoding: major*10000 + minor*100 + patch from 10 on, major*1000 + minor*100 + patch before.
extern "C" TENSORRTAPI int32_t getInferLibVersion() noexcept {
  return NV_TENSORRT_MAJOR * (NV_TENSORRT_MAJOR >= 10 ? 10000 : 1000) + NV_TENSORRT_MINOR * 100 + NV_TENSORRT_PATCH;
}

extern "C" TENSORRTAPI void* createInferBuilder_INTERNAL(void* logger, int32_t) noexcept {
  refuse(logger, "createInferBuilder");
  return nullptr;
}

extern "C" TENSORRTAPI void* createInferRuntime_INTERNAL(void* logger, int32_t) noexcept {
  refuse(logger, "createInferRuntime");
  return nullptr;
}
