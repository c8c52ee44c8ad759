// N-API helpers shared by every binding (the CPU addon, CUDA, TensorRT): frames zero-copy from
// Buffer/TypedArray/ArrayBuffer, validated by TrackerCore::validate_frame before any pixel loop
// sees them; boxes, crop windows and track results as JS objects; errors as JS Error objects with a
// stable `code`; the AsyncWorkers behind every promise. The tracker configuration has its own
// parser beside this file (tracker_config.h).
#pragma once
#include <napi.h>

#include <cmath>
#include <exception>
#include <new>
#include <memory>
#include <string>
#include <vector>

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

// Runs core code, turning a CoreError into a JS error with the same code and any other C++
// exception (std::bad_alloc on a huge size, ...) into ERR_INTERNAL, so that no exception reaches
// Node as a terminate(). Wrap every N-API entry's body in it.
template <typename F>
auto call_core(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;  // already a JS error
  } catch (const CoreError& e) {
    throw_coded(env, e.code(), e.what());
  } catch (const std::bad_alloc&) {
    throw_coded(env, "ERR_INTERNAL", "out of memory in the native addon (std::bad_alloc): a size is too large for this machine");
  } catch (const std::exception& e) {
    throw_coded(env, "ERR_INTERNAL", std::string("unexpected native exception: ") + e.what());
  }
}

inline double number_field(const Napi::Object& o, const char* key, const char* what) {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw_coded(o.Env(), "ERR_INVALID_ARGUMENT", std::string(what) + "." + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

inline int int_field(const Napi::Object& o, const char* key, const char* what) {
  const double d = number_field(o, key, what);
  if (!(d >= -2147483648.0 && d <= 2147483647.0))  // before the cast, which is undefined outside int
    throw_coded(o.Env(), "ERR_INVALID_ARGUMENT", std::string(what) + "." + key + " must be an integer within +-2^31, got " + std::to_string(d));
  if (d != static_cast<double>(static_cast<int>(d)))
    throw_coded(o.Env(), "ERR_INVALID_ARGUMENT", std::string(what) + "." + key + " must be an integer, got " + std::to_string(d));
  return static_cast<int>(d);
}

// Bytes of a Buffer, Uint8Array, Uint8ClampedArray or ArrayBuffer, without a copy. `shared`: the
// memory is a SharedArrayBuffer's, which cannot be detached and lives while any view of it does.
struct ByteView {
  const uint8_t* data = nullptr;
  size_t length = 0;
  bool shared = false;
  bool detached = false;
};

inline bool byte_view(const Napi::Value& v, ByteView* out) {
  napi_env env = v.Env();
  if (v.IsTypedArray()) {
    napi_typedarray_type type;
    size_t length = 0, offset = 0;
    void* data = nullptr;
    napi_value buffer = nullptr;
    // napi_get_typedarray_info (not TypedArray::ArrayBuffer().Data(), which fails on shared memory).
    NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset), false);
    if (type != napi_uint8_array && type != napi_uint8_clamped_array) return false;
    bool is_array_buffer = false;
    NAPI_THROW_IF_FAILED(env, napi_is_arraybuffer(env, buffer, &is_array_buffer), false);
    out->shared = !is_array_buffer;
    if (is_array_buffer) NAPI_THROW_IF_FAILED(env, napi_is_detached_arraybuffer(env, buffer, &out->detached), false);
    out->data = static_cast<const uint8_t*>(data);
    out->length = out->detached ? 0 : length;
    return true;
  }
  if (v.IsArrayBuffer()) {
    NAPI_THROW_IF_FAILED(env, napi_is_detached_arraybuffer(env, v, &out->detached), false);
    auto b = v.As<Napi::ArrayBuffer>();
    out->data = out->detached ? nullptr : static_cast<const uint8_t*>(b.Data());
    out->length = out->detached ? 0 : b.ByteLength();
    return true;
  }
  return false;
}

