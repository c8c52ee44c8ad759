#include "track_state.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "errors.h"

namespace ctedge {

TrackState::TrackState(const TrackerConfig& config) : config_(config), window_(hann_window_2d(config.feature_size)) {}

void TrackState::validate_box(const Box& b, const FrameView& f) {
  if (!std::isfinite(b.x) || !std::isfinite(b.y) || !std::isfinite(b.w) || !std::isfinite(b.h))
    throw CoreError("ERR_BOX_INVALID", "box has a non-finite coordinate (NaN or Infinity)");
  if (b.w <= 0 || b.h <= 0)
    throw CoreError("ERR_BOX_INVALID", "box width and height must be positive, got " + std::to_string(b.w) + "x" +
                                           std::to_string(b.h));
  // What a crop can represent: integer crop windows (side = ceil(sqrt(w*h)*factor)) in int pixels.
  if (b.w < kMinBoxSide || b.h < kMinBoxSide)
    throw CoreError("ERR_BOX_INVALID", "box width and height must be at least " + std::to_string(kMinBoxSide) +
                                           " px, got " + std::to_string(b.w) + "x" + std::to_string(b.h));
  if (std::fabs(b.x) > kMaxBoxCoordinate || std::fabs(b.y) > kMaxBoxCoordinate || b.w > kMaxBoxCoordinate ||
      b.h > kMaxBoxCoordinate)
    throw CoreError("ERR_BOX_INVALID", "box coordinates and sizes must lie within +-" +
                                           std::to_string(static_cast<long long>(kMaxBoxCoordinate)) + " px");
  if (b.x >= f.width || b.y >= f.height || b.x + b.w <= 0 || b.y + b.h <= 0)
    throw CoreError("ERR_BOX_OUTSIDE", "box lies wholly outside the " + std::to_string(f.width) + "x" +
                                           std::to_string(f.height) + " frame");
}

CropWindow TrackState::window_for(const Box& b, double factor) const {
  // The window in doubles first: its side and corners must be whole pixels an int can hold.
  const double side = std::ceil(std::sqrt(b.w) * std::sqrt(b.h) * factor);
  const double reach = std::max(std::fabs(b.x), std::fabs(b.y)) + side;
  if (!(side >= 1.0 && side <= kMaxCropSide && reach <= kMaxBoxCoordinate + kMaxCropSide))
    throw CoreError("ERR_BOX_INVALID", "a " + std::to_string(b.w) + "x" + std::to_string(b.h) +
                                           " box gives a crop window no crop can represent (side " +
                                           std::to_string(side) + " px); give a box between " +
                                           std::to_string(kMinBoxSide) + " px and the frame size");
  if (config_.mapping == BoxMapping::OpenCV)
    return crop_window_opencv(static_cast<int>(b.x), static_cast<int>(b.y), static_cast<int>(b.w),
                              static_cast<int>(b.h), factor);
  return crop_window_ostrack(b.x, b.y, b.w, b.h, factor);
}

CropWindow TrackState::start(const FrameView& frame, const Box& box) {
  validate_box(box, frame);
  Box start_box = box;
  if (config_.mapping == BoxMapping::OpenCV) {  // OpenCV keeps an integer cv::Rect
    start_box = {std::floor(box.x), std::floor(box.y), std::max(1.0, std::floor(box.w)), std::max(1.0, std::floor(box.h))};
  }
  // Both windows are checked before anything changes: a box refused here leaves the track as it
  // was, and a box accepted here cannot fail the next frame's (larger) search window.
  const CropWindow template_window = window_for(start_box, config_.template_factor);
  window_for(start_box, config_.search_factor);
  box_ = start_box;
  started_ = true;
  search_ready_ = false;
  return template_window;
}

CropWindow TrackState::search_window(int frame_width, int frame_height) {
  if (!started_) throw CoreError("ERR_NOT_INITIALIZED", "call init(frame, box) before track(frame)");
  search_window_ = window_for(box_, config_.search_factor);
  frame_width_ = frame_width;
  frame_height_ = frame_height;
  search_ready_ = true;
  return search_window_;
}

Box TrackState::map_back(const Peak& p) const {
  if (config_.mapping == BoxMapping::OpenCV) {
    // The exact inverse of the crop, floored to whole pixels as OpenCV's returnfromcrop() does.
    // OpenCV itself scales by factor*floor(sqrt(w*h)) instead of the crop's real side
    // ceil(sqrt(w*h)*factor), which shifts and shrinks the box by up to a few pixels; the real side
    // tracks measurably better (mean IoU on OTB crossing 0.654 against 0.630 with VitTrack).
    const double side = search_window_.side;
    Box out;
    out.x = std::floor(search_window_.x0 + (p.cx - 0.5 * p.w) * side);
    out.y = std::floor(search_window_.y0 + (p.cy - 0.5 * p.h) * side);
    out.w = std::max(1.0, std::floor(p.w * side));  // a zero-sized box could never be cropped again
    out.h = std::max(1.0, std::floor(p.h * side));
    // No clipping in this mapping: keep the box where the next crop can still be placed.
    out.w = std::min(out.w, kMaxTrackedSide), out.h = std::min(out.h, kMaxTrackedSide);
    out.x = std::min(std::max(out.x, -kMaxTrackedSide), kMaxTrackedSide);
    out.y = std::min(std::max(out.y, -kMaxTrackedSide), kMaxTrackedSide);
    return out;
  }
  // OSTrack map_box_back() then clip_box(margin=10).
  const double side = search_window_.side;  // = search_size / resize_factor
  const double cx = p.cx * side + (box_.x + 0.5 * box_.w - 0.5 * side);
  const double cy = p.cy * side + (box_.y + 0.5 * box_.h - 0.5 * side);
  const double w = p.w * side, h = p.h * side;
  const double margin = 10, W = frame_width_, H = frame_height_;
  const double x1 = std::min(std::max(0.0, cx - 0.5 * w), W - margin);
  const double x2 = std::min(std::max(margin, cx + 0.5 * w), W);
  const double y1 = std::min(std::max(0.0, cy - 0.5 * h), H - margin);
  const double y2 = std::min(std::max(margin, cy + 0.5 * h), H);
  return {x1, y1, std::max(margin, x2 - x1), std::max(margin, y2 - y1)};
}

TrackResult TrackState::update(const float* score, const float* size, const float* offset) {
  if (!search_ready_) throw CoreError("ERR_NOT_INITIALIZED", "update() needs a search crop: place a search window first");
  search_ready_ = false;
  TrackResult r;
  r.peak = decode_peak(score, size, offset, window_.data(), config_.feature_size);
  const bool finite = std::isfinite(r.peak.cx) && std::isfinite(r.peak.cy) && std::isfinite(r.peak.w) &&
                      std::isfinite(r.peak.h) && r.peak.w > 0 && r.peak.h > 0;
  r.lost = !(r.peak.score >= config_.lost_threshold) || !finite;
  if (!r.lost) box_ = map_back(r.peak);
  r.box = box_;
  return r;
}

}  // namespace ctedge
