// exports.tensorrt: engine building and the GPU tracking loop, every heavy call on the libuv pool
// (AsyncWorker) so that the event loop never waits for TensorRT or the GPU. Plain values in and
// out: the metadata file beside an engine is read and written by ts/deploy/tensorrt.ts.
//
//   buildEngine({ onnx, output, onnxData?, fp16?, tf32?, workspaceMiB?, timingCache?, keepFp32?,
//                 obeyPrecision?, dlaCore?, optLevel?, maxBatch?, templatePart?, verbose? })
//       -> Promise<{ enginePath, tensorrtVersion, gpu: { name, computeCapability }, precision, tf32,
//                    dlaCore, optLevel, maxBatch, fp32Layers, tensors, fastFp16, timingCacheLoaded,
//                    timingCacheSaved, warnings, seconds }>
//   loadEngine(path, { dlaCore? }) -> Promise<TrtEngine>   TrtEngine: { tensors, path, maxBatch, dispose() }
//   new TrtTracker(engine, config, templateEngine?)   config: the NativeTrackerConfig fields plus
//       names?: { template, search, score, size, offset }, cudaGraph?: boolean, blockingSync?: boolean
//     .init(frame, box)  (synchronous: one crop on the device)
//     .track(frame) -> Promise<{ x, y, width, height, score, rawScore, peakX, peakY, lost, timings }>
//     .dispose()
//   new TrtGroup(engine, config): a TrackerGroup's batched network (see TrtGroupWrap below)
//
// The TrtEngine class is kept per Node environment (the main thread and each worker thread that
// loads the addon get their own), reached through the functions' data, never through a static.
#include "tensorrt_binding.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../addon/napi_helpers.h"
#include "../addon/tracker_config.h"
#include "../cuda/preprocess.h"
#include "engine_builder.h"
#include "trt_common.h"
#include "trt_group.h"
#include "trt_runtime.h"

namespace ctedge {
namespace {

using namespace napi_helpers;

// What one environment's bindings share: the TrtEngine constructor (loadEngine makes engines with
// it, TrtTracker checks its argument against it). Freed when the environment is torn down.
struct EnvClasses {
  Napi::FunctionReference engine;
};

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

// options[key] when it is of the wanted kind, else the default; any other kind is ERR_INVALID_ARGUMENT.
bool bool_option(const Napi::Object& o, const char* key, bool fallback) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) throw_coded(o.Env(), "ERR_INVALID_ARGUMENT", std::string("buildEngine: ") + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

int int_option(const Napi::Object& o, const char* key, int fallback, int min, int max) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
  if (!(d >= min && d <= max) || d != std::floor(d))
    throw_coded(o.Env(), "ERR_INVALID_ARGUMENT", std::string("buildEngine: ") + key + " must be an integer from " + std::to_string(min) +
                                                     " to " + std::to_string(max));
  return static_cast<int>(d);
}

std::string string_option(const Napi::Object& o, const char* key, bool required) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined() && !required) return std::string();
  if (!v.IsString() || v.As<Napi::String>().Utf8Value().empty())
    throw_coded(o.Env(), "ERR_INVALID_ARGUMENT", std::string("buildEngine: ") + key + " must be a non-empty path");
  return v.As<Napi::String>().Utf8Value();
}

