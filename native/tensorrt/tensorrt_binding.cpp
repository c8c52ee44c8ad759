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
#include "../addon/tracker_config.h"
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
    t.Set("shape", dims_array(env, tensors[i].shape));
    a.Set(static_cast<uint32_t>(i), t);
  }
  return a;
}

class BuildWorker : public PromiseWorker {
 public:
  BuildWorker(Napi::Env env, trt::BuildOptions o) : PromiseWorker(env, "ERR_TENSORRT"), options_(std::move(o)) {}
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
  LoadWorker(Napi::Env env, std::string path, bool force)
      : PromiseWorker(env, "ERR_TENSORRT"), path_(std::move(path)), force_(force) {}
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

// The shared result object plus the GPU tracker's stage timings.
Napi::Object track_result_object(Napi::Env env, const TrackResult& r, const trt::GpuTimings& t) {
  Napi::Object out = result_object(env, r);
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
    trt::GpuTrackerOptions options;
    options.core = tracker_config(info[1], "TrtTracker");
    options.names = tensor_names(info[1].As<Napi::Object>());
    options.cuda_graph = info[1].As<Napi::Object>().Get("cudaGraph").ToBoolean().Value();
    auto engine = TrtEngineWrap::Unwrap(info[0].As<Napi::Object>())->engine(env);
    tracker_ = call_core(env, [&] { return std::make_shared<trt::GpuTracker>(engine, options); });
  }

 private:
  class TrackWorker : public TrackerFrameWorker {
   public:
    TrackWorker(TrtTrackerWrap* owner, const Napi::Object& frame, FrameView view)
        : TrackerFrameWorker(owner->Value(), &owner->busy_, frame, "ERR_TENSORRT"), tracker_(owner->tracker_), view_(view) {}

   protected:
    void Execute() override {
      Guard([&] { result_ = tracker_->track(view_, &timings_); });
    }
    Napi::Value Result() override { return track_result_object(Env(), result_, timings_); }

   private:
    std::shared_ptr<trt::GpuTracker> tracker_;
    FrameView view_;
    TrackResult result_;
    trt::GpuTimings timings_;
  };

  Napi::Value Init(const Napi::CallbackInfo& info) { return init_tracker(info, tracker_, busy_); }
  Napi::Value Track(const Napi::CallbackInfo& info) { return queue_frame<TrackWorker>(this, info, tracker_, busy_); }

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
  set_feature(env, exports, "tensorrt", true);
}

}  // namespace ctedge
