// N-API helpers shared by the CUDA and TensorRT bindings (the same rules as native/addon/addon.cpp:
// frames zero-copy from Buffer/TypedArray/ArrayBuffer, validated by TrackerCore::validate_frame,
// errors as JS Error objects with a stable `code`).
#pragma once
#include <napi.h>

#include <string>

#include "../core/errors.h"
#include "../core/tracker_core.h"

namespace ctedge {
namespace napi_helpers {

[[noreturn]] inline void throw_coded(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  throw e;
}

inline int int_of(const Napi::Object& o, const char* key, const char* what) {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw_coded(o.Env(), "ERR_INVALID_ARGUMENT", std::string(what) + "." + key + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int>(d)))
    throw_coded(o.Env(), "ERR_INVALID_ARGUMENT", std::string(what) + "." + key + " must be an integer");
  return static_cast<int>(d);
}

inline FrameView frame_of(const Napi::Value& value) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) throw_coded(env, "ERR_INVALID_ARGUMENT", "frame must be an object { data, width, height, format, stride? }");
  const Napi::Object o = value.As<Napi::Object>();
  const Napi::Value data = o.Get("data");
  FrameView f;
  size_t length = 0;
  if (data.IsTypedArray() && (data.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array ||
                              data.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_clamped_array)) {
    const auto t = data.As<Napi::TypedArray>();
    f.data = static_cast<const uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
    length = t.ByteLength();
  } else if (data.IsArrayBuffer()) {
    f.data = static_cast<const uint8_t*>(data.As<Napi::ArrayBuffer>().Data());
    length = data.As<Napi::ArrayBuffer>().ByteLength();
  } else {
    throw_coded(env, "ERR_FRAME_DATA", "frame.data must be a Buffer, Uint8Array, Uint8ClampedArray or ArrayBuffer");
  }
  const Napi::Value fmt = o.Get("format");
  if (!fmt.IsString() || !parse_pixel_format(fmt.As<Napi::String>().Utf8Value(), &f.format))
    throw_coded(env, "ERR_FRAME_FORMAT", "frame.format must be one of rgb, bgr, rgba, bgra, gray, nv12");
  f.width = int_of(o, "width", "frame");
  f.height = int_of(o, "height", "frame");
  const Napi::Value stride = o.Get("stride");
  f.stride = stride.IsUndefined() || stride.IsNull() ? f.width * bytes_per_pixel(f.format) : int_of(o, "stride", "frame");
  try {
    TrackerCore::validate_frame(f, length);
  } catch (const CoreError& e) {
    throw_coded(env, e.code(), e.what());
  }
  return f;
}

inline Normalization norm_of(const Napi::Value& value) {
  if (!value.IsObject()) throw_coded(value.Env(), "ERR_INVALID_ARGUMENT", "normalisation must be { mean, std, channelOrder }");
  const Napi::Object cfg = value.As<Napi::Object>();
  Normalization n;
  const auto triple = [&](const char* key, float* out) {
    const Napi::Value v = cfg.Get(key);
    if (!v.IsArray() || v.As<Napi::Array>().Length() != 3)
      throw_coded(cfg.Env(), "ERR_INVALID_ARGUMENT", std::string(key) + " must be an array of 3 numbers (R, G, B)");
    for (uint32_t i = 0; i < 3; ++i) out[i] = v.As<Napi::Array>().Get(i).As<Napi::Number>().FloatValue();
  };
  triple("mean", n.mean);
  triple("std", n.std);
  const std::string order = cfg.Get("channelOrder").ToString().Utf8Value();
  if (order != "rgb" && order != "bgr") throw_coded(cfg.Env(), "ERR_INVALID_ARGUMENT", "channelOrder must be 'rgb' or 'bgr'");
  n.order = order == "rgb" ? ChannelOrder::RGB : ChannelOrder::BGR;
  return n;
}

}  // namespace napi_helpers
}  // namespace ctedge
