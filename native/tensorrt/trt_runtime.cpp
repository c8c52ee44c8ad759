#include "trt_runtime.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <deque>
#include <exception>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "../cuda/preprocess.h"
#include "trt_common.h"

namespace ctedge {
namespace trt {

using namespace nvinfer1;

struct EngineImpl {
  Ptr<IRuntime> runtime;
  Ptr<ICudaEngine> engine;  // declared after runtime: destroyed first
};

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

void cuda_check(cudaError_t e, const char* what) { cuda::check(static_cast<int>(e), what); }

// Whether TensorRT's messages say a GPU allocation failed (deserialising needs the engine's weights
// and activations on the device): then the engine is fine and the machine is short of memory.
bool out_of_memory(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* sign : {"out of memory", "outofmemory", "could not be allocated", "failed to allocate", "cudaerrormemoryallocation"})
    if (text.find(sign) != std::string::npos) return true;
  return false;
}

std::string shape_text(const std::vector<long long>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

Engine::~Engine() = default;

std::shared_ptr<Engine> Engine::load(const std::string& path, int dla_core) {
  if (!std::ifstream(path, std::ios::binary)) throw CoreError("ERR_MODEL_NOT_FOUND", "TensorRT engine not found: " + path);
  const std::vector<char> blob = read_file(path);
  if (blob.empty()) throw CoreError("ERR_MODEL_INVALID", "TensorRT engine " + path + " is empty or unreadable");

  const cuda::DeviceInfo dev = cuda::probe_device();
  if (!dev.available) throw CoreError("ERR_CUDA", "cannot load a TensorRT engine: " + dev.reason);

  Logger& log = logger();
  Logger::Capture capture;
  std::shared_ptr<Engine> e(new Engine());
  e->path_ = path;
  e->impl_.reset(new EngineImpl());
  e->impl_->runtime.reset(createInferRuntime(log));
  if (!e->impl_->runtime) fail("createInferRuntime failed: " + capture.errors());
  if (dla_core >= 0) {
    const int32_t cores = e->impl_->runtime->getNbDLACores();
    if (dla_core >= cores)
      throw CoreError("ERR_ENGINE_MISMATCH", path + " was built for DLA core " + std::to_string(dla_core) + " and this device has " +
                                                 std::to_string(cores) + " DLA core(s); rebuild it here with ct-edge build-engine");
    e->impl_->runtime->setDLACore(dla_core);
  }
  e->impl_->engine.reset(e->impl_->runtime->deserializeCudaEngine(blob.data(), blob.size()));
  if (!e->impl_->engine && out_of_memory(capture.errors()))
    throw CoreError("ERR_CUDA", "out of GPU memory while loading " + path + " (TensorRT " + library_version() + ": " + capture.errors() +
                                    "); free GPU memory (other engines, other processes) and load it again");
  if (!e->impl_->engine)
    throw CoreError("ERR_ENGINE_MISMATCH",
                    "TensorRT " + library_version() + " could not deserialise " + path + " (" + capture.errors() +
                        "). An engine only loads on the TensorRT version and GPU it was built with; rebuild it here: "
                        "npx ct-edge build-engine <model.onnx> -o " + path);
  ICudaEngine& eng = *e->impl_->engine;
  int max_batch = 0;  // 0: no symbolic batch
  for (int32_t i = 0; i < eng.getNbIOTensors(); ++i) {
    const char* name = eng.getIOTensorName(i);
    const bool input = eng.getTensorIOMode(name) == TensorIOMode::kINPUT;
    const Dims shape = eng.getTensorShape(name);
    e->tensors_.push_back({safe_string(name), input, data_type_name(eng.getTensorDataType(name)), dims_vector(shape)});
    // A symbolic batch: the first profile's largest (build-engine --max-batch), the least over inputs.
    if (input && shape.nbDims > 0 && shape.d[0] < 0) {
      e->dynamic_ = true;
      const int most = static_cast<int>(eng.getProfileShape(name, 0, OptProfileSelector::kMAX).d[0]);
      max_batch = max_batch == 0 ? most : std::min(max_batch, most);
      e->min_batch_ = std::max(e->min_batch_, static_cast<int>(eng.getProfileShape(name, 0, OptProfileSelector::kMIN).d[0]));
    }
  }
  // At most what one crop launch makes (an engine from trtexec may allow more).
  e->max_batch_ = std::clamp(max_batch, 1, cuda::kMaxBatchCrops);
  return e;
}

// What a tracker and a group share: an execution context on the engine, one CUDA stream, and the
// device buffers bound to the network's inputs and outputs, `capacity` items each.
struct ContextBase {
  std::shared_ptr<Engine> engine;
  Ptr<IExecutionContext> context;
  cuda::Stream stream;
  struct Binding {
    std::string name;
    DataType type = DataType::kFLOAT;
    std::vector<long long> shape;  // of all `capacity` items
    size_t count = 0;              // values of all `capacity` items
    cuda::DeviceBuffer device;
  };
  Binding tmpl, search, outputs[3];       // outputs: score, size, offset
  std::deque<Binding> extra_outputs;      // outputs the tracker does not read still need an address
  int capacity = 1;                       // items the buffers hold (a group's largest batch)
  int batch = 0;                          // the inputs' current batch (set_batch)

  ContextBase(std::shared_ptr<Engine> e, bool blocking_sync) : engine(std::move(e)), stream(blocking_sync) {}

  // Checks what the tracker can feed or read: the tensor's direction, its layout (linear only: an
  // engine built with e.g. trtexec --inputIOFormats=fp16:hwc8 expects vectorised channels), a
  // static shape, and with want_shape given, that shape exactly. A symbolic batch is set to
  // `capacity` here (the profile allows 1 to the engine's max_batch()).
  Dims checked_shape(const std::string& name, bool want_input, const std::vector<long long>* want_shape, const char* role) {
    ICudaEngine& eng = *engine->impl().engine;
    if ((eng.getTensorIOMode(name.c_str()) == TensorIOMode::kINPUT) != want_input)
      throw CoreError("ERR_MODEL_INVALID", "engine tensor '" + name + "' is not an " + (want_input ? "input" : "output"));
    const TensorFormat format = eng.getTensorFormat(name.c_str());
    if (format != TensorFormat::kLINEAR)
      throw CoreError("ERR_MODEL_INVALID", "engine tensor '" + name + "' uses the layout \"" + safe_string(eng.getTensorFormatDesc(name.c_str())) +
                                               "\"; ct-edge reads and writes linear NCHW tensors. Rebuild the engine with ct-edge build-engine, "
                                               "or with trtexec without --inputIOFormats/--outputIOFormats other than fp32:chw or fp16:chw");
    Dims d = eng.getTensorShape(name.c_str());
    if (want_input && d.nbDims > 0 && d.d[0] < 0) {  // dynamic batch
      d.d[0] = capacity;
      if (!context->setInputShape(name.c_str(), d)) fail("cannot set the shape of '" + name + "' to " + dims_string(d) + ": " + logger_errors());
    }
    if (!want_input) d = context->getTensorShape(name.c_str());
    for (int i = 0; i < d.nbDims; ++i)
      if (d.d[i] < 0)
        throw CoreError(want_input ? "ERR_MODEL_INVALID" : "ERR_MODEL_OUTPUT",
                        std::string("engine ") + (want_input ? "input" : "output") + " '" + name + "' (" + role + ") has the shape " + dims_string(d) +
                            (want_input ? ", dynamic beyond the batch" : ", which depends on the data") +
                            "; ct-edge needs static shapes: export the ONNX model with static sizes and rebuild the engine");
    if (want_shape && dims_vector(d) != *want_shape)
      throw CoreError("ERR_MODEL_INVALID", "engine tensor '" + name + "' has shape " + dims_string(d) + " but the tracker is configured for " +
                                               shape_text(*want_shape) + " (" + role + "; template/search/feature sizes)");
    return d;
  }

  std::string logger_errors() { return capture_ ? capture_->errors() : std::string(); }

  void set_address(const std::string& name, void* address) {
    if (!context->setTensorAddress(name.c_str(), address))
      fail("setTensorAddress failed for '" + name + "': " + logger_errors());
  }

  void bind(Binding& b, const std::string& name, bool want_input, const std::vector<long long>& want_shape, const char* role) {
    ICudaEngine& eng = *engine->impl().engine;
    bool found = false;
    for (int32_t i = 0; i < eng.getNbIOTensors(); ++i) found = found || name == safe_string(eng.getIOTensorName(i));
    if (!found) throw CoreError("ERR_MODEL_INVALID", std::string("the engine has no ") + role + " tensor named '" + name + "'");
    const Dims d = checked_shape(name, want_input, &want_shape, role);
    b.name = name;
    b.type = eng.getTensorDataType(name.c_str());
    if (b.type != DataType::kFLOAT && b.type != DataType::kHALF)
      throw CoreError("ERR_MODEL_INVALID", "engine tensor '" + name + "' is " + data_type_name(b.type) + "; float32 or float16 expected");
    b.shape = dims_vector(d);
    b.count = static_cast<size_t>(volume(d));
    b.device.resize(b.count * data_type_size(b.type));
    set_address(name, b.device.get());
  }

  // Held across a frame's GPU work: a failure after work was queued waits for it before the
  // pinned buffers (staged rows, templates, outputs) are reused (errors of the wait itself are the
  // failure's, already thrown).
  struct DrainOnThrow {
    void* stream;
    int exceptions = std::uncaught_exceptions();
    ~DrainOnThrow() {
      if (std::uncaught_exceptions() > exceptions) cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), cudaGetLastError();
    }
  };

  // Points capture_ at this call's capture for as long as the call runs (also when it throws).
  struct CaptureScope {
    ContextBase* t;
    Logger::Capture capture;
    explicit CaptureScope(ContextBase* owner) : t(owner) { t->capture_ = &capture; }
    ~CaptureScope() { t->capture_ = nullptr; }
  };

  void new_context(Logger::Capture& capture) {
    context.reset(engine->impl().engine->createExecutionContext());
    if (!context) fail("createExecutionContext failed (out of GPU memory?): " + capture.errors());
    // Before TensorRT 10 only an engine's first context gets the profile of a dynamic batch; later
    // ones start without one (-1) and can take it only where contexts may share it (10, or 8.6 with
    // an engine built by ct-edge). Synchronised here: the context may run on another stream.
    if (engine->dynamic() && context->getOptimizationProfile() < 0) {
      if (!context->setOptimizationProfileAsync(0, static_cast<cudaStream_t>(stream.get())))
        throw CoreError("ERR_TENSORRT", "TensorRT " + library_version() + " gives the batch profile of " + engine->path() +
                                            " to one tracker or group at a time (" + capture.errors() +
                                            "); load the engine once per tracker or group (Engine.load again), or use TensorRT 10 (or 8.6 "
                                            "with an engine built by ct-edge build-engine)");
      stream.synchronize();
    }
#if NV_TENSORRT_MAJOR >= 10
    // Engines built with layers kept in FP32 carry detailed layer information (for the build's
    // precision check); detailed NVTX markers would cost every enqueue.
    context->setNvtxVerbosity(ProfilingVerbosity::kLAYER_NAMES_ONLY);
#endif
  }

  // The execution context and every binding, for `capacity` items of the configured sizes. `fed`:
  // a two-part model's per-frame engine, which takes the template part's outputs (bound at their
  // addresses, same name, shape and type) instead of a template crop.
  void create_context(const TrackerConfig& c, const TensorNames& n, Logger::Capture& capture, const std::deque<Binding>* fed = nullptr) {
    ICudaEngine& eng = *engine->impl().engine;
    new_context(capture);
    const long long b = capacity, t = c.template_size, s = c.search_size, f = c.feature_size;
    if (!fed) bind(tmpl, n.template_input, true, {b, 3, t, t}, "template");
    bind(search, n.search_input, true, {b, 3, s, s}, "search");
    for (int32_t i = 0; fed && i < eng.getNbIOTensors(); ++i) {
      const std::string name = safe_string(eng.getIOTensorName(i));
      if (name == search.name || eng.getTensorIOMode(name.c_str()) != TensorIOMode::kINPUT) continue;
      const Binding* made = nullptr;
      for (const Binding& x : *fed) made = x.name == name ? &x : made;
      if (!made)
        throw CoreError("ERR_MODEL_INVALID", "the per-frame engine reads '" + name + "', which its template engine does not make; build both again from one model");
      checked_shape(name, true, &made->shape, "cached template tensor");
      if (eng.getTensorDataType(name.c_str()) != made->type)
        throw CoreError("ERR_MODEL_INVALID", "the per-frame engine reads '" + name + "' as " + data_type_name(eng.getTensorDataType(name.c_str())) +
                                                 " and its template engine makes it as " + data_type_name(made->type) +
                                                 "; build both again with ct-edge build-engine (it builds them with matching types)");
      set_address(name, made->device.get());
    }
    bind(outputs[0], n.score, false, {b, 1, f, f}, "score map");
    bind(outputs[1], n.size, false, {b, 2, f, f}, "size map");
    bind(outputs[2], n.offset, false, {b, 2, f, f}, "offset map");
    batch = capacity;
    for (int32_t i = 0; i < eng.getNbIOTensors(); ++i) {
      const std::string name = safe_string(eng.getIOTensorName(i));
      if (name == tmpl.name || name == search.name || name == outputs[0].name || name == outputs[1].name || name == outputs[2].name) continue;
      if (eng.getTensorIOMode(name.c_str()) == TensorIOMode::kINPUT) {
        if (fed) continue;  // a cached template tensor, bound above
        throw CoreError("ERR_MODEL_INVALID", "the engine has an input '" + name + "' the tracker does not feed");
      }
      const Dims d = checked_shape(name, false, nullptr, "extra output");
      extra_outputs.emplace_back();
      Binding& x = extra_outputs.back();
      x.name = name;
      x.type = eng.getTensorDataType(name.c_str());
      x.shape = dims_vector(d);
      x.count = static_cast<size_t>(volume(d));
      x.device.resize(std::max<size_t>(1, x.count * data_type_size(x.type)));
      set_address(name, x.device.get());
    }
  }

  // A two-part model's template engine: the template crop in, every output kept in extra_outputs
  // (the cached tensors the per-frame engine reads), one item.
  void create_template_context(const TrackerConfig& c, const TensorNames& n, Logger::Capture& capture) {
    ICudaEngine& eng = *engine->impl().engine;
    new_context(capture);
    const long long t = c.template_size;
    bind(tmpl, n.template_input, true, {capacity, 3, t, t}, "template (of the template engine)");
    for (int32_t i = 0; i < eng.getNbIOTensors(); ++i) {
      const std::string name = safe_string(eng.getIOTensorName(i));
      if (name == tmpl.name) continue;
      if (eng.getTensorIOMode(name.c_str()) == TensorIOMode::kINPUT)
        throw CoreError("ERR_MODEL_INVALID", "the template engine has an input '" + name + "' besides the template crop; build it again from the model's template part");
      extra_outputs.emplace_back();
      Binding& x = extra_outputs.back();
      const Dims d = checked_shape(name, false, nullptr, "cached template tensor");
      x.name = name;
      x.type = eng.getTensorDataType(name.c_str());
      x.shape = dims_vector(d);
      x.count = static_cast<size_t>(volume(d));
      x.device.resize(std::max<size_t>(1, x.count * data_type_size(x.type)));
      set_address(name, x.device.get());
    }
  }

  // Runs the next enqueues on the first n items (n <= capacity); outputs of a smaller batch fill
  // the front of their buffers.
  void set_batch(int n) {
    if (n == batch) return;
    batch = -1;  // unknown until every input has the new shape
    for (Binding* b : {&tmpl, &search}) {
      Dims d = context->getTensorShape(b->name.c_str());
      d.d[0] = n;
      if (!context->setInputShape(b->name.c_str(), d)) fail("cannot run a batch of " + std::to_string(n) + " on '" + b->name + "': " + logger_errors());
    }
    batch = n;
  }

 protected:
  Logger::Capture* capture_ = nullptr;  // this call's TensorRT messages (set while a call runs)
};

struct TrackerImpl : ContextBase {
  GpuTrackerOptions options;
  // A two-part model (the template computed once): its template engine, run at init() on this
  // tracker's stream into buffers that the per-frame engine reads as inputs.
  std::shared_ptr<Engine> template_engine;
  std::unique_ptr<ContextBase> template_part;
  cuda::FrameStager stager;
  TrackState state;  // the CPU tracker's windows, map-back and lost rule
  cuda::PinnedBuffer host_out[3];
  std::vector<float> out_float[3];        // float copies when the engine outputs float16
  cudaGraphExec_t graph = nullptr;
  bool warmed_up = false;
  std::vector<std::string> warnings;  // taken by the binding, raised as process warnings in JS
  CropWindow prepared;                // the search window prepare() staged rows for
  bool has_prepared = false;

