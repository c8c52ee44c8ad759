// exports.cuda: a probe and a one-shot GPU crop with the same signature as the CPU cropToTensor, so
// that tests (test/cuda-preprocess.test.ts) can compare the two paths pixel for pixel.
#include "cuda_binding.h"

#include <string>

#include "../core/tracker_core.h"
#include "../addon/napi_helpers.h"
#include "preprocess.h"

namespace ctedge {
namespace {

using namespace napi_helpers;

Napi::Value Probe(const Napi::CallbackInfo& info) {
  const cuda::DeviceInfo d = cuda::probe_device();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("available", d.available);
  if (!d.available) o.Set("reason", d.reason);
  o.Set("device", d.device);
  o.Set("name", d.name);
  o.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
  o.Set("totalMemory", static_cast<double>(d.total_memory));
  o.Set("integrated", d.integrated);
  o.Set("runtimeVersion", d.runtime_version);
  o.Set("driverVersion", d.driver_version);
  return o;
}

// cropToTensor(frame, { x0, y0, side }, outSize, dst: Float32Array | Uint16Array, norm), on the GPU.
// Uint16Array: float16 bits, what the crop kernel writes into the inputs of an FP16 TensorRT engine
// (trt_runtime.cpp), so that tests can compare that path too.
Napi::Value CropToTensor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const FrameView frame = frame_view(info[0]);
  const CropWindow window = crop_window(info[1]);
  const int size = out_size(info[2]);
  if (!info[3].IsTypedArray()) throw_coded(env, "ERR_INVALID_ARGUMENT", "dst must be a Float32Array or Uint16Array");
  const auto dst = info[3].As<Napi::TypedArray>();
  const bool half = dst.TypedArrayType() == napi_uint16_array;
  if ((!half && dst.TypedArrayType() != napi_float32_array) || dst.ElementLength() != 3ull * size * size)
    throw_coded(env, "ERR_INVALID_ARGUMENT", "dst must be a Float32Array or Uint16Array of 3*outSize*outSize elements");
  const Normalization norm = normalization(info[4]);
  call_core(env, [&] {
    cuda::crop_to_host(frame, window, size, norm, static_cast<uint8_t*>(dst.ArrayBuffer().Data()) + dst.ByteOffset(), half);
  });
  return env.Undefined();
}

}  // namespace

void register_cuda(Napi::Env env, Napi::Object exports) {
  Napi::Object cuda = Napi::Object::New(env);
  cuda.Set("probe", Napi::Function::New(env, Probe, "probe"));
  cuda.Set("cropToTensor", Napi::Function::New(env, CropToTensor, "cropToTensor"));
  exports.Set("cuda", cuda);
  set_feature(env, exports, "cuda", true);
  set_feature(env, exports, "cudaDevice", cuda::probe_device().available);
}

}  // namespace ctedge
