// N-API helpers shared by every binding (the CPU addon, CUDA, TensorRT): frames zero-copy from
// Buffer/TypedArray/ArrayBuffer, validated by TrackerCore::validate_frame before any pixel loop
// sees them, and errors as JS Error objects with a stable `code`.
#pragma once
#include <napi.h>

#include <string>

#include "../core/errors.h"
#include "../core/tracker_core.h"

namespace ctedge {
namespace napi_helpers {

inline Napi::Error coded_error(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

[[noreturn]] inline void throw_coded(Napi::Env env, const char* code, const std::string& message) {
  throw coded_error(env, code, message);
}

inline double number_field(const Napi::Object& o, const char* key, const char* what) {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw_coded(o.Env(), "ERR_INVALID_ARGUMENT", std::string(what) + "." + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

inline int int_field(const Napi::Object& o, const char* key, const char* what) {
  const double d = number_field(o, key, what);
  if (d != static_cast<double>(static_cast<int>(d)))
    throw_coded(o.Env(), "ERR_INVALID_ARGUMENT", std::string(what) + "." + key + " must be an integer, got " + std::to_string(d));
  return static_cast<int>(d);
}

// Bytes of a Buffer, Uint8Array, Uint8ClampedArray or ArrayBuffer, without a copy.
inline bool byte_view(const Napi::Value& v, const uint8_t** data, size_t* length) {
  if (v.IsTypedArray()) {
    const auto t = v.As<Napi::TypedArray>();
    if (t.TypedArrayType() != napi_uint8_array && t.TypedArrayType() != napi_uint8_clamped_array) return false;
    *data = static_cast<const uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
    *length = t.ByteLength();
    return true;
  }
  if (v.IsArrayBuffer()) {
    auto b = v.As<Napi::ArrayBuffer>();
    *data = static_cast<const uint8_t*>(b.Data());
    *length = b.ByteLength();
    return true;
  }
  return false;
}

// A frame is { data, width, height, format, stride? }; validated here so that no bad frame reaches
// the core's pixel loops.
inline FrameView frame_view(const Napi::Value& value) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) throw_coded(env, "ERR_INVALID_ARGUMENT", "frame must be an object { data, width, height, format, stride? }");
  const Napi::Object o = value.As<Napi::Object>();
  FrameView f;
  size_t length = 0;
  if (!byte_view(o.Get("data"), &f.data, &length))
    throw_coded(env, "ERR_FRAME_DATA", "frame.data must be a Buffer, Uint8Array, Uint8ClampedArray or ArrayBuffer of 8-bit pixels");
  const Napi::Value fmt = o.Get("format");
  if (!fmt.IsString() || !parse_pixel_format(fmt.As<Napi::String>().Utf8Value(), &f.format))
    throw_coded(env, "ERR_FRAME_FORMAT", "frame.format must be one of rgb, bgr, rgba, bgra, gray, nv12, got " +
                                             (fmt.IsString() ? "'" + fmt.As<Napi::String>().Utf8Value() + "'" : std::string("a non-string")));
  f.width = int_field(o, "width", "frame");
  f.height = int_field(o, "height", "frame");
  const Napi::Value stride = o.Get("stride");
  f.stride = stride.IsUndefined() || stride.IsNull() ? f.width * bytes_per_pixel(f.format) : int_field(o, "stride", "frame");
  try {
    TrackerCore::validate_frame(f, length);
  } catch (const CoreError& e) {
    throw_coded(env, e.code(), e.what());
  }
  return f;
}

inline Box box_value(const Napi::Value& value) {
  if (!value.IsObject()) throw_coded(value.Env(), "ERR_BOX_INVALID", "box must be an object { x, y, width, height } in pixels");
  const Napi::Object o = value.As<Napi::Object>();
  const auto field = [&](const char* key) {
    const Napi::Value v = o.Get(key);
    if (!v.IsNumber()) throw_coded(value.Env(), "ERR_BOX_INVALID", std::string("box.") + key + " must be a number");
    return v.As<Napi::Number>().DoubleValue();
  };
  return {field("x"), field("y"), field("width"), field("height")};
}

inline Normalization normalization(const Napi::Value& value) {
  if (!value.IsObject()) throw_coded(value.Env(), "ERR_INVALID_ARGUMENT", "normalisation must be { mean, std, channelOrder }");
  const Napi::Object cfg = value.As<Napi::Object>();
  Normalization n;
  const auto triple = [&](const char* key, float* out) {
    const Napi::Value v = cfg.Get(key);
    if (!v.IsArray() || v.As<Napi::Array>().Length() != 3)
      throw_coded(cfg.Env(), "ERR_INVALID_ARGUMENT", std::string(key) + " must be an array of 3 numbers (R, G, B)");
    const auto a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < 3; ++i) out[i] = a.Get(i).As<Napi::Number>().FloatValue();
  };
  triple("mean", n.mean);
  triple("std", n.std);
  const std::string order = cfg.Get("channelOrder").ToString().Utf8Value();
  if (order != "rgb" && order != "bgr") throw_coded(cfg.Env(), "ERR_INVALID_ARGUMENT", "channelOrder must be 'rgb' or 'bgr', got '" + order + "'");
  n.order = order == "rgb" ? ChannelOrder::RGB : ChannelOrder::BGR;
  return n;
}

}  // namespace napi_helpers
}  // namespace ctedge