  TrackerImpl(std::shared_ptr<Engine> e, const GpuTrackerOptions& o, std::shared_ptr<Engine> t)
      : ContextBase(std::move(e), o.blocking_sync), options(o), template_engine(std::move(t)), state(o.core) {}
  ~TrackerImpl() {
    if (graph) cudaGraphExecDestroy(graph);
  }

  void setup() {
    CaptureScope scope(this);
    if (template_engine) {
      template_part = std::make_unique<ContextBase>(template_engine, false);
      {  // closed before the per-frame engine's messages, which go to the innermost capture
        CaptureScope template_scope(template_part.get());
        template_part->create_template_context(options.core, options.names, template_scope.capture);
      }
      create_context(options.core, options.names, scope.capture, &template_part->extra_outputs);
    } else {
      create_context(options.core, options.names, scope.capture);
    }
    for (int k = 0; k < 3; ++k) {
      host_out[k].resize(outputs[k].count * data_type_size(outputs[k].type));
      out_float[k].resize(outputs[k].count);
    }
    if (options.reserve_bytes > 0) stager.reserve(options.reserve_bytes);
    warm_up();
  }

  // The first enqueue pays for TensorRT's lazy initialisation and, with CUDA 12's lazy module
  // loading (JetPack 6), for loading the kernels it launches: run it here, on zeroed inputs, so the
  // first real frame does not (in real-time mode it would drop frames). The CUDA graph, when asked
  // for, is captured here too.
  void warm_up() {
    const auto s = stream.get();
    for (Binding* b : {&template_input(), &search})
      cuda_check(cudaMemsetAsync(b->device.get(), 0, b->count * data_type_size(b->type), static_cast<cudaStream_t>(s)), "cudaMemsetAsync");
    run_template_part();
    enqueue_network();
    stream.synchronize();
    warmed_up = true;
    if (options.cuda_graph && capture_graph()) {
      if (!launch_graph()) enqueue_network();  // its first launch uploads the graph
      stream.synchronize();
    }
  }

