// The whole per-frame tracking loop of a one-stream ViT tracker on the CPU, except the network call:
//   init:   template crop (factor 2) -> template tensor, kept for the life of the track
//   frame:  search crop (factor 4) around the last box -> search tensor
//   update: Hann-windowed argmax of the score map -> box in the crop -> box in the frame
// Inference sits between prepare_search() and update() and belongs to a backend (onnxruntime on
// the host tensors); the TensorRT tracker shares TrackState and crops on the device instead.
// No Node dependency; no allocation per frame.
#pragma once
#include <cstddef>

#include "crop.h"
#include "frame.h"
#include "track_state.h"

namespace ctedge {

class TrackerCore {
 public:
  // The tensors live in caller-owned memory (3*size*size float32 values each) so that a backend can
  // read them without a copy.
  TrackerCore(const TrackerConfig& config, float* template_tensor, float* search_tensor);

  // Throws CoreError for a frame whose buffer, stride or size cannot hold its format.
  static void validate_frame(const FrameView& frame, size_t available_bytes);
  void init(const FrameView& frame, const Box& box);
  void prepare_search(const FrameView& frame);
  // Places the search window for a frame of this size without cropping (the crop is done
  // elsewhere, e.g. on another thread from copy_region's output); update() then decodes against it.
  CropWindow place_search(int frame_width, int frame_height);
  TrackResult update(const float* score, const float* size, const float* offset);

  bool initialized() const { return state_.started(); }
  const Box& box() const { return state_.box(); }
  const TrackerConfig& config() const { return state_.config(); }

 private:
  TrackState state_;
  float* template_tensor_;
  float* search_tensor_;
  CropSampler sampler_;
};

}  // namespace ctedge
