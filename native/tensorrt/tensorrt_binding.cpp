// exports.tensorrt: engine building and the GPU tracking loop, every heavy call on the libuv pool
// (AsyncWorker) so that the event loop never waits for TensorRT or the GPU.
//
//   buildEngine({ onnx, output?, fp16?, workspaceMiB?, timingCache?, keepFp32?, obeyPrecision?, verbose? })
//       -> Promise<{ enginePath, metadataPath, metadata, fastFp16, timingCacheLoaded, timingCacheSaved, seconds }>
//   loadEngine(path, { force? }) -> Promise<TrtEngine>   TrtEngine: { tensors, metadata, path, dispose() }
//   new TrtTracker(engine, config)   config: the NativeTrackerConfig fields plus
//       names?: { template, search, score, size, offset }, cudaGraph?: boolean
//     .init(frame, box)  (synchronous: one crop on the device)
//     .track(frame) -> Promise<{ x, y, width, height, score, rawScore, peakX, peakY, lost, timings }>
//     .dispose()
#include "tensorrt_binding.h"

#include <memory>
#include <string>
#include <vector>

#include "../addon/napi_helpers.h"
#include "engine_builder.h"
#include "trt_common.h"
#include "trt_runtime.h"

namespace ctedge {
namespace {

using namespace napi_helpers;

Napi::Object metadata_object(Napi::Env env, const trt::EngineMetadata& m) {
  // The JSON text is the source of truth; parse it with the engine's own JSON.parse.
  Napi::Object json = env.Global().Get("JSON").As<Napi::Object>();
  return json.Get("parse").As<Napi::Function>().Call(json, {Napi::String::New(env, m.to_json())}).As<Napi::Object>();
}

Napi::Array tensors_array(Napi::Env env, const std::vector<trt::TensorInfo>& tensors) {
  Napi::Array a = Napi::Array::New(env, tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    Napi::Object t = Napi::Object::New(env);
    t.Set("name", tensors[i].name);
    t.Set("io", tensors[i].input ? "input" : "output");
    t.Set("dtype", tensors[i].dtype);
    Napi::Array shape = Napi::Array::New(env, tensors[i].shape.size());
    for (size_t k = 0; k < tensors[i].shape.size(); ++k) shape.Set(static_cast<uint32_t>(k), static_cast<double>(tensors[i].shape[k]));
    t.Set("shape", shape);
    a.Set(static_cast<uint32_t>(i), t);
  }
  return a;
}

// An AsyncWorker that settles a promise and keeps a CoreError's code.
class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
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
  void OnError(const Napi::Error& e) override {
    Napi::Error err = Napi::Error::New(Env(), e.Message());
    err.Set("code", Napi::String::New(Env(), code_));
    deferred_.Reject(err.Value());
  }
  Napi::Promise::Deferred deferred_;
  const char* code_ = "ERR_TENSORRT";
};

class BuildWorker : public PromiseWorker {
 public:
  BuildWorker(Napi::Env env, trt::BuildOptions o) : PromiseWorker(env), options_(std::move(o)) {}
  void Execute() override {
    Guard([&] { report_ = trt::build_engine(options_); });
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object r = Napi::Object::New(env);
    std::string engine_path = report_.metadata_path.substr(0, report_.metadata_path.size() - 5);
    r.Set("enginePath", engine_path);
    r.Set("metadataPath", report_.metadata_path);
    r.Set("metadata", metadata_object(env, report_.metadata));
    r.Set("fastFp16", report_.fast_fp16);
    r.Set("timingCacheLoaded", report_.timing_cache_loaded);
    r.Set("timingCacheSaved", report_.timing_cache_saved);
    r.Set("seconds", report_.seconds);
    deferred_.Resolve(r);
  }

 private:
  trt::BuildOptions options_;
  trt::BuildReport report_;
};

Napi::Value BuildEngine(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw_coded(env, "ERR_INVALID_ARGUMENT", "buildEngine needs { onnx, output?, fp16?, ... }");
  const Napi::Object o = info[0].As<Napi::Object>();
  trt::BuildOptions b;
  if (!o.Get("onnx").IsString()) throw_coded(env, "ERR_INVALID_ARGUMENT", "buildEngine: onnx must be a path");
  b.onnx_path = o.Get("onnx").ToString().Utf8Value();
  if (o.Get("output").IsString()) b.engine_path = o.Get("output").ToString().Utf8Value();
  if (o.Get("fp16").IsBoolean()) b.fp16 = o.Get("fp16").ToBoolean().Value();
  if (o.Get("workspaceMiB").IsNumber()) b.workspace_mib = static_cast<size_t>(o.Get("workspaceMiB").ToNumber().Int64Value());
  if (o.Get("timingCache").IsString()) b.timing_cache_path = o.Get("timingCache").ToString().Utf8Value();
  if (o.Get("obeyPrecision").IsBoolean()) b.obey_precision = o.Get("obeyPrecision").ToBoolean().Value();
  if (o.Get("verbose").IsBoolean()) b.verbose = o.Get("verbose").ToBoolean().Value();
  if (o.Get("keepFp32").IsArray()) {
    b.keep_fp32.clear();
    const Napi::Array a = o.Get("keepFp32").As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) b.keep_fp32.push_back(a.Get(i).ToString().Utf8Value());
  }
  auto* w = new BuildWorker(env, std::move(b));
  w->Queue();
  return w->Promise();
}