  // Where init() crops the template: the network's input, or a two-part model's template engine's.
  Binding& template_input() { return template_part ? template_part->tmpl : tmpl; }

  // A two-part model: the template engine, on this tracker's stream, refreshing the cached tensors
  // the per-frame engine reads (a CUDA graph of the per-frame engine reads them at fixed addresses).
  void run_template_part() {
    if (!template_part) return;
    CaptureScope scope(template_part.get());
    if (!template_part->context->enqueueV3(static_cast<cudaStream_t>(stream.get())))
      fail("enqueueV3 of the template engine failed: " + scope.capture.errors());
  }

  // enqueueV3 and the three output copies: the part a CUDA graph may replay.
  void enqueue_network() {
    if (!context->enqueueV3(static_cast<cudaStream_t>(stream.get()))) fail("enqueueV3 failed: " + logger_errors());
    for (int k = 0; k < 3; ++k)
      cuda::copy_to_host_async(host_out[k].get(), outputs[k].device.get(), outputs[k].count * data_type_size(outputs[k].type), stream.get());
  }

  // Stops using graphs for this tracker, after clearing the (non-sticky) error a failed capture or
  // launch leaves behind, as trtexec does; the reason becomes a process warning (CT_EDGE_CUDA_GRAPH).
  void give_up_graph(const std::string& why) {
    cudaGetLastError();
    options.cuda_graph = false;
    if (graph) cudaGraphExecDestroy(graph);
    graph = nullptr;
    warnings.push_back("CUDA graph failed (" + why + "); this tracker runs without a CUDA graph from now on");
  }