class BuildWorker : public PromiseWorker {
 public:
  BuildWorker(Napi::Env env, trt::BuildOptions o, const Napi::Value& data)
      : PromiseWorker(env, "ERR_TENSORRT"), options_(std::move(o)) {
    if (data.IsObject()) data_ref_ = Napi::Persistent(data.As<Napi::Object>());  // the bytes stay alive and in place
  }
  void Execute() override {
    Guard([&] { report_ = trt::build_engine(options_); });
  }
  void OnOK() override {
    Napi::Env env = Env();
    const trt::BuildReport& m = report_;
    Napi::Object r = Napi::Object::New(env);
    r.Set("enginePath", options_.engine_path);
    r.Set("tensorrtVersion", m.tensorrt_version);
    Napi::Object gpu = Napi::Object::New(env);
    gpu.Set("name", m.gpu_name);
    gpu.Set("computeCapability", m.compute_capability);
    r.Set("gpu", gpu);
    r.Set("precision", m.precision);
    r.Set("tf32", m.tf32);
    r.Set("dlaCore", m.dla_core);
    r.Set("optLevel", m.opt_level);
    r.Set("maxBatch", m.max_batch);
    r.Set("fp32Layers", m.fp32_layers);
    Napi::Array kept = Napi::Array::New(env, m.kept_layers.size());
    for (size_t i = 0; i < m.kept_layers.size(); ++i) kept.Set(static_cast<uint32_t>(i), m.kept_layers[i]);
    r.Set("keptLayers", kept);
    r.Set("layerInformation", m.layer_information);
    r.Set("tensors", tensors_array(env, m.tensors));
    r.Set("fastFp16", m.fast_fp16);
    r.Set("timingCacheLoaded", m.timing_cache_loaded);
    r.Set("timingCacheSaved", m.timing_cache_saved);
    Napi::Array warnings = Napi::Array::New(env, m.warnings.size());
    for (size_t i = 0; i < m.warnings.size(); ++i) warnings.Set(static_cast<uint32_t>(i), m.warnings[i]);
    r.Set("warnings", warnings);
    r.Set("seconds", m.seconds);
    deferred_.Resolve(r);
  }

 private:
  trt::BuildOptions options_;
  trt::BuildReport report_;
  Napi::ObjectReference data_ref_;
};

Napi::Value BuildEngine(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw_coded(env, "ERR_INVALID_ARGUMENT", "buildEngine needs { onnx, output, fp16?, ... }");
  const Napi::Object o = info[0].As<Napi::Object>();
  trt::BuildOptions b;
  b.onnx_path = string_option(o, "onnx", true);
  b.engine_path = string_option(o, "output", true);
  const Napi::Value data = o.Get("onnxData");
  if (!data.IsUndefined()) {
    napi_typedarray_type type = napi_int8_array;
    size_t length = 0;
    void* bytes = nullptr;
    if (!data.IsTypedArray() ||
        napi_get_typedarray_info(env, data, &type, &length, &bytes, nullptr, nullptr) != napi_ok || type != napi_uint8_array || length == 0)
      throw_coded(env, "ERR_INVALID_ARGUMENT", "buildEngine: onnxData must be a non-empty Buffer or Uint8Array (the ONNX model's bytes)");
    b.onnx_data = bytes, b.onnx_size = length;  // the worker keeps the array alive until the build ends
  }
  b.fp16 = bool_option(o, "fp16", true);
  b.tf32 = bool_option(o, "tf32", false);
  b.obey_precision = bool_option(o, "obeyPrecision", false);
  b.verbose = bool_option(o, "verbose", false);
  b.template_part = bool_option(o, "templatePart", false);
  b.workspace_mib = static_cast<size_t>(int_option(o, "workspaceMiB", 1024, 1, 1 << 20));
  b.dla_core = int_option(o, "dlaCore", -1, -1, 15);
  b.opt_level = int_option(o, "optLevel", -1, -1, 5);
  b.max_batch = int_option(o, "maxBatch", 1, 1, cuda::kMaxBatchCrops);
  b.timing_cache_path = string_option(o, "timingCache", false);
  const Napi::Value keep = o.Get("keepFp32");
  if (!keep.IsUndefined()) {
    if (!keep.IsArray()) throw_coded(env, "ERR_INVALID_ARGUMENT", "buildEngine: keepFp32 must be an array of layer kinds");
    b.keep_fp32.clear();
    const Napi::Array a = keep.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      if (!a.Get(i).IsString()) throw_coded(env, "ERR_INVALID_ARGUMENT", "buildEngine: keepFp32 must hold strings");
      b.keep_fp32.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    }
  }
  auto* w = new BuildWorker(env, std::move(b), data);
  w->Queue();
  return w->Promise();
}