// A frame is { data, width, height, format, stride? }; validated here so that no bad frame reaches
// the core's pixel loops. `shared` (optional) tells whether its pixels are in shared memory.
inline FrameView frame_view(const Napi::Value& value, bool* shared = nullptr) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) throw_coded(env, "ERR_INVALID_ARGUMENT", "frame must be an object { data, width, height, format, stride? }");
  const Napi::Object o = value.As<Napi::Object>();
  FrameView f;
  ByteView bytes;
  if (!byte_view(o.Get("data"), &bytes))
    throw_coded(env, "ERR_FRAME_DATA", "frame.data must be a Buffer, Uint8Array, Uint8ClampedArray or ArrayBuffer of 8-bit pixels "
                                       "(shared memory too: new Uint8Array(sharedArrayBuffer))");
  if (bytes.detached)
    throw_coded(env, "ERR_FRAME_DATA", "frame.data's ArrayBuffer is detached (it was transferred, e.g. by postMessage or "
                                       "structuredClone with transfer): pass a frame whose memory is still yours");
  f.data = bytes.data;
  if (shared) *shared = bytes.shared;
  const Napi::Value fmt = o.Get("format");
  if (!fmt.IsString() || !parse_pixel_format(fmt.As<Napi::String>().Utf8Value(), &f.format))
    throw_coded(env, "ERR_FRAME_FORMAT", "frame.format must be one of rgb, bgr, rgba, bgra, gray, nv12, got " +
                                             (fmt.IsString() ? "'" + fmt.As<Napi::String>().Utf8Value() + "'" : std::string("a non-string")));
  f.width = int_field(o, "width", "frame");
  f.height = int_field(o, "height", "frame");
  // NV12's colour matrix and range; absent: BT.601 limited (what camera pipelines deliver).
  const Napi::Value matrix = o.Get("colorMatrix");
  if (!matrix.IsUndefined() && !(matrix.IsString() && parse_color_matrix(matrix.As<Napi::String>().Utf8Value(), &f.matrix)))
    throw_coded(env, "ERR_FRAME_FORMAT", "frame.colorMatrix must be 'bt601' or 'bt709' (or left out: bt601), got " +
                                             (matrix.IsString() ? "'" + matrix.As<Napi::String>().Utf8Value() + "'" : std::string("a non-string")));
  const Napi::Value range = o.Get("colorRange");
  if (!range.IsUndefined() && !(range.IsString() && parse_color_range(range.As<Napi::String>().Utf8Value(), &f.range)))
    throw_coded(env, "ERR_FRAME_FORMAT", "frame.colorRange must be 'limited' or 'full' (or left out: limited), got " +
                                             (range.IsString() ? "'" + range.As<Napi::String>().Utf8Value() + "'" : std::string("a non-string")));
  const Napi::Value stride = o.Get("stride");
  if (stride.IsUndefined() || stride.IsNull()) {
    const long long row = static_cast<long long>(f.width) * bytes_per_pixel(f.format);
    if (row > 0x7fffffffLL)
      throw_coded(env, "ERR_FRAME_SIZE", "a row of " + std::to_string(f.width) + " " + pixel_format_name(f.format) +
                                             " pixels is " + std::to_string(row) + " bytes, more than 2^31-1; split the frame");
    f.stride = static_cast<int>(row);
  } else {
    f.stride = int_field(o, "stride", "frame");
  }
  call_core(env, [&] { TrackerCore::validate_frame(f, bytes.length); });
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
    for (uint32_t i = 0; i < 3; ++i) {
      const Napi::Value x = a.Get(i);
      if (!x.IsNumber() || !std::isfinite(x.As<Napi::Number>().DoubleValue()))
        throw_coded(cfg.Env(), "ERR_INVALID_ARGUMENT", std::string(key) + " must be an array of 3 finite numbers (R, G, B)");
      out[i] = x.As<Napi::Number>().FloatValue();
    }
  };
  triple("mean", n.mean);
  triple("std", n.std);
  const Napi::Value order_value = cfg.Get("channelOrder");
  const std::string order = order_value.IsString() ? order_value.As<Napi::String>().Utf8Value() : "?";
  if (order != "rgb" && order != "bgr") throw_coded(cfg.Env(), "ERR_INVALID_ARGUMENT", "channelOrder must be 'rgb' or 'bgr', got '" + order + "'");
  n.order = order == "rgb" ? ChannelOrder::RGB : ChannelOrder::BGR;
  return n;
}

// The crop window { x0, y0, side } of cropToTensor, in frame pixels.
inline CropWindow crop_window(const Napi::Value& value) {
  if (!value.IsObject()) throw_coded(value.Env(), "ERR_INVALID_ARGUMENT", "window must be { x0, y0, side }");
  const Napi::Object w = value.As<Napi::Object>();
  const CropWindow window{int_field(w, "x0", "window"), int_field(w, "y0", "window"), int_field(w, "side", "window")};
  if (window.side <= 0) throw_coded(value.Env(), "ERR_INVALID_ARGUMENT", "window.side must be positive");
  // Corner plus side must stay an int: the crop's sampling taps are window.x0 + 0..side-1.
  if (window.side > (1 << 30) || window.x0 < -(1 << 30) || window.x0 > (1 << 30) || window.y0 < -(1 << 30) || window.y0 > (1 << 30))
    throw_coded(value.Env(), "ERR_INVALID_ARGUMENT", "window corner and side must lie within +-2^30 px");
  return window;
}