  // Replays the graph; a launch that fails gives graphs up (false: the caller enqueues instead).
  bool launch_graph() {
    const cudaError_t e = cudaGraphLaunch(graph, static_cast<cudaStream_t>(stream.get()));
    if (e == cudaSuccess) return true;
    give_up_graph(std::string("cudaGraphLaunch: ") + cudaGetErrorString(e));
    return false;
  }

  // Captures enqueue_network() into `graph`; false (graphs off) when any step fails. Whatever the
  // failure, the capture is ended first so the stream leaves capture mode, and a partial graph is
  // destroyed: enqueueV3 may return false while capturing (an operation not permitted in a graph),
  // which leaves a graph that must not be used, and an invalidated capture returns no graph at all
  // (cudaErrorStreamCaptureInvalidated from cudaStreamEndCapture).
  bool capture_graph() {
    const auto s = static_cast<cudaStream_t>(stream.get());
    cudaError_t e = cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) {
      give_up_graph(std::string("cudaStreamBeginCapture: ") + cudaGetErrorString(e));
      return false;
    }
    std::string enqueue_error;
    try {
      enqueue_network();
    } catch (const std::exception& x) {
      enqueue_error = x.what();
    }
    cudaGraph_t g = nullptr;
    e = cudaStreamEndCapture(s, &g);
    if (!enqueue_error.empty() || e != cudaSuccess || !g) {
      if (g) cudaGraphDestroy(g);
      give_up_graph(!enqueue_error.empty() ? enqueue_error
                                           : std::string("cudaStreamEndCapture: ") + (e != cudaSuccess ? cudaGetErrorString(e) : "no graph"));
      return false;
    }
    e = cudaGraphInstantiateWithFlags(&graph, g, 0);
    cudaGraphDestroy(g);
    if (e != cudaSuccess) {
      graph = nullptr;
      give_up_graph(std::string("cudaGraphInstantiate: ") + cudaGetErrorString(e));
      return false;
    }
    return true;
  }