class TrtEngineWrap : public Napi::ObjectWrap<TrtEngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TrtEngine", {InstanceMethod<&TrtEngineWrap::Dispose>("dispose")});
  }
  TrtEngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrtEngineWrap>(info) {}
  void attach(std::shared_ptr<trt::Engine> e) {
    engine_ = std::move(e);
    Napi::Object self = Value();
    self.Set("path", engine_->path());
    self.Set("tensors", tensors_array(Env(), engine_->tensors()));
    self.Set("maxBatch", engine_->max_batch());
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

class LoadWorker : public PromiseWorker {
 public:
  LoadWorker(Napi::Env env, EnvClasses* classes, std::string path, int dla_core)
      : PromiseWorker(env, "ERR_TENSORRT"), classes_(classes), path_(std::move(path)), dla_core_(dla_core) {}
  void Execute() override {
    Guard([&] { engine_ = trt::Engine::load(path_, dla_core_); });
  }
  void OnOK() override {
    Napi::Object obj = classes_->engine.New({});
    TrtEngineWrap::Unwrap(obj)->attach(engine_);
    deferred_.Resolve(obj);
  }

 private:
  EnvClasses* classes_;  // this environment's; it outlives every worker queued in it
  std::string path_;
  int dla_core_;
  std::shared_ptr<trt::Engine> engine_;
};

Napi::Value LoadEngine(const Napi::CallbackInfo& info, EnvClasses* classes) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw_coded(env, "ERR_INVALID_ARGUMENT", "loadEngine needs a path");
  int dla_core = -1;
  if (info[1].IsObject()) {
    const Napi::Value v = info[1].As<Napi::Object>().Get("dlaCore");
    if (!v.IsUndefined() && !v.IsNull()) {
      if (!v.IsNumber() || v.As<Napi::Number>().Int32Value() != v.As<Napi::Number>().DoubleValue() || v.As<Napi::Number>().Int32Value() < -1)
        throw_coded(env, "ERR_INVALID_ARGUMENT", "loadEngine: dlaCore must be an integer >= -1");
      dla_core = v.As<Napi::Number>().Int32Value();
    }
  }
  auto* w = new LoadWorker(env, classes, info[0].As<Napi::String>().Utf8Value(), dla_core);
  w->Queue();
  return w->Promise();
}

// The GPU loop's stage timings: { stageMs, preprocessMs, inferMs, postprocessMs }.
Napi::Object timings_object(Napi::Env env, const trt::GpuTimings& t) {
  Napi::Object timings = Napi::Object::New(env);
  timings.Set("stageMs", t.stage_ms);
  timings.Set("preprocessMs", t.preprocess_ms);
  timings.Set("inferMs", t.infer_ms);
  timings.Set("postprocessMs", t.postprocess_ms);
  return timings;
}

// The shared result object plus the GPU tracker's stage timings.
Napi::Object track_result_object(Napi::Env env, const TrackResult& r, const trt::GpuTimings& t) {
  Napi::Object out = result_object(env, r);
  out.Set("timings", timings_object(env, t));
  return out;
}

// The options of a TrtTracker or TrtGroup: the NativeTrackerConfig fields, tensor names, cudaGraph,
// blockingSync, reserveBytes.
trt::GpuTrackerOptions gpu_tracker_options(const Napi::Value& config, const char* what) {
  Napi::Env env = config.Env();
  trt::GpuTrackerOptions options;
  options.core = tracker_config(config, what);
  const Napi::Object o = config.As<Napi::Object>();
  options.names = tensor_names(o);
  options.cuda_graph = o.Get("cudaGraph").ToBoolean().Value();
  options.blocking_sync = o.Get("blockingSync").ToBoolean().Value();
  const Napi::Value reserve = o.Get("reserveBytes");
  if (!reserve.IsUndefined()) {
    const double bytes = reserve.IsNumber() ? reserve.As<Napi::Number>().DoubleValue() : -1;
    if (!(bytes >= 0 && bytes <= 1e12 && bytes == static_cast<double>(static_cast<int64_t>(bytes))))
      throw_coded(env, "ERR_INVALID_ARGUMENT", std::string(what) + ": reserveBytes must be a whole number of bytes");
    options.reserve_bytes = static_cast<size_t>(bytes);
  }
  return options;
}