class TrtEngineWrap : public Napi::ObjectWrap<TrtEngineWrap> {
 public:
  static Napi::FunctionReference* constructor;
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TrtEngine", {InstanceMethod<&TrtEngineWrap::Dispose>("dispose")});
  }
  TrtEngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrtEngineWrap>(info) {}
  void attach(std::shared_ptr<trt::Engine> e) {
    engine_ = std::move(e);
    Napi::Object self = Value();
    self.Set("path", engine_->path());
    self.Set("tensors", tensors_array(Env(), engine_->tensors()));
    self.Set("metadata", engine_->metadata() ? Napi::Value(metadata_object(Env(), *engine_->metadata())) : Env().Null());
  }
  std::shared_ptr<trt::Engine> engine(Napi::Env env) const {
    if (!engine_) throw_coded(env, "ERR_DISPOSED", "this TensorRT engine was disposed");
    return engine_;
  }

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    engine_.reset();  // trackers keep their own reference until they are disposed
    return info.Env().Undefined();
  }
  std::shared_ptr<trt::Engine> engine_;
};
Napi::FunctionReference* TrtEngineWrap::constructor = nullptr;

class LoadWorker : public PromiseWorker {
 public:
  LoadWorker(Napi::Env env, std::string path, bool force) : PromiseWorker(env), path_(std::move(path)), force_(force) {}
  void Execute() override {
    Guard([&] { engine_ = trt::Engine::load(path_, force_); });
  }
  void OnOK() override {
    Napi::Object obj = TrtEngineWrap::constructor->New({});
    TrtEngineWrap::Unwrap(obj)->attach(engine_);
    deferred_.Resolve(obj);
  }

 private:
  std::string path_;
  bool force_;
  std::shared_ptr<trt::Engine> engine_;
};

Napi::Value LoadEngine(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw_coded(env, "ERR_INVALID_ARGUMENT", "loadEngine needs a path");
  const bool force = info[1].IsObject() && info[1].As<Napi::Object>().Get("force").ToBoolean().Value();
  auto* w = new LoadWorker(env, info[0].ToString().Utf8Value(), force);
  w->Queue();
  return w->Promise();
}

trt::GpuTrackerOptions tracker_options(const Napi::Object& cfg) {
  Napi::Env env = cfg.Env();
  trt::GpuTrackerOptions o;
  TrackerConfig& c = o.core;
  c.template_size = int_field(cfg, "templateSize", "config");
  c.search_size = int_field(cfg, "searchSize", "config");
  c.feature_size = int_field(cfg, "featureSize", "config");
  const auto number = [&](const char* key) {
    if (!cfg.Get(key).IsNumber()) throw_coded(env, "ERR_INVALID_ARGUMENT", std::string("config.") + key + " must be a number");
    return cfg.Get(key).As<Napi::Number>().DoubleValue();
  };
  c.template_factor = number("templateFactor");
  c.search_factor = number("searchFactor");
  c.lost_threshold = static_cast<float>(number("lostThreshold"));
  c.norm = normalization(cfg);
  const std::string mapping = cfg.Get("boxMapping").ToString().Utf8Value();
  if (mapping != "ostrack" && mapping != "opencv") throw_coded(env, "ERR_INVALID_ARGUMENT", "boxMapping must be 'ostrack' or 'opencv'");
  c.mapping = mapping == "ostrack" ? BoxMapping::OSTrack : BoxMapping::OpenCV;
  if (c.template_size <= 0 || c.search_size <= 0 || c.feature_size <= 0 || !(c.template_factor > 0) || !(c.search_factor > 0))
    throw_coded(env, "ERR_INVALID_ARGUMENT", "sizes and crop factors must be positive");
  if (cfg.Get("names").IsObject()) {
    const Napi::Object n = cfg.Get("names").As<Napi::Object>();
    const auto name = [&](const char* key, std::string* out) {
      if (n.Get(key).IsString()) *out = n.Get(key).ToString().Utf8Value();
    };
    name("template", &o.template_name);
    name("search", &o.search_name);
    name("score", &o.score_name);
    name("size", &o.size_name);
    name("offset", &o.offset_name);
  }
  o.cuda_graph = cfg.Get("cudaGraph").ToBoolean().Value();
  return o;
}

Box box_of(const Napi::Value& v) {
  if (!v.IsObject()) throw_coded(v.Env(), "ERR_BOX_INVALID", "box must be an object { x, y, width, height } in pixels");
  const Napi::Object o = v.As<Napi::Object>();
  const auto field = [&](const char* key) {
    if (!o.Get(key).IsNumber()) throw_coded(v.Env(), "ERR_BOX_INVALID", std::string("box.") + key + " must be a number");
    return o.Get(key).As<Napi::Number>().DoubleValue();
  };
  return {field("x"), field("y"), field("width"), field("height")};
}