  void run_network() {
    CaptureScope scope(this);
    if (!options.cuda_graph || !warmed_up) {
      enqueue_network();  // the first enqueue runs TensorRT's lazy initialisation, which cannot be captured
      warmed_up = true;
      return;
    }
    if ((!graph && !capture_graph()) || !launch_graph()) enqueue_network();
  }
};

GpuTracker::GpuTracker(std::shared_ptr<Engine> engine, const GpuTrackerOptions& options, std::shared_ptr<Engine> template_engine)
    : impl_(new TrackerImpl(std::move(engine), options, std::move(template_engine))) {
  impl_->setup();
}

GpuTracker::~GpuTracker() = default;

bool GpuTracker::initialized() const { return impl_->state.started(); }

bool GpuTracker::cuda_graph_active() const { return impl_->graph != nullptr; }

std::vector<std::string> GpuTracker::take_warnings() {
  std::vector<std::string> out;
  out.swap(impl_->warnings);
  return out;
}

void GpuTracker::init(const FrameView& host_frame, const Box& box) {
  TrackerImpl& t = *impl_;
  const CropWindow w = t.state.start(host_frame, box);
  try {
    const ContextBase::DrainOnThrow drain{t.stream.get()};
    const FrameView dev = t.stager.stage(host_frame, w, t.stream.get());
    TrackerImpl::Binding& input = t.template_input();
    cuda::crop_normalize_async(dev, w, t.options.core.template_size, t.options.core.norm, input.device.get(), input.type == DataType::kHALF,
                               t.stream.get());
    t.run_template_part();
    t.stream.synchronize();  // the template (or its cached tensors) stays bound at the same address for the whole track
  } catch (...) {
    t.state = TrackState(t.options.core);  // not started: track() says so instead of using a half-made template
    throw;
  }
}

