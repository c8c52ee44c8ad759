// The geometry and state of one track, without pixels: where the next crop goes, how a decoded
// peak becomes a box in the frame, and when the target counts as lost. The CPU TrackerCore crops
// with it on the host, the TensorRT GpuTracker on the device; both share these rules.
#pragma once
#include <vector>

#include "crop.h"
#include "decode.h"
#include "frame.h"
#include "model_contract.h"

namespace ctedge {

struct Box {
  double x = 0, y = 0, w = 0, h = 0;
};

struct TrackResult {
  Box box;
  Peak peak;
  bool lost = false;
};

// Bounds of a box, so that every crop window (side = ceil(sqrt(w*h)*factor), corners) is a whole
// number of pixels an int holds: sizes from 1/1000 px, coordinates and sizes within +-2^28 px.
constexpr double kMinBoxSide = 1e-3;
constexpr double kMaxBoxCoordinate = 268435456.0;  // 2^28
constexpr double kMaxCropSide = 536870912.0;       // 2^29
// OpenCV's mapping does not clip to the frame: tracked boxes stay within +-2^24 px (any real frame).
constexpr double kMaxTrackedSide = 16777216.0;     // 2^24

class TrackState {
 public:
  explicit TrackState(const TrackerConfig& config);

  // Throws CoreError for a non-finite or empty box, or one with no pixel inside the frame.
  static void validate_box(const Box& box, const FrameView& frame);

  // Starts a track at `box` (validated against `frame`); returns the template crop window.
  CropWindow start(const FrameView& frame, const Box& box);
  // The search crop window around the current box, for a frame of this size.
  CropWindow search_window(int frame_width, int frame_height);
  // Decodes the head's maps (for the last search window) into the next box, or keeps the box when lost.
  TrackResult update(const float* score, const float* size, const float* offset);

  bool started() const { return started_; }
  const Box& box() const { return box_; }
  const TrackerConfig& config() const { return config_; }

 private:
  CropWindow window_for(const Box& box, double factor) const;
  Box map_back(const Peak& peak) const;

  TrackerConfig config_;
  std::vector<float> window_;
  Box box_;
  bool started_ = false;
  bool search_ready_ = false;
  CropWindow search_window_;
  int frame_width_ = 0, frame_height_ = 0;  // of the frame the search window was placed in
};

}  // namespace ctedge
