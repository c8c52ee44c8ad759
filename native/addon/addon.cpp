// N-API glue: turns JS objects into core views (zero-copy over Buffers and TypedArrays), core
// errors into JS errors with a stable `code`, and runs the per-frame crop on the libuv pool.
#include <napi.h>

#include <memory>
#include <string>

#include "../core/errors.h"
#include "../core/tracker_core.h"
#include "napi_helpers.h"
#ifdef CT_EDGE_HAVE_BUILD_INFO
#include "../cmake/build_info.h"
#endif
#ifdef CT_EDGE_WITH_CUDA
#include "../cuda/cuda_binding.h"
#endif
#ifdef CT_EDGE_WITH_TENSORRT
#include "../tensorrt/tensorrt_binding.h"
#endif

namespace {

using ctedge::CoreError;
using namespace ctedge::napi_helpers;

// A tensor the core writes into: Float32Array (float32) or Uint16Array (float16 bits).
void* tensor_data(const Napi::Value& v, bool half, size_t elements, const char* what) {
  const napi_typedarray_type want = half ? napi_uint16_array : napi_float32_array;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != want ||
      v.As<Napi::TypedArray>().ElementLength() != elements)
    throw_coded(v.Env(), "ERR_INVALID_ARGUMENT", std::string(what) + " must be a " + (half ? "Uint16Array" : "Float32Array") +
                                                    " of " + std::to_string(elements) + " elements");
  const auto t = v.As<Napi::TypedArray>();
  return static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
}

class NativeTracker : public Napi::ObjectWrap<NativeTracker> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeTracker",
                       {InstanceMethod<&NativeTracker::Init>("init"),
                        InstanceMethod<&NativeTracker::PrepareSearch>("prepareSearch"),
                        InstanceMethod<&NativeTracker::PrepareSearchAsync>("prepareSearchAsync"),
                        InstanceMethod<&NativeTracker::Update>("update"),
                        InstanceMethod<&NativeTracker::Dispose>("dispose")});
  }

  // new NativeTracker(config, templateTensor, searchTensor)
  NativeTracker(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTracker>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw_coded(env, "ERR_INVALID_ARGUMENT", "NativeTracker needs a config object");
    const Napi::Object cfg = info[0].As<Napi::Object>();
    ctedge::TrackerConfig c;
    c.template_size = int_field(cfg, "templateSize", "config");
    c.search_size = int_field(cfg, "searchSize", "config");
    c.feature_size = int_field(cfg, "featureSize", "config");
    c.template_factor = number_field(cfg, "templateFactor", "config");
    c.search_factor = number_field(cfg, "searchFactor", "config");
    c.lost_threshold = static_cast<float>(number_field(cfg, "lostThreshold", "config"));
    c.norm = normalization(cfg);
    const std::string mapping = cfg.Get("boxMapping").ToString().Utf8Value();
    if (mapping != "ostrack" && mapping != "opencv") throw_coded(env, "ERR_INVALID_ARGUMENT", "boxMapping must be 'ostrack' or 'opencv', got '" + mapping + "'");
    c.mapping = mapping == "ostrack" ? ctedge::BoxMapping::OSTrack : ctedge::BoxMapping::OpenCV;
    c.half = cfg.Get("dtype").ToString().Utf8Value() == "float16";
    if (c.template_size <= 0 || c.search_size <= 0 || c.feature_size <= 0)
      throw_coded(env, "ERR_INVALID_ARGUMENT", "templateSize, searchSize and featureSize must be positive");
    if (!(c.template_factor > 0) || !(c.search_factor > 0))
      throw_coded(env, "ERR_INVALID_ARGUMENT", "templateFactor and searchFactor must be positive");
    void* t = tensor_data(info[1], c.half, 3ull * c.template_size * c.template_size, "template tensor");
    void* s = tensor_data(info[2], c.half, 3ull * c.search_size * c.search_size, "search tensor");
    template_ref_ = Napi::Persistent(info[1].As<Napi::Object>());
    search_ref_ = Napi::Persistent(info[2].As<Napi::Object>());
    core_ = std::make_shared<ctedge::TrackerCore>(c, t, s);
  }

 private:
  class SearchWorker : public Napi::AsyncWorker {
   public:
    SearchWorker(NativeTracker* owner, const Napi::Object& frame, ctedge::FrameView view)
        : Napi::AsyncWorker(owner->Env()), deferred_(Napi::Promise::Deferred::New(owner->Env())),
          owner_(owner), core_(owner->core_), view_(view) {
      frame_ref_ = Napi::Persistent(frame);  // keeps the pixels alive while the pool thread reads them
      owner_ref_ = Napi::Persistent(owner->Value());
    }
    Napi::Promise Promise() { return deferred_.Promise(); }

   protected:
    void Execute() override {
      try {
        core_->prepare_search(view_);
      } catch (const CoreError& e) {
        code_ = e.code();
        SetError(e.what());
      }
    }
    void OnOK() override {
      owner_->busy_ = false;
      deferred_.Resolve(Env().Undefined());
    }
    void OnError(const Napi::Error& e) override {
      owner_->busy_ = false;
      deferred_.Reject(coded_error(Env(), code_, e.Message()).Value());
    }

   private:
    Napi::Promise::Deferred deferred_;
    NativeTracker* owner_;
    std::shared_ptr<ctedge::TrackerCore> core_;
    ctedge::FrameView view_;
    Napi::ObjectReference frame_ref_, owner_ref_;
    const char* code_ = "ERR_INTERNAL";
  };

  ctedge::TrackerCore& live_core(Napi::Env env) {
    if (!core_) throw_coded(env, "ERR_DISPOSED", "this tracker was disposed; create a new one");
    if (busy_) throw_coded(env, "ERR_BUSY", "a track() call is still running on this tracker; await it before the next");
    return *core_;
  }

  template <typename F>
  auto guarded(Napi::Env env, F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const CoreError& e) {
      throw_coded(env, e.code(), e.what());
    }
  }

  Napi::Value Init(const Napi::CallbackInfo& info) {
    auto& core = live_core(info.Env());
    const auto frame = frame_view(info[0]);
    const auto box = box_value(info[1]);
    guarded(info.Env(), [&] { core.init(frame, box); });
    return info.Env().Undefined();
  }

  Napi::Value PrepareSearch(const Napi::CallbackInfo& info) {
    auto& core = live_core(info.Env());
    const auto frame = frame_view(info[0]);
    guarded(info.Env(), [&] { core.prepare_search(frame); });
    return info.Env().Undefined();
  }

  Napi::Value PrepareSearchAsync(const Napi::CallbackInfo& info) {
    auto& core = live_core(info.Env());
    const auto frame = frame_view(info[0]);
    if (!core.initialized()) throw_coded(info.Env(), "ERR_NOT_INITIALIZED", "call init(frame, box) before track(frame)");
    auto* worker = new SearchWorker(this, info[0].As<Napi::Object>(), frame);
    busy_ = true;
    worker->Queue();
    return worker->Promise();
  }

  // update(score, size, offset): Float32Arrays of F*F, 2*F*F, 2*F*F values (the backend's outputs).
  Napi::Value Update(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& core = live_core(env);
    const size_t cells = static_cast<size_t>(core.config().feature_size) * core.config().feature_size;
    const float* maps[3];
    const char* names[3] = {"score map", "size map", "offset map"};
    const size_t want[3] = {cells, 2 * cells, 2 * cells};
    for (int i = 0; i < 3; ++i) {
      if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
          info[i].As<Napi::TypedArray>().ElementLength() != want[i])
        throw_coded(env, "ERR_MODEL_OUTPUT", std::string(names[i]) + " must be float32 with " + std::to_string(want[i]) +
                                                 " values (feature map " + std::to_string(core.config().feature_size) + "x" +
                                                 std::to_string(core.config().feature_size) + ")");
      const auto t = info[i].As<Napi::Float32Array>();
      maps[i] = t.Data();
    }
    const auto r = guarded(env, [&] { return core.update(maps[0], maps[1], maps[2]); });
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

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    core_.reset();  // a running worker holds its own reference and finishes safely
    template_ref_.Reset();
    search_ref_.Reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<ctedge::TrackerCore> core_;
  Napi::ObjectReference template_ref_, search_ref_;
  bool busy_ = false;
};

