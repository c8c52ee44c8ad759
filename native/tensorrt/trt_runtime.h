// The GPU tracking loop: a deserialised engine shared by trackers, and a tracker that keeps every
// per-frame step on one CUDA stream:
//   frame (host) -> pinned staging -> [H2D on discrete GPUs] -> crop/resize/normalise kernel writing
//   straight into the engine's `search` input -> enqueueV3 -> D2H of the three small output maps
//   (5*F*F values) into pinned memory -> one stream sync -> Hann window, argmax, decode and map-back
//   on the host (the same code as the CPU path, core/decode.cpp).
// Decode stays on the host on purpose: for F = 16..18 the maps are 5-6.5 KB, the copy costs a few
// microseconds, and sharing decode_peak() keeps both backends' boxes identical by construction.
// The template is cropped on the device once at init() into the engine's `template` input, whose
// address is bound once. Optionally the enqueue + output copies are captured into a CUDA graph.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "../core/crop.h"
#include "../core/decode.h"
#include "../core/frame.h"
#include "../core/model_contract.h"
#include "../core/tracker_core.h"
#include "engine_metadata.h"

namespace ctedge {
namespace trt {

struct EngineImpl;

class Engine {
 public:
  // Reads `path` and `path.json`; refuses a metadata mismatch (ERR_ENGINE_MISMATCH) unless `force`.
  // A missing metadata file only warns (engines built by trtexec have none).
  static std::shared_ptr<Engine> load(const std::string& path, bool force = false);
  ~Engine();
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const EngineMetadata* metadata() const { return has_metadata_ ? &metadata_ : nullptr; }
  const std::string& path() const { return path_; }
  EngineImpl& impl() { return *impl_; }

 private:
  Engine() = default;
  std::unique_ptr<EngineImpl> impl_;
  std::vector<TensorInfo> tensors_;
  EngineMetadata metadata_;
  bool has_metadata_ = false;
  std::string path_;
};

struct GpuTrackerOptions {
  TrackerConfig core;  // sizes are checked against the engine's tensor shapes
  TensorNames names;   // the engine's tensors for each role
  bool cuda_graph = false;
};

struct GpuTimings {
  double stage_ms = 0, preprocess_ms = 0, infer_ms = 0, postprocess_ms = 0;  // host wall time
};

struct TrackerImpl;

class GpuTracker {
 public:
  GpuTracker(std::shared_ptr<Engine> engine, const GpuTrackerOptions& options);
  ~GpuTracker();
  void init(const FrameView& host_frame, const Box& box);
  TrackResult track(const FrameView& host_frame, GpuTimings* timings = nullptr);
  bool initialized() const;

 private:
  std::unique_ptr<TrackerImpl> impl_;
};

}  // namespace trt
}  // namespace ctedge