double GpuTracker::prepare(const FrameView& host_frame) {
  TrackerImpl& t = *impl_;
  const auto t0 = Clock::now();
  t.prepared = t.state.search_window(host_frame.width, host_frame.height);
  t.stager.copy_rows(host_frame, t.prepared);
  t.has_prepared = true;
  return ms_since(t0);
}

TrackResult GpuTracker::track_prepared(GpuTimings* timings) {
  TrackerImpl& t = *impl_;
  if (!t.has_prepared) throw CoreError("ERR_NOT_INITIALIZED", "track_prepared() needs prepare(frame) first");
  t.has_prepared = false;
  const CropWindow w = t.prepared;
  GpuTimings local;
  if (timings) local.stage_ms = timings->stage_ms;
  const ContextBase::DrainOnThrow drain{t.stream.get()};
  auto t0 = Clock::now();
  const FrameView dev = t.stager.upload(t.stream.get());
  local.stage_ms += ms_since(t0);
  t0 = Clock::now();
  cuda::crop_normalize_async(dev, w, t.options.core.search_size, t.options.core.norm, t.search.device.get(),
                             t.search.type == DataType::kHALF, t.stream.get());
  local.preprocess_ms = ms_since(t0);  // launch cost; the kernel itself is counted in infer_ms
  t0 = Clock::now();
  t.run_network();
  t.stream.synchronize();
  local.infer_ms = ms_since(t0);
  t0 = Clock::now();
  const float* maps[3];
  for (int k = 0; k < 3; ++k) {
    if (t.outputs[k].type == DataType::kHALF) {
      const auto* h = static_cast<const uint16_t*>(t.host_out[k].get());
      for (size_t i = 0; i < t.outputs[k].count; ++i) t.out_float[k][i] = half_to_float(h[i]);
      maps[k] = t.out_float[k].data();
    } else {
      maps[k] = static_cast<const float*>(t.host_out[k].get());
    }
  }
  const TrackResult r = t.state.update(maps[0], maps[1], maps[2]);
  local.postprocess_ms = ms_since(t0);
  if (timings) *timings = local;
  return r;
}

