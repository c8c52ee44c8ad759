#include "trt_runtime.h"

#include <cctype>
#include <fstream>

#include "trt_context.h"

namespace ctedge {
namespace trt {

namespace {

// Whether TensorRT's messages say a GPU allocation failed (deserialising needs the engine's weights
// and activations on the device): then the engine is fine and the machine is short of memory.
bool out_of_memory(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* sign : {"out of memory", "outofmemory", "could not be allocated", "failed to allocate", "cudaerrormemoryallocation"})
    if (text.find(sign) != std::string::npos) return true;
  return false;
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
      if (outputs[k].type == DataType::kHALF) out_float[k].resize(outputs[k].count);  // no allocation per frame
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
  for (int k = 0; k < 3; ++k) maps[k] = host_floats(t.outputs[k].type, t.host_out[k], t.outputs[k].count, t.out_float[k]);
  const TrackResult r = t.state.update(maps[0], maps[1], maps[2]);
  local.postprocess_ms = ms_since(t0);
  if (timings) *timings = local;
  return r;
}

}  // namespace trt
}  // namespace ctedge