class TrtTrackerWrap : public Napi::ObjectWrap<TrtTrackerWrap> {
 public:
  static Napi::Function Define(Napi::Env env, EnvClasses* classes) {
    return DefineClass(env, "TrtTracker",
                       {InstanceMethod<&TrtTrackerWrap::Init>("init"), InstanceMethod<&TrtTrackerWrap::Track>("track"),
                        InstanceMethod<&TrtTrackerWrap::TakeWarnings>("takeWarnings"),
                        InstanceMethod<&TrtTrackerWrap::CudaGraphActive>("cudaGraphActive"),
                        InstanceMethod<&TrtTrackerWrap::Dispose>("dispose")},
                       classes);
  }

  TrtTrackerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrtTrackerWrap>(info) {
    Napi::Env env = info.Env();
    auto* classes = static_cast<EnvClasses*>(info.Data());
    if (!info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(classes->engine.Value()))
      throw_coded(env, "ERR_INVALID_ARGUMENT", "TrtTracker needs an engine from tensorrt.loadEngine()");
    if (!info[1].IsObject()) throw_coded(env, "ERR_INVALID_ARGUMENT", "TrtTracker needs a tracker configuration object");
    const trt::GpuTrackerOptions options = gpu_tracker_options(info[1], "TrtTracker");
    auto engine = TrtEngineWrap::Unwrap(info[0].As<Napi::Object>())->engine(env);
    std::shared_ptr<trt::Engine> template_engine;  // a two-part model's template part
    if (!info[2].IsUndefined()) {
      if (!info[2].IsObject() || !info[2].As<Napi::Object>().InstanceOf(classes->engine.Value()))
        throw_coded(env, "ERR_INVALID_ARGUMENT", "TrtTracker: the template engine must come from tensorrt.loadEngine()");
      template_engine = TrtEngineWrap::Unwrap(info[2].As<Napi::Object>())->engine(env);
    }
    tracker_ = call_core(env, [&] { return std::make_shared<trt::GpuTracker>(engine, options, template_engine); });
  }

 private:
  class TrackWorker : public TrackerFrameWorker {
   public:
    TrackWorker(TrtTrackerWrap* owner, double stage_ms)
        : TrackerFrameWorker(owner->Value(), &owner->busy_, "ERR_TENSORRT"), tracker_(owner->tracker_) {
      timings_.stage_ms = stage_ms;
    }

   protected:
    void Execute() override {
      Guard([&] { result_ = tracker_->track_prepared(&timings_); });
    }
    Napi::Value Result() override { return track_result_object(Env(), result_, timings_); }

   private:
    std::shared_ptr<trt::GpuTracker> tracker_;
    TrackResult result_;
    trt::GpuTimings timings_;
  };

  Napi::Value Init(const Napi::CallbackInfo& info) { return init_tracker(info, tracker_, busy_); }
  // track(frame): the rows the search crop reads go into pinned memory here, on the calling thread
  // (the caller's frame is never read after this returns, so no copy of the whole frame is kept);
  // the upload, crop, inference and decode run on the libuv pool.
  Napi::Value Track(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& t = live_tracker(env, tracker_, busy_);
    const FrameView frame = frame_view(info[0]);
    if (!t.initialized()) throw_coded(env, "ERR_NOT_INITIALIZED", "call init(frame, box) before track(frame)");
    const double stage_ms = call_core(env, [&] { return t.prepare(frame); });
    auto* worker = new TrackWorker(this, stage_ms);
    worker->Queue();
    return worker->Promise();
  }

  // takeWarnings() -> string[]: what the tracker worked around since the last call (Tracker raises
  // each as a process warning). Empty while a track() runs or after dispose().
  Napi::Value TakeWarnings(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const std::vector<std::string> taken = tracker_ && !busy_ ? tracker_->take_warnings() : std::vector<std::string>();
    Napi::Array out = Napi::Array::New(env, taken.size());
    for (size_t i = 0; i < taken.size(); ++i) out.Set(static_cast<uint32_t>(i), taken[i]);
    return out;
  }

