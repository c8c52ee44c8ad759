// Runs the CUDA pre-processing kernels (native/cuda/preprocess_kernels.cuh) on the host, one emulated
// thread at a time, and compares every output value with the CPU crop (native/core/crop.cpp) for every
// pixel format, window, channel order and output type (float32, and float16 as the kernels write it
// for FP16 TensorRT engines: against the CPU float32 crop rounded to float16). This checks the
// kernels' index and rounding logic where no GPU exists; test/cuda-emulation.test.ts builds and runs it:
//   g++ -std=c++17 -O3 -c native/core/frame.cpp native/core/crop.cpp
//   g++ -std=c++17 -O1 -ffp-contract=off test/native/cuda_emulation_check.cpp frame.o crop.o -o check && ./check
// Compile core/*.cpp as the addon does (-O3, default contraction: the CPU crop may fuse multiply-adds)
// and this file with -ffp-contract=off (the kernels' intrinsics never fuse). A test program, not part
// of the addon.
// It also checks the staging of the GPU tracker (FrameStager::stage copies only the rows a crop
// reads, native/cuda/preprocess.h staged_ranges): the kernels run on a buffer that holds other bytes
// everywhere else give bit-identical outputs. And the batched launch (a group's crops, blockIdx.z per
// crop) gives each crop exactly as its window alone does, also from the merged rows of all windows.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../../native/core/crop.h"
#include "../../native/core/frame.h"
#include "../../native/cuda/preprocess.h"

// ---- stand-ins for the CUDA built-ins the kernels use ---------------------------------------------
#define __global__
#define __device__
#define __forceinline__ inline
struct Dim3 {
  int x = 0, y = 0, z = 0;
};
static Dim3 blockIdx, threadIdx, blockDim;
using __half = uint16_t;
static inline __half __float2half_rn(float v) { return ctedge::float_to_half(v); }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline double __ddiv_rn(double a, double b) { return a / b; }
static inline float __double2float_rn(double v) { return static_cast<float>(v); }
using std::fmax;
using std::fmin;
using std::min;


namespace emulated {
using ctedge::FrameView;
using ctedge::YuvToRgb;
#include "../../native/cuda/preprocess_kernels.cuh"
}  // namespace emulated

namespace {

using namespace ctedge;

template <typename K>
void run_grid(int out_size, int count, K kernel) {  // block 32x8, one grid layer per crop, as in preprocess.cu's launch()
  blockDim.x = 32, blockDim.y = 8;
  for (int bz = 0; bz < count; ++bz)
    for (int by = 0; by < (out_size + 7) / 8; ++by)
      for (int bx = 0; bx < (out_size + 31) / 32; ++bx)
        for (int ty = 0; ty < 8; ++ty)
          for (int tx = 0; tx < 32; ++tx) {
            blockIdx.x = bx, blockIdx.y = by, blockIdx.z = bz, threadIdx.x = tx, threadIdx.y = ty;
            kernel();
          }
}

// preprocess.cu's crop_normalize_batch_async, with the launch replaced by run_grid.
template <typename T>
void emulate(const FrameView& f, const CropWindow* w, int count, int out, const Normalization& norm, T* dst) {
  emulated::Params p;
  p.data = f.data, p.width = f.width, p.height = f.height, p.stride = f.stride;
  p.out_size = out, p.count = count;
  for (int z = 0; z < count; ++z) p.x0[z] = w[z].x0, p.y0[z] = w[z].y0, p.side[z] = w[z].side;
  p.yuv = yuv_to_rgb(f.matrix, f.range);
  const bool rgb = norm.order == ChannelOrder::RGB;
  p.rgb_of[0] = rgb ? 0 : 2, p.rgb_of[1] = 1, p.rgb_of[2] = rgb ? 2 : 0;
  for (int c = 0; c < 3; ++c) {
    p.scale[c] = 1.0f / (255.0f * norm.std[p.rgb_of[c]]);
    p.bias[c] = -norm.mean[p.rgb_of[c]] / norm.std[p.rgb_of[c]];
  }
  switch (f.format) {
    case PixelFormat::RGB: run_grid(out, count, [&] { emulated::crop_packed<3, 0, 1, 2>(p, dst); }); break;
    case PixelFormat::BGR: run_grid(out, count, [&] { emulated::crop_packed<3, 2, 1, 0>(p, dst); }); break;
    case PixelFormat::RGBA: run_grid(out, count, [&] { emulated::crop_packed<4, 0, 1, 2>(p, dst); }); break;
    case PixelFormat::BGRA: run_grid(out, count, [&] { emulated::crop_packed<4, 2, 1, 0>(p, dst); }); break;
    case PixelFormat::GRAY: run_grid(out, count, [&] { emulated::crop_packed<1, 0, 0, 0>(p, dst); }); break;
    case PixelFormat::NV12: run_grid(out, count, [&] { emulated::crop_nv12(p, dst); }); break;
  }
}
template <typename T>
void emulate(const FrameView& f, const CropWindow& w, int out, const Normalization& norm, T* dst) {
  emulate(f, &w, 1, out, norm, dst);
}

}  // namespace