Napi::Object result_object(Napi::Env env, const TrackResult& r, const trt::GpuTimings& t) {
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
  Napi::Object timings = Napi::Object::New(env);
  timings.Set("stageMs", t.stage_ms);
  timings.Set("preprocessMs", t.preprocess_ms);
  timings.Set("inferMs", t.infer_ms);
  timings.Set("postprocessMs", t.postprocess_ms);
  out.Set("timings", timings);
  return out;
}

class TrtTrackerWrap : public Napi::ObjectWrap<TrtTrackerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TrtTracker",
                       {InstanceMethod<&TrtTrackerWrap::Init>("init"), InstanceMethod<&TrtTrackerWrap::Track>("track"),
                        InstanceMethod<&TrtTrackerWrap::Dispose>("dispose")});
  }

  TrtTrackerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrtTrackerWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(TrtEngineWrap::constructor->Value()))
      throw_coded(env, "ERR_INVALID_ARGUMENT", "TrtTracker needs an engine from tensorrt.loadEngine()");
    if (!info[1].IsObject()) throw_coded(env, "ERR_INVALID_ARGUMENT", "TrtTracker needs a config object");
    auto engine = TrtEngineWrap::Unwrap(info[0].As<Napi::Object>())->engine(env);
    const auto options = tracker_options(info[1].As<Napi::Object>());
    try {
      tracker_ = std::make_shared<trt::GpuTracker>(engine, options);
    } catch (const CoreError& e) {
      throw_coded(env, e.code(), e.what());
    }
  }

 private:
  class TrackWorker : public PromiseWorker {
   public:
    TrackWorker(TrtTrackerWrap* owner, const Napi::Object& frame, FrameView view)
        : PromiseWorker(owner->Env()), owner_(owner), tracker_(owner->tracker_), view_(view) {
      frame_ref_ = Napi::Persistent(frame);  // the pixels stay alive until Execute has staged them
      owner_ref_ = Napi::Persistent(owner->Value());
    }
    void Execute() override {
      Guard([&] { result_ = tracker_->track(view_, &timings_); });
    }
    void OnOK() override {
      owner_->busy_ = false;
      deferred_.Resolve(result_object(Env(), result_, timings_));
    }
    void OnError(const Napi::Error& e) override {
      owner_->busy_ = false;
      PromiseWorker::OnError(e);
    }

   private:
    TrtTrackerWrap* owner_;
    std::shared_ptr<trt::GpuTracker> tracker_;
    FrameView view_;
    TrackResult result_;
    trt::GpuTimings timings_;
    Napi::ObjectReference frame_ref_, owner_ref_;
  };

  trt::GpuTracker& live(Napi::Env env) {
    if (!tracker_) throw_coded(env, "ERR_DISPOSED", "this tracker was disposed; create a new one");
    if (busy_) throw_coded(env, "ERR_BUSY", "a track() call is still running on this tracker; await it before the next");
    return *tracker_;
  }

  Napi::Value Init(const Napi::CallbackInfo& info) {
    auto& t = live(info.Env());
    const FrameView frame = frame_view(info[0]);
    const Box box = box_of(info[1]);
    try {
      t.init(frame, box);
    } catch (const CoreError& e) {
      throw_coded(info.Env(), e.code(), e.what());
    }
    return info.Env().Undefined();
  }

  Napi::Value Track(const Napi::CallbackInfo& info) {
    auto& t = live(info.Env());
    const FrameView frame = frame_view(info[0]);
    if (!t.initialized()) throw_coded(info.Env(), "ERR_NOT_INITIALIZED", "call init(frame, box) before track(frame)");
    auto* w = new TrackWorker(this, info[0].As<Napi::Object>(), frame);
    busy_ = true;
    w->Queue();
    return w->Promise();
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    tracker_.reset();  // a running worker holds its own reference and finishes safely
    return info.Env().Undefined();
  }

  std::shared_ptr<trt::GpuTracker> tracker_;
  bool busy_ = false;
};

}  // namespace

void register_tensorrt(Napi::Env env, Napi::Object exports) {
  Napi::Object t = Napi::Object::New(env);
  t.Set("version", trt::library_version());
  t.Set("compiledVersion", trt::compiled_version());
  t.Set("buildEngine", Napi::Function::New(env, BuildEngine, "buildEngine"));
  t.Set("loadEngine", Napi::Function::New(env, LoadEngine, "loadEngine"));
  Napi::Function engine_class = TrtEngineWrap::Define(env);
  TrtEngineWrap::constructor = new Napi::FunctionReference(Napi::Persistent(engine_class));  // lives as long as the process
  t.Set("TrtEngine", engine_class);
  t.Set("TrtTracker", TrtTrackerWrap::Define(env));
  exports.Set("tensorrt", t);
  Napi::Value existing = exports.Get("features");
  Napi::Object features = existing.IsObject() ? existing.As<Napi::Object>() : Napi::Object::New(env);
  features.Set("tensorrt", true);
  exports.Set("features", features);
}

}  // namespace ctedge
