// The GPU tracking loop: a deserialised engine shared by trackers, and a tracker that keeps every
// per-frame step on one CUDA stream:
//   frame (host) -> pinned staging -> [H2D on discrete GPUs] -> crop/resize/normalise kernel writing
//   straight into the engine's `search` input -> enqueueV3 -> D2H of the three small output maps
//   (5*F*F values) into pinned memory -> one stream sync -> Hann window, argmax, decode and map-back
//   on the host (the same code as the CPU path, core/decode.cpp).
// Decode stays on the host on purpose: for F = 16..18 the maps are 5-6.5 KB, the copy costs a few
// microseconds, and sharing decode_peak() keeps both backends' boxes identical by construction.
// The template is cropped on the device once at init() into the engine's `template` input, whose
// address is bound once; for a two-part model (the template computed once), into the template
// engine's input, which then runs once and leaves its outputs where the per-frame engine reads
// them. Optionally the enqueue + output copies are captured into a CUDA graph.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "../core/crop.h"
#include "../core/decode.h"
#include "../core/frame.h"
#include "../core/model_contract.h"
#include "../core/tracker_core.h"
#include "trt_common.h"

namespace ctedge {
namespace trt {

struct EngineImpl;

class Engine {
 public:
  // Deserialises the engine in `path` on the current GPU; `dla_core` >= 0 for an engine built for a
  // DLA core (from its metadata). The metadata file and the version/GPU check are the TypeScript
  // side's (ts/deploy/tensorrt.ts); a deserialisation failure is ERR_ENGINE_MISMATCH.
  static std::shared_ptr<Engine> load(const std::string& path, int dla_core = -1);
  ~Engine();
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::string& path() const { return path_; }
  // The most targets one enqueue takes: the profile's largest batch (build-engine --max-batch), 1
  // for an engine with a fixed batch; at most cuda::kMaxBatchCrops.
  int max_batch() const { return max_batch_; }
  // The profile's smallest batch (1 for ct-edge's engines and fixed ones).
  int min_batch() const { return min_batch_; }
  // Whether an input has a dynamic batch (the engine then has a batch profile).
  bool dynamic() const { return dynamic_; }
  EngineImpl& impl() { return *impl_; }

 private:
  Engine() = default;
  std::unique_ptr<EngineImpl> impl_;
  std::vector<TensorInfo> tensors_;
  std::string path_;
  int max_batch_ = 1;
  int min_batch_ = 1;
  bool dynamic_ = false;
};

struct GpuTrackerOptions {
  TrackerConfig core;  // sizes are checked against the engine's tensor shapes
  TensorNames names;   // the engine's tensors for each role
  // Capture the enqueue and output copies in a CUDA graph from the second frame on. Any failure of
  // the capture (begin, enqueueV3 during capture, an invalidated capture, instantiation) ends the
  // capture, discards the partial graph, clears the CUDA error and runs without a graph from then on.
  bool cuda_graph = false;
  // Wait for each frame's GPU work on a cudaEventBlockingSync event (the host thread sleeps) instead
  // of cudaStreamSynchronize's spin (cuda::Stream).
  bool blocking_sync = false;
  // Bytes of the frames to come (0: unknown): the staging memory is reserved when the tracker is
  // made, not by the first init() on the JS thread.
  size_t reserve_bytes = 0;
};

struct GpuTimings {
  double stage_ms = 0, preprocess_ms = 0, infer_ms = 0, postprocess_ms = 0;  // host wall time
};

struct TrackerImpl;

class GpuTracker {
 public:
  // `template_engine`: a two-part model's template part (ct-edge build-engine builds it beside the
  // per-frame engine), run once per init(); its outputs feed the per-frame engine's inputs besides
  // `search`, which are checked against them by name, shape and type.
  GpuTracker(std::shared_ptr<Engine> engine, const GpuTrackerOptions& options, std::shared_ptr<Engine> template_engine = nullptr);
  ~GpuTracker();
  void init(const FrameView& host_frame, const Box& box);
  // A frame in two halves. prepare() places the search window and copies the rows its crop reads
  // into pinned memory, on the calling thread (the frame is not read afterwards); it returns the
  // milliseconds it took. track_prepared() uploads them, crops, runs the network and decodes
  // (the libuv pool); its timings.stage_ms is left as it is.
  double prepare(const FrameView& host_frame);
  TrackResult track_prepared(GpuTimings* timings = nullptr);
  bool initialized() const;
  bool cuda_graph_active() const;  // a graph was captured and is replayed
  // What went wrong and was worked around since the last call (a CUDA graph given up); the binding
  // raises each as a process warning. Not while a track() runs.
  std::vector<std::string> take_warnings();

 private:
  std::unique_ptr<TrackerImpl> impl_;
};

}  // namespace trt
}  // namespace ctedge
