// A TrackerGroup's batched network on TensorRT (trt_group.cpp), beside the lone GPU tracker
// (trt_runtime.h), on the same engines.
#pragma once
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "../core/crop.h"
#include "../core/frame.h"
#include "trt_runtime.h"

namespace ctedge {
namespace trt {

// A TrackerGroup's network on TensorRT: the search crops of up to engine->max_batch() targets of
// one frame in one kernel launch, straight into the batched search input, and one enqueue for all.
// Each target's state (windows, decode, lost rule) stays in its own tracker on the host (the CPU
// core's TrackState, the same decode as every path), which also crops its template at init: the
// group uploads a target's template into its item of the batched template input when it changes.
// No CUDA graph: the batch follows the group's membership, and each batch size would need a
// capture of its own, while one enqueue for N targets already spreads the launch cost over them.
struct GroupImpl;

class GpuGroup {
 public:
  struct Member {
    CropWindow window;        // this frame's search window (the target's TrackState placed it)
    const float* tmpl;        // its template crop, 3 x T x T float32 (read during prepare() only)
    uint64_t template_id;     // changes whenever that crop does (a new target, a re-init)
  };
  // `max_batch`: the group's largest batch (its buffers and context are sized for it), at most the engine's.
  GpuGroup(std::shared_ptr<Engine> engine, const GpuTrackerOptions& options, int max_batch);
  ~GpuGroup();
  int max_batch() const;
  // On the calling thread: copies the rows every member's crop reads and the templates that
  // changed into pinned memory (neither the frame nor the templates are read afterwards); returns
  // the milliseconds it took. 1 to max_batch() members, in the order of the batch.
  double prepare(const FrameView& host_frame, const std::vector<Member>& members);
  // The libuv pool: uploads, crops every member, one enqueue, the maps back.
  void run_prepared(GpuTimings* timings = nullptr);
  // The last run's score (k 0), size (1) or offset (2) maps, float32, and how many values: member
  // i's start at i * F*F (scores) or i * 2*F*F. Valid until the next run.
  std::pair<const float*, size_t> maps(int k) const;

 private:
  std::unique_ptr<GroupImpl> impl_;
};

}  // namespace trt
}  // namespace ctedge