// ---- a group's batched network ----------------------------------------------------------------

struct GroupImpl : ContextBase {
  GpuTrackerOptions options;
  cuda::FrameStager stager;
  cuda::PinnedBuffer host_out[3];
  std::vector<float> maps[3];             // the last run's outputs, float32, `batch` items
  cuda::PinnedBuffer host_templates;      // templates prepare() staged, in the input's type, by item
  std::vector<uint64_t> item_template;    // which template each item of the template input holds (0: none)
  std::vector<std::pair<int, uint64_t>> uploads;  // items prepare() staged a template for
  std::vector<CropWindow> windows;        // this frame's search windows, by item
  bool has_prepared = false;

  GroupImpl(std::shared_ptr<Engine> e, const GpuTrackerOptions& o) : ContextBase(std::move(e), o.blocking_sync), options(o) {}

  size_t template_values() const { return 3ull * options.core.template_size * options.core.template_size; }

  void setup(int most) {
    CaptureScope scope(this);
    if (engine->min_batch() > 1)
      throw CoreError("ERR_MODEL_INVALID", engine->path() + "'s batch profile starts at " + std::to_string(engine->min_batch()) +
                                               " targets; a group runs 1 and up: build it with ct-edge build-engine --max-batch N");
    capacity = std::clamp(most, 1, engine->max_batch());  // buffers for the group's largest batch, not the engine's
    create_context(options.core, options.names, scope.capture);
    for (int k = 0; k < 3; ++k) host_out[k].resize(outputs[k].count * data_type_size(outputs[k].type));
    host_templates.resize(tmpl.count * data_type_size(tmpl.type));
    item_template.assign(capacity, 0);
    if (options.reserve_bytes > 0) stager.reserve(options.reserve_bytes);
    // The first enqueue's lazy initialisation (see TrackerImpl::warm_up), at the largest batch.
    const auto s = static_cast<cudaStream_t>(stream.get());
    for (Binding* b : {&tmpl, &search}) cuda_check(cudaMemsetAsync(b->device.get(), 0, b->count * data_type_size(b->type), s), "cudaMemsetAsync");
    if (!context->enqueueV3(s)) fail("enqueueV3 failed: " + scope.capture.errors());
    stream.synchronize();
  }
};

GpuGroup::GpuGroup(std::shared_ptr<Engine> engine, const GpuTrackerOptions& options, int max_batch) : impl_(new GroupImpl(std::move(engine), options)) {
  impl_->setup(max_batch);
}

GpuGroup::~GpuGroup() = default;

int GpuGroup::max_batch() const { return impl_->capacity; }