  // cudaGraphActive() -> boolean: whether frames replay a captured CUDA graph.
  Napi::Value CudaGraphActive(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), tracker_ && !busy_ && tracker_->cuda_graph_active());
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    tracker_.reset();  // a running worker holds its own reference and finishes safely
    return info.Env().Undefined();
  }

  std::shared_ptr<trt::GpuTracker> tracker_;
  bool busy_ = false;
};

// A TrackerGroup's batched network on the GPU (trt::GpuGroup). The targets' states live in their
// own host trackers (ts/deploy/tracker.ts); per frame the group hands over each target's search
// window and template crop:
//   new TrtGroup(engine, config)        config: as TrtTracker's (cudaGraph ignored: no graphs here), plus
//                                       maxBatch (the group's largest batch, at most the engine's)
//     .maxBatch
//     .run(frame, [{ window: { x0, y0, side }, template: Float32Array, templateId }])
//       -> Promise<{ score, size, offset: Float32Array (every target's maps, target after target), timings }>
//     .dispose()
class TrtGroupWrap : public Napi::ObjectWrap<TrtGroupWrap> {
 public:
  static Napi::Function Define(Napi::Env env, EnvClasses* classes) {
    return DefineClass(env, "TrtGroup", {InstanceMethod<&TrtGroupWrap::Run>("run"), InstanceMethod<&TrtGroupWrap::Dispose>("dispose")}, classes);
  }

  TrtGroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TrtGroupWrap>(info) {
    Napi::Env env = info.Env();
    auto* classes = static_cast<EnvClasses*>(info.Data());
    if (!info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(classes->engine.Value()))
      throw_coded(env, "ERR_INVALID_ARGUMENT", "TrtGroup needs an engine from tensorrt.loadEngine()");
    if (!info[1].IsObject()) throw_coded(env, "ERR_INVALID_ARGUMENT", "TrtGroup needs a tracker configuration object");
    const trt::GpuTrackerOptions options = gpu_tracker_options(info[1], "TrtGroup");
    const int max_batch = int_field(info[1].As<Napi::Object>(), "maxBatch", "TrtGroup config.maxBatch");
    if (max_batch < 1) throw_coded(env, "ERR_INVALID_ARGUMENT", "TrtGroup: maxBatch must be at least 1");
    template_values_ = 3ull * options.core.template_size * options.core.template_size;
    auto engine = TrtEngineWrap::Unwrap(info[0].As<Napi::Object>())->engine(env);
    group_ = call_core(env, [&] { return std::make_shared<trt::GpuGroup>(engine, options, max_batch); });
    Value().Set("maxBatch", group_->max_batch());
  }

 private:
  class RunWorker : public TrackerFrameWorker {
   public:
    RunWorker(TrtGroupWrap* owner, double stage_ms) : TrackerFrameWorker(owner->Value(), &owner->busy_, "ERR_TENSORRT"), group_(owner->group_) {
      timings_.stage_ms = stage_ms;
    }

   protected:
    void Execute() override {
      Guard([&] { group_->run_prepared(&timings_); });
    }
    Napi::Value Result() override {
      Napi::Env env = Env();
      Napi::Object out = Napi::Object::New(env);
      const char* names[3] = {"score", "size", "offset"};
      for (int k = 0; k < 3; ++k) {
        const auto [data, values] = group_->maps(k);
        Napi::Float32Array a = Napi::Float32Array::New(env, values);
        std::memcpy(a.Data(), data, values * sizeof(float));
        out.Set(names[k], a);
      }
      out.Set("timings", timings_object(env, timings_));
      return out;
    }

   private:
    std::shared_ptr<trt::GpuGroup> group_;
    trt::GpuTimings timings_;
  };