inline int out_size(const Napi::Value& value) {
  const double d = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : 0;
  if (!(d >= 1 && d <= 16384 && d == static_cast<int>(d)))
    throw_coded(value.Env(), "ERR_INVALID_ARGUMENT", "outSize must be a whole number from 1 to 16384");
  return static_cast<int>(d);
}

// A tensor shape as a JS array of numbers (-1 for a dynamic dimension).
inline Napi::Array dims_array(Napi::Env env, const std::vector<long long>& dims) {
  Napi::Array a = Napi::Array::New(env, dims.size());
  for (size_t k = 0; k < dims.size(); ++k) a.Set(static_cast<uint32_t>(k), static_cast<double>(dims[k]));
  return a;
}

// { x, y, width, height, score, rawScore, peakX, peakY, lost }: one frame's result, from either tracker.
inline Napi::Object result_object(Napi::Env env, const TrackResult& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("x", r.box.x);
  out.Set("y", r.box.y);
  out.Set("width", r.box.w);
  out.Set("height", r.box.h);
  out.Set("score", r.peak.score);
  out.Set("rawScore", r.peak.raw_score);
  out.Set("peakX", r.peak.x);
  out.Set("peakY", r.peak.y);
  out.Set("lost", r.lost);
  return out;
}

// The tracker behind a JS tracker object, unless it was disposed or a track() call is running on it.
template <typename T>
T& live_tracker(Napi::Env env, const std::shared_ptr<T>& tracker, bool busy) {
  if (!tracker) throw_coded(env, "ERR_DISPOSED", "this tracker was disposed; create a new one");
  if (busy) throw_coded(env, "ERR_BUSY", "a track() call is still running on this tracker; await it before the next");
  return *tracker;
}

// exports.features[name] = value, keeping what earlier registrations set.
inline void set_feature(Napi::Env env, Napi::Object exports, const char* name, bool value) {
  const Napi::Value existing = exports.Get("features");
  Napi::Object features = existing.IsObject() ? existing.As<Napi::Object>() : Napi::Object::New(env);
  features.Set(name, value);
  exports.Set("features", features);
}

// An AsyncWorker that settles a promise: work run through Guard() on the libuv pool rejects it with
// a CoreError's code, or with `fallback_code` for any other exception.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, const char* fallback_code)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), code_(fallback_code) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  template <typename F>
  void Guard(F&& f) {
    try {
      f();
    } catch (const CoreError& e) {
      code_ = e.code();
      SetError(e.what());
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(coded_error(Env(), code_, e.Message()).Value()); }

  Napi::Promise::Deferred deferred_;

 private:
  const char* code_;
};

// A PromiseWorker for one frame on one tracker object: the tracker is busy (see live_tracker) from
// here until the promise settles, and the tracker object stays alive until then. `busy` is the
// tracker object's flag; the reference held here keeps it valid. The work never reads the caller's
// frame: what it needs was copied before it was queued (the TensorRT tracker's prepare()).
class TrackerFrameWorker : public PromiseWorker {
 public:
  TrackerFrameWorker(const Napi::Object& owner, bool* busy, const char* fallback_code)
      : PromiseWorker(owner.Env(), fallback_code), busy_(busy) {
    owner_ref_ = Napi::Persistent(owner);
    *busy_ = true;
  }

 protected:
  // What the promise resolves to, on the main thread once the work succeeded.
  virtual Napi::Value Result() = 0;
  void OnOK() override {
    *busy_ = false;
    deferred_.Resolve(Result());
  }
  void OnError(const Napi::Error& e) override {
    *busy_ = false;
    PromiseWorker::OnError(e);
  }

 private:
  bool* busy_;
  Napi::ObjectReference owner_ref_;
};

// init(frame, box) of a tracker object (TrackerCore or the TensorRT GpuTracker): synchronous.
template <typename T>
Napi::Value init_tracker(const Napi::CallbackInfo& info, const std::shared_ptr<T>& tracker, bool busy) {
  auto& t = live_tracker(info.Env(), tracker, busy);
  const FrameView frame = frame_view(info[0]);
  const Box box = box_value(info[1]);
  call_core(info.Env(), [&] { t.init(frame, box); });
  return info.Env().Undefined();
}

}  // namespace napi_helpers
}  // namespace ctedge