const std::vector<float>& GpuGroup::maps(int k) const { return impl_->maps[k]; }

double GpuGroup::prepare(const FrameView& host_frame, const std::vector<Member>& members) {
  GroupImpl& g = *impl_;
  const auto t0 = Clock::now();
  const int n = static_cast<int>(members.size());
  if (n < 1 || n > g.capacity)
    throw CoreError("ERR_INVALID_ARGUMENT", "a batch of " + std::to_string(n) + " targets; this engine takes 1 to " + std::to_string(g.capacity) +
                                                " per enqueue (build-engine --max-batch)");
  g.windows.clear();
  g.uploads.clear();
  const size_t per = g.template_values();
  const bool half = g.tmpl.type == DataType::kHALF;
  for (int i = 0; i < n; ++i) {
    g.windows.push_back(members[i].window);
    if (g.item_template[i] == members[i].template_id) continue;
    if (half) {
      auto* dst = static_cast<uint16_t*>(g.host_templates.get()) + per * i;
      for (size_t j = 0; j < per; ++j) dst[j] = float_to_half(members[i].tmpl[j]);
    } else {
      std::memcpy(static_cast<float*>(g.host_templates.get()) + per * i, members[i].tmpl, per * sizeof(float));
    }
    g.uploads.emplace_back(i, members[i].template_id);
  }
  g.stager.copy_rows(host_frame, g.windows.data(), n);
  g.has_prepared = true;
  return ms_since(t0);
}

void GpuGroup::run_prepared(GpuTimings* timings) {
  GroupImpl& g = *impl_;
  if (!g.has_prepared) throw CoreError("ERR_NOT_INITIALIZED", "run_prepared() needs prepare(frame, members) first");
  g.has_prepared = false;
  GroupImpl::CaptureScope scope(&g);
  const int n = static_cast<int>(g.windows.size());
  const size_t element = data_type_size(g.tmpl.type), per = g.template_values();
  GpuTimings local;
  if (timings) local.stage_ms = timings->stage_ms;
  const ContextBase::DrainOnThrow drain{g.stream.get()};
  auto t0 = Clock::now();
  const FrameView dev = g.stager.upload(g.stream.get());
  for (const auto& [item, id] : g.uploads) {
    g.item_template[item] = 0;  // until the run that uploads it succeeds
    cuda::copy_to_device_async(static_cast<uint8_t*>(g.tmpl.device.get()) + per * element * item,
                               static_cast<const uint8_t*>(g.host_templates.get()) + per * element * item, per * element, g.stream.get());
  }
  local.stage_ms += ms_since(t0);
  t0 = Clock::now();
  cuda::crop_normalize_batch_async(dev, g.windows.data(), n, g.options.core.search_size, g.options.core.norm, g.search.device.get(),
                                   g.search.type == DataType::kHALF, g.stream.get());
  local.preprocess_ms = ms_since(t0);
  t0 = Clock::now();
  g.set_batch(n);
  if (!g.context->enqueueV3(static_cast<cudaStream_t>(g.stream.get()))) fail("enqueueV3 failed: " + scope.capture.errors());
  size_t values[3];
  for (int k = 0; k < 3; ++k) {
    values[k] = g.outputs[k].count / g.capacity * n;  // the first n items
    cuda::copy_to_host_async(g.host_out[k].get(), g.outputs[k].device.get(), values[k] * data_type_size(g.outputs[k].type), g.stream.get());
  }
  g.stream.synchronize();
  local.infer_ms = ms_since(t0);
  t0 = Clock::now();
  for (const auto& [item, id] : g.uploads) g.item_template[item] = id;
  for (int k = 0; k < 3; ++k) {
    g.maps[k].resize(values[k]);
    if (g.outputs[k].type == DataType::kHALF) {
      const auto* h = static_cast<const uint16_t*>(g.host_out[k].get());
      for (size_t i = 0; i < values[k]; ++i) g.maps[k][i] = half_to_float(h[i]);
    } else {
      std::memcpy(g.maps[k].data(), g.host_out[k].get(), values[k] * sizeof(float));
    }
  }
  local.postprocess_ms = ms_since(t0);
  if (timings) *timings = local;
}

}  // namespace trt
}  // namespace ctedge
