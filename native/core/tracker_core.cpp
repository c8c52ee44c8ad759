#include "tracker_core.h"

#include <algorithm>
#include <string>

#include "errors.h"

namespace ctedge {

TrackerCore::TrackerCore(const TrackerConfig& config, float* template_tensor, float* search_tensor)
    : state_(config),
      template_tensor_(template_tensor),
      search_tensor_(search_tensor),
      sampler_(std::max(config.template_size, config.search_size)) {}

void TrackerCore::validate_frame(const FrameView& f, size_t available_bytes) {
  if (f.width <= 0 || f.height <= 0)
    throw CoreError("ERR_FRAME_SIZE", "frame width and height must be positive integers, got " +
                                          std::to_string(f.width) + "x" + std::to_string(f.height));
  if (f.format == PixelFormat::NV12 && (f.width % 2 || f.height % 2))
    throw CoreError("ERR_FRAME_SIZE", "an NV12 frame needs an even width and height (chroma is subsampled 2x2), got " +
                                          std::to_string(f.width) + "x" + std::to_string(f.height));
  const long long row = static_cast<long long>(f.width) * bytes_per_pixel(f.format);
  if (f.stride < row)
    throw CoreError("ERR_FRAME_STRIDE", "stride " + std::to_string(f.stride) + " is smaller than one row of " +
                                            std::string(pixel_format_name(f.format)) + " pixels (" +
                                            std::to_string(row) + " bytes)");
  const size_t need = frame_required_bytes(f);
  if (available_bytes < need)
    throw CoreError("ERR_FRAME_BUFFER", "frame buffer holds " + std::to_string(available_bytes) + " bytes but a " +
                                            std::to_string(f.width) + "x" + std::to_string(f.height) + " " +
                                            pixel_format_name(f.format) + " frame with stride " +
                                            std::to_string(f.stride) + " needs " + std::to_string(need));
}

void TrackerCore::init(const FrameView& frame, const Box& box) {
  sampler_.crop(frame, state_.start(frame, box), state_.config().template_size, state_.config().norm, template_tensor_);
}

void TrackerCore::prepare_search(const FrameView& frame) {
  sampler_.crop(frame, state_.search_window(frame.width, frame.height), state_.config().search_size, state_.config().norm,
                search_tensor_);
}

CropWindow TrackerCore::place_search(int frame_width, int frame_height) {
  return state_.search_window(frame_width, frame_height);
}

TrackResult TrackerCore::update(const float* score, const float* size, const float* offset) {
  return state_.update(score, size, offset);
}

}  // namespace ctedge