int main() {
  uint32_t seed = 12345;
  const auto rnd = [&] { return (seed = seed * 1664525u + 1013904223u) >> 24; };
  const PixelFormat formats[] = {PixelFormat::RGB, PixelFormat::BGR, PixelFormat::RGBA, PixelFormat::BGRA, PixelFormat::GRAY, PixelFormat::NV12};
  const struct { int w, h; } sizes[] = {{98, 62}, {320, 240}, {64, 480}};
  const CropWindow windows[] = {{10, 5, 50}, {20, 10, 20}, {-25, -30, 70}, {60, 30, 256}, {-300, -200, 1500}, {5000, 5000, 30}, {3, 7, 1}};
  const int outs[] = {32, 48, 40, 128, 256, 16, 8};
  long mismatches = 0, values = 0, exact = 0, staged_cases = 0, staged_wrong = 0;
  size_t staged_bytes = 0, frame_bytes = 0;
  double worst32 = 0;
  int worst16 = 0;
  // NV12 in every colour matrix and range; the other formats have none.
  const struct { ColorMatrix matrix; ColorRange range; } colours[] = {
      {ColorMatrix::BT601, ColorRange::Limited}, {ColorMatrix::BT709, ColorRange::Limited}, {ColorMatrix::BT601, ColorRange::Full}, {ColorMatrix::BT709, ColorRange::Full}};
  for (const auto& sz : sizes)
    for (PixelFormat fmt : formats)
    for (const auto& colour : colours) {
      if (fmt != PixelFormat::NV12 && (colour.matrix != ColorMatrix::BT601 || colour.range != ColorRange::Limited)) continue;
      const int stride = sz.w * bytes_per_pixel(fmt) + 6;
      std::vector<uint8_t> px(static_cast<size_t>(stride) * sz.h * 3 / 2 + stride);
      for (auto& b : px) b = static_cast<uint8_t>(rnd());
      const FrameView f{px.data(), sz.w, sz.h, stride, fmt, colour.matrix, colour.range};
      for (size_t k = 0; k < sizeof(windows) / sizeof(windows[0]); ++k)
        for (int order = 0; order < 2; ++order) {
          Normalization norm;
          norm.order = order ? ChannelOrder::BGR : ChannelOrder::RGB;
          const int out = outs[k];
          const size_t n = 3ull * out * out;
          std::vector<float> cpu(n), gpu(n, -999.f);
          std::vector<uint16_t> cpu16(n), gpu16(n, 0xffff);
          CropSampler sampler;
          sampler.crop(f, windows[k], out, norm, cpu.data());
          for (size_t i = 0; i < n; ++i) cpu16[i] = float_to_half(cpu[i]);  // what the CPU would store as float16
          emulate(f, windows[k], out, norm, gpu.data());
          emulate(f, windows[k], out, norm, gpu16.data());
          long bad = 0;
          for (size_t i = 0; i < n; ++i) {
            const double d = std::fabs(static_cast<double>(cpu[i]) - gpu[i]);
            const int u = std::abs(static_cast<int>(cpu16[i]) - static_cast<int>(gpu16[i]));
            exact += std::memcmp(&cpu[i], &gpu[i], 4) == 0 && cpu16[i] == gpu16[i];
            worst32 = std::max(worst32, d), worst16 = std::max(worst16, u);
            const bool differs = !(d <= 1e-5) || u > 1;
            if (differs && bad == 0 && std::getenv("CT_EDGE_EMU_DEBUG"))
              std::printf("  first at %zu: cpu %.9g gpu %.9g (half %04x %04x)\n", i, cpu[i], gpu[i], cpu16[i], gpu16[i]);
            bad += differs;
          }
          // The frame as the GPU tracker stages it: only the ranges staged_ranges() names are copied
          // into a buffer holding stale bytes (here: their complement) everywhere else.
          std::vector<uint8_t> staged(px.size());
          for (size_t i = 0; i < px.size(); ++i) staged[i] = static_cast<uint8_t>(~px[i]);
          for (const cuda::ByteRange& r : cuda::staged_ranges(f, windows[k])) {
            std::memcpy(staged.data() + r.offset, px.data() + r.offset, r.length);
            staged_bytes += r.length;
          }
          frame_bytes += frame_required_bytes(f);
          FrameView sf = f;
          sf.data = staged.data();
          std::vector<float> from_staged(n, -999.f);
          emulate(sf, windows[k], out, norm, from_staged.data());
          ++staged_cases;
          if (std::memcmp(from_staged.data(), gpu.data(), n * sizeof(float)) != 0) {
            ++staged_wrong;
            std::printf("STAGING %s %dx%d window (%d,%d,%d): the rows copied are not all the crop reads\n", pixel_format_name(fmt), sz.w, sz.h,
                        windows[k].x0, windows[k].y0, windows[k].side);
          }
          if (bad)
            std::printf("MISMATCH %s %dx%d window (%d,%d,%d)->%d order %d: %ld of %zu values\n", pixel_format_name(fmt), sz.w, sz.h,
                        windows[k].x0, windows[k].y0, windows[k].side, out, order, bad, n);
          mismatches += bad, values += static_cast<long>(n);
        }
    }
  // A group's crops in one launch (crop_normalize_batch_async): every window above at once over one
  // frame, each crop bit-identical to the crop of its window alone, also from a frame staged with
  // the merged rows of all the windows (FrameStager::copy_rows for a group).
  long batch_wrong = 0, batch_crops = 0;
  for (PixelFormat fmt : formats) {
    const int w = 320, h = 240, stride = w * bytes_per_pixel(fmt) + 6, out = 48;
    std::vector<uint8_t> px(static_cast<size_t>(stride) * h * 3 / 2 + stride);
    for (auto& b : px) b = static_cast<uint8_t>(rnd());
    const FrameView f{px.data(), w, h, stride, fmt};
    const int count = sizeof(windows) / sizeof(windows[0]);
    const size_t n = 3ull * out * out;
    Normalization norm;
    std::vector<float> batch(n * count, -999.f), staged_batch(n * count, -999.f), alone(n);
    emulate(f, windows, count, out, norm, batch.data());
    std::vector<uint8_t> staged(px.size());
    for (size_t i = 0; i < px.size(); ++i) staged[i] = static_cast<uint8_t>(~px[i]);
    for (const cuda::ByteRange& r : cuda::staged_ranges(f, windows, count)) std::memcpy(staged.data() + r.offset, px.data() + r.offset, r.length);
    FrameView sf = f;
    sf.data = staged.data();
    emulate(sf, windows, count, out, norm, staged_batch.data());
    for (int z = 0; z < count; ++z) {
      emulate(f, windows[z], out, norm, alone.data());
      const bool same = std::memcmp(alone.data(), &batch[n * z], n * sizeof(float)) == 0 &&
                        std::memcmp(alone.data(), &staged_batch[n * z], n * sizeof(float)) == 0;
      if (!same)
        std::printf("BATCH %s crop %d of %d window (%d,%d,%d): not the crop of its window alone\n", pixel_format_name(fmt), z, count,
                    windows[z].x0, windows[z].y0, windows[z].side);
      batch_wrong += !same, ++batch_crops;
    }
  }
  std::printf("batched crops (one launch per frame): %ld of %ld differ from the crop of their window alone\n", batch_wrong, batch_crops);
  std::printf("emulated CUDA kernels vs CPU crop: %ld of %ld outputs beyond tolerance (1e-5 float32, 1 ulp float16); "
              "%ld bit-identical in both; max float32 diff %.3g, max float16 diff %d ulp\n",
              mismatches, values, exact, worst32, worst16);
  // half_to_float (the TensorRT tracker reads FP16 output maps with it) inverts float_to_half on
  // every float16 bit pattern but NaNs.
  long wrong = 0;
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu)) continue;
    wrong += float_to_half(half_to_float(static_cast<uint16_t>(h))) != h;
  }
  std::printf("half_to_float round trip: %ld of 63488 float16 values wrong\n", wrong);
  std::printf("staging only the rows a crop reads: %ld of %ld crops differ; %.1f%% of the frame bytes copied\n", staged_wrong, staged_cases,
              100.0 * static_cast<double>(staged_bytes) / static_cast<double>(frame_bytes));
  // Bytes a TensorRT track() copies per frame on the host, 720p and 1080p, a 100x100 target in the
  // middle (search window 4x: 400 px): before, the whole frame (an ordinary-memory frame was copied
  // to keep it past the call) and then the rows the crop reads into pinned memory; now only those
  // rows, straight from the caller's frame (GpuTracker::prepare, FrameStager::copy_rows).
  for (const PixelFormat fmt : {PixelFormat::RGB, PixelFormat::NV12})
    for (const auto& hd : {std::pair{1280, 720}, std::pair{1920, 1080}}) {
      const FrameView f{nullptr, hd.first, hd.second, hd.first * bytes_per_pixel(fmt), fmt};
      size_t rows = 0;
      for (const cuda::ByteRange& r : cuda::staged_ranges(f, CropWindow{hd.first / 2 - 200, hd.second / 2 - 200, 400})) rows += r.length;
      const size_t whole = frame_required_bytes(f);
      std::printf("bytes copied per frame, %s %dx%d: before %zu (whole frame %zu + rows %zu), now %zu (%.0f%%)\n", pixel_format_name(fmt), hd.first,
                  hd.second, whole + rows, whole, rows, rows, 100.0 * static_cast<double>(rows) / static_cast<double>(whole + rows));
    }
  return mismatches == 0 && wrong == 0 && staged_wrong == 0 && batch_wrong == 0 ? 0 : 1;
}
