// Square crop around a box, zero padding outside the frame, bilinear resize and normalisation to
// planar NCHW float32, fused in one pass. Equivalent to OSTrack's sample_target
// (crop, cv::copyMakeBorder with 0, cv::resize INTER_LINEAR) followed by (x/255 - mean)/std.
#pragma once
#include <cstdint>
#include <vector>

#include "frame.h"
#include "model_contract.h"

namespace ctedge {

// The crop window in frame pixels: top-left corner (integer, may lie outside the frame) and side.
struct CropWindow {
  int x0 = 0;
  int y0 = 0;
  int side = 0;
};

// OSTrack: side = ceil(sqrt(w*h)*factor), corner = round(centre - side/2) (ties to even, as Python).
CropWindow crop_window_ostrack(double x, double y, double w, double h, double factor);
// OpenCV TrackerVit: integer box, corner = x + (w - side)/2 with C++ integer division.
CropWindow crop_window_opencv(int x, int y, int w, int h, double factor);

// The part of a frame a crop over `window` reads: window and frame intersected, corners made even
// for NV12 (whose chroma is shared by 2x2 pixels). Empty (0x0) when the window misses the frame.
struct FrameRegion {
  int x = 0, y = 0, width = 0, height = 0;
};
FrameRegion crop_region(const FrameView& frame, const CropWindow& window);

// Copies `region` of `frame` into `dst` (capacity bytes) as a frame of its own with tight rows
// (NV12: luma rows, then chroma rows) and returns it. Cropping the returned frame over the window
// shifted by (-region.x, -region.y) gives the same pixels as cropping `frame` over the window. An
// empty region gives a 1x1 (NV12 2x2) black frame, which such a crop reads only as padding.
// Throws CoreError when the region is not inside the frame or dst is too small.
FrameView copy_region(const FrameView& frame, const FrameRegion& region, uint8_t* dst, size_t capacity);

// float16 bits to float. Not for the CPU path, which is float32 end to end: the TensorRT tracker
// reads the output maps of engines built with FP16 outputs through it (tensorrt/trt_runtime.cpp, trt_group.cpp).
float half_to_float(uint16_t value);
// float to float16 bits, rounded to nearest even as CUDA's __float2half_rn: a group's templates, cropped
// on the host, go into FP16 engine inputs through it; the reference of the kernels' float16 outputs.
uint16_t float_to_half(float value);

// Holds the per-column and per-row sampling tables so that cropping a frame allocates nothing once
// the sampler has seen its largest output size.
class CropSampler {
 public:
  explicit CropSampler(int max_out_size = 0);
  void crop(const FrameView& frame, const CropWindow& window, int out_size, const Normalization& norm,
            float* dst);

 private:
  struct Tap {  // one output coordinate: two source coordinates and their weights (0 where padded)
    int i0, i1;
    float w0, w1;
  };
  static void build_taps(int origin, int side, int out_size, int limit, Tap* taps);
  std::vector<Tap> xs_, ys_;
  std::vector<int> x0_, x1_;
  std::vector<float> wx0_, wx1_, blend_;  // blend_: one vertically blended source row
};

}  // namespace ctedge