  // run(frame, members): the rows every search crop reads and the changed templates go into pinned
  // memory here, on the calling thread; the rest runs on the libuv pool.
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& g = live_tracker(env, group_, busy_);
    if (!info[1].IsArray()) throw_coded(env, "ERR_INVALID_ARGUMENT", "TrtGroup.run needs an array of targets");
    const Napi::Array list = info[1].As<Napi::Array>();
    std::vector<trt::GpuGroup::Member> members;
    std::vector<Napi::Float32Array> templates;  // their data pointers are taken after every JS read below
    for (uint32_t i = 0; i < list.Length(); ++i) {
      if (!list.Get(i).IsObject()) throw_coded(env, "ERR_INVALID_ARGUMENT", "TrtGroup.run: each target is { window, template, templateId }");
      const Napi::Object m = list.Get(i).As<Napi::Object>();
      if (!m.Get("window").IsObject()) throw_coded(env, "ERR_INVALID_ARGUMENT", "TrtGroup.run: a target's window must be { x0, y0, side }");
      const Napi::Object w = m.Get("window").As<Napi::Object>();
      const Napi::Value t = m.Get("template");
      if (!t.IsTypedArray() || t.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array || t.As<Napi::Float32Array>().ElementLength() != template_values_)
        throw_coded(env, "ERR_INVALID_ARGUMENT", "TrtGroup.run: a target's template must be a Float32Array of " + std::to_string(template_values_) + " values");
      const double id = number_field(m, "templateId", "templateId");
      if (!(id >= 1 && id <= 9007199254740992.0 && id == std::floor(id)))  // 0 marks an empty batch item
        throw_coded(env, "ERR_INVALID_ARGUMENT", "TrtGroup.run: a target's templateId must be a whole number from 1 to 2^53");
      members.push_back({CropWindow{int_field(w, "x0", "window.x0"), int_field(w, "y0", "window.y0"), int_field(w, "side", "window.side")},
                         nullptr, static_cast<uint64_t>(id)});
      templates.push_back(t.As<Napi::Float32Array>());
      if (members.back().window.side < 1) throw_coded(env, "ERR_INVALID_ARGUMENT", "TrtGroup.run: a window's side must be positive");
    }
    const FrameView frame = frame_view(info[0]);
    // Pointers only now, after every getter that could have detached a buffer read before.
    for (size_t i = 0; i < members.size(); ++i) {
      if (templates[i].ElementLength() != template_values_)
        throw_coded(env, "ERR_INVALID_ARGUMENT", "TrtGroup.run: a target's template changed size while the targets were read");
      members[i].tmpl = templates[i].Data();
    }
    const double stage_ms = call_core(env, [&] { return g.prepare(frame, members); });
    auto* worker = new RunWorker(this, stage_ms);
    worker->Queue();
    return worker->Promise();
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    group_.reset();  // a running worker holds its own reference and finishes safely
    return info.Env().Undefined();
  }

  std::shared_ptr<trt::GpuGroup> group_;
  size_t template_values_ = 0;
  bool busy_ = false;
};

}  // namespace

void register_tensorrt(Napi::Env env, Napi::Object exports) {
  auto* classes = new EnvClasses();
  env.AddCleanupHook([classes] { delete classes; });
  Napi::Function engine_class = TrtEngineWrap::Define(env);
  classes->engine = Napi::Persistent(engine_class);

  Napi::Object t = Napi::Object::New(env);
  t.Set("version", trt::library_version());
  t.Set("compiledVersion", trt::compiled_version());
  t.Set("buildEngine", Napi::Function::New(env, BuildEngine, "buildEngine"));
  t.Set("loadEngine", Napi::Function::New(env, [classes](const Napi::CallbackInfo& info) { return LoadEngine(info, classes); }, "loadEngine"));
  t.Set("TrtEngine", engine_class);
  t.Set("TrtTracker", TrtTrackerWrap::Define(env, classes));
  t.Set("TrtGroup", TrtGroupWrap::Define(env, classes));
  exports.Set("tensorrt", t);
  set_feature(env, exports, "tensorrt", true);
}

}  // namespace ctedge
