// The whole per-frame tracking loop of a one-stream ViT tracker except the network call:
//   init:   template crop (factor 2) -> template tensor, kept for the life of the track
//   frame:  search crop (factor 4) around the last box -> search tensor
//   update: Hann-windowed argmax of the score map -> box in the crop -> box in the frame
// Inference sits between prepare_search() and update() and belongs to a backend (onnxruntime,
// TensorRT), so the same core serves every backend. No Node dependency; no allocation per frame.
#pragma once
#include <cstddef>
#include <vector>

#include "crop.h"
#include "decode.h"
#include "frame.h"

namespace ctedge {

// How a box decoded in the search crop goes back to the frame.
enum class BoxMapping {
  OSTrack,  // float state, shift by the previous centre, clip with a 10 px margin (OSTrack's tracker)
  OpenCV,   // OpenCV TrackerVit: integer state and crop placement, floors, no clipping
};

struct TrackerConfig {
  int template_size = 128;
  int search_size = 256;
  int feature_size = 16;
  double template_factor = 2.0;
  double search_factor = 4.0;
  Normalization norm;
  BoxMapping mapping = BoxMapping::OSTrack;
  float lost_threshold = 0.2f;  // windowed peak below this: target lost, the last box is kept
  bool half = false;            // write the input tensors as float16 (TensorRT FP16 engines)
};

struct Box {
  double x = 0, y = 0, w = 0, h = 0;
};

struct TrackResult {
  Box box;
  Peak peak;
  bool lost = false;
};

class TrackerCore {
 public:
  // The tensors live in caller-owned memory (3*size*size float32 or float16 values each) so that
  // a backend can read them without a copy.
  TrackerCore(const TrackerConfig& config, void* template_tensor, void* search_tensor);

  // Throws CoreError for a frame whose buffer, stride or size cannot hold its format.
  static void validate_frame(const FrameView& frame, size_t available_bytes);
  // Throws CoreError for a non-finite or empty box, or one with no pixel inside the frame.
  static void validate_box(const Box& box, const FrameView& frame);

  void init(const FrameView& frame, const Box& box);
  void prepare_search(const FrameView& frame);
  TrackResult update(const float* score, const float* size, const float* offset);

  bool initialized() const { return initialized_; }
  const Box& box() const { return box_; }
  const TrackerConfig& config() const { return config_; }
  // Crops any window into any tensor with the tracker's normalisation (used by the train side).
  void crop_into(const FrameView& frame, const CropWindow& window, int out_size, void* dst);

 private:
  CropWindow window_for(const Box& box, double factor) const;
  Box map_back(const Peak& peak) const;

  TrackerConfig config_;
  void* template_tensor_;
  void* search_tensor_;
  CropSampler sampler_;
  std::vector<float> window_;
  Box box_;
  bool initialized_ = false;
  bool search_ready_ = false;
  CropWindow search_window_;
  int frame_width_ = 0, frame_height_ = 0;  // of the frame the search crop came from
};

}  // namespace ctedge
