// What the GPU tracker (trt_runtime.cpp) and a group's batched network (trt_group.cpp) share: the
// deserialised engine's innards and ContextBase, an execution context with its stream and the
// device buffers bound to the network's tensors. Internal to native/tensorrt.
#pragma once
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "../core/model_contract.h"
#include "../cuda/preprocess.h"
#include "trt_common.h"
#include "trt_runtime.h"

namespace ctedge {
namespace trt {

using namespace nvinfer1;

struct EngineImpl {
  Ptr<IRuntime> runtime;
  Ptr<ICudaEngine> engine;  // declared after runtime: destroyed first
};

using Clock = std::chrono::steady_clock;
inline double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

inline void cuda_check(cudaError_t e, const char* what) { cuda::check(static_cast<int>(e), what); }

// The first `count` values of an output's pinned host copy as float32: in place for a float32
// output, converted into `scratch` (grown as needed) for a float16 one.
inline const float* host_floats(DataType type, const cuda::PinnedBuffer& host, size_t count, std::vector<float>& scratch) {
  if (type != DataType::kHALF) return static_cast<const float*>(host.get());
  if (scratch.size() < count) scratch.resize(count);
  const auto* h = static_cast<const uint16_t*>(host.get());
  for (size_t i = 0; i < count; ++i) scratch[i] = half_to_float(h[i]);
  return scratch.data();
}

inline std::string shape_text(const std::vector<long long>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

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
      bind_extra_output(name, "extra output");
    }
  }

  // An output kept in extra_outputs, in device memory of its own: one the tracker does not read
  // (it still needs an address), or a template engine's cached tensor.
  void bind_extra_output(const std::string& name, const char* role) {
    ICudaEngine& eng = *engine->impl().engine;
    const Dims d = checked_shape(name, false, nullptr, role);
    extra_outputs.emplace_back();
    Binding& x = extra_outputs.back();
    x.name = name;
    x.type = eng.getTensorDataType(name.c_str());
    x.shape = dims_vector(d);
    x.count = static_cast<size_t>(volume(d));
    x.device.resize(std::max<size_t>(1, x.count * data_type_size(x.type)));
    set_address(name, x.device.get());
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
      bind_extra_output(name, "cached template tensor");
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

}  // namespace trt
}  // namespace ctedge