// cropToTensor(frame, { x0, y0, side }, outSize, dst, { mean, std, channelOrder }): one crop with
// the tracker's exact pixels, for the train side's pair sampler and for tests.
Napi::Value CropToTensor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto frame = frame_view(info[0]);
  if (!info[1].IsObject()) throw_coded(env, "ERR_INVALID_ARGUMENT", "window must be { x0, y0, side }");
  const Napi::Object w = info[1].As<Napi::Object>();
  ctedge::CropWindow window{int_field(w, "x0", "window"), int_field(w, "y0", "window"), int_field(w, "side", "window")};
  if (window.side <= 0) throw_coded(env, "ERR_INVALID_ARGUMENT", "window.side must be positive");
  if (!info[2].IsNumber() || info[2].As<Napi::Number>().Int32Value() <= 0)
    throw_coded(env, "ERR_INVALID_ARGUMENT", "outSize must be a positive integer");
  const int out_size = info[2].As<Napi::Number>().Int32Value();
  const auto norm = normalization(info[4]);
  const bool half = info[3].IsTypedArray() && info[3].As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array;
  void* dst = tensor_data(info[3], half, 3ull * out_size * out_size, "dst");
  ctedge::CropSampler sampler;
  if (half)
    sampler.crop(frame, window, out_size, norm, static_cast<uint16_t*>(dst));
  else
    sampler.crop(frame, window, out_size, norm, static_cast<float*>(dst));
  return env.Undefined();
}

Napi::Value HannWindow(const Napi::CallbackInfo& info) {
  const int n = info[0].As<Napi::Number>().Int32Value();
  if (n <= 0) throw_coded(info.Env(), "ERR_INVALID_ARGUMENT", "feature size must be positive");
  const auto w = ctedge::hann_window_2d(n);
  auto out = Napi::Float32Array::New(info.Env(), w.size());
  std::copy(w.begin(), w.end(), out.Data());
  return out;
}

Napi::Value HalfToFloat(const Napi::CallbackInfo& info) {
  const auto in = info[0].As<Napi::Uint16Array>();
  auto out = Napi::Float32Array::New(info.Env(), in.ElementLength());
  for (size_t i = 0; i < in.ElementLength(); ++i) out[i] = ctedge::half_to_float(in[i]);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeTracker", NativeTracker::Define(env));
  exports.Set("cropToTensor", Napi::Function::New(env, CropToTensor));
  exports.Set("hannWindow", Napi::Function::New(env, HannWindow));
  exports.Set("halfToFloat", Napi::Function::New(env, HalfToFloat));
  Napi::Object features = Napi::Object::New(env);
  features.Set("cuda", Napi::Boolean::New(env, false));
  features.Set("tensorrt", Napi::Boolean::New(env, false));
  exports.Set("features", features);
#ifdef CT_EDGE_HAVE_BUILD_INFO
  ctedge::register_build_info(env, exports);
#endif
#ifdef CT_EDGE_WITH_CUDA
  ctedge::register_cuda(env, exports);
#endif
#ifdef CT_EDGE_WITH_TENSORRT
  ctedge::register_tensorrt(env, exports);
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(ct_edge, Init)
