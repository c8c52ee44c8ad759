// CUDA twin of core/crop.cpp: square crop, zero padding outside the frame, bilinear resize
// (cv::resize INTER_LINEAR taps) and normalisation to planar NCHW float32 or float16, in one kernel,
// reading RGB, BGR, RGBA, BGRA, GRAY or NV12 (BT.601 limited) straight from device-readable memory.
//
// A pure C++ interface: nothing here needs a CUDA header, streams travel as void* (cudaStream_t),
// so the N-API glue and the TensorRT code compile with any C++17 compiler. CUDA failures throw
// ctedge::CoreError with code "ERR_CUDA".
#pragma once
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/crop.h"
#include "../core/errors.h"
#include "../core/frame.h"

namespace ctedge {
namespace cuda {

struct DeviceInfo {
  bool available = false;    // a device exists and the runtime/driver work
  std::string reason;        // why not, when !available
  int device = -1;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  size_t total_memory = 0;
  bool integrated = false;   // Jetson: the GPU shares DRAM with the CPU (zero-copy frames pay off)
  int runtime_version = 0, driver_version = 0;  // e.g. 13000
};

// Never throws; looks at the current device (cudaGetDevice).
DeviceInfo probe_device();

// Throws CoreError("ERR_CUDA", "<what>: <cuda error string>") when err is not cudaSuccess (0).
void check(int err, const char* what);

// Launches the fused crop on `stream`. frame.data must be readable by the device: a device pointer,
// managed memory, or pinned host memory mapped into the device (cudaHostAllocMapped with unified
// addressing). dst: device memory holding 3*out_size*out_size float (half=false) or __half values.
// Pixel for pixel the same arithmetic as CropSampler (the CPU path), float16 rounded to nearest even.
void crop_normalize_async(const FrameView& frame, const CropWindow& window, int out_size, const Normalization& norm,
                          void* dst, bool half, void* stream);

// The most crops crop_normalize_batch_async makes in one launch.
constexpr int kMaxBatchCrops = 64;

// `count` crops of one frame in one launch (a group's targets, one search window each): crop z is
// written as the z-th 3*out_size*out_size tensor of dst, value for value what crop_normalize_async
// writes for windows[z]. count is 1 to kMaxBatchCrops.
void crop_normalize_batch_async(const FrameView& frame, const CropWindow* windows, int count, int out_size, const Normalization& norm,
                                void* dst, bool half, void* stream);

// The rows of a frame that the crop of `window` reads: [first, last] of the luma (or only) plane,
// empty (first > last) when the window misses the frame. Taps outside the frame read row 0 (or
// column 0) with weight 0, so rows outside the span never change the result, whatever they hold;
// NV12's chroma rows are first/2 .. last/2. Pure host code: the staging copies only these rows.
struct RowSpan {
  int first = 0, last = -1;
  bool empty() const { return first > last; }
};
inline RowSpan crop_rows(const FrameView& frame, const CropWindow& window) {
  RowSpan r;
  r.first = window.y0 < 0 ? 0 : window.y0;
  const long long last = static_cast<long long>(window.y0) + window.side - 1;
  r.last = last >= frame.height ? frame.height - 1 : static_cast<int>(last);
  return r;
}

// The byte ranges of the frame buffer the rows of the crops of `windows` occupy: the luma (or only)
// plane's rows, then NV12's chroma rows, sorted, overlapping or touching ranges merged (a group's
// targets near one another share rows). Empty when every window misses the frame. What
// FrameStager copies (and test/native/cuda_emulation_check.cpp checks is enough).
struct ByteRange {
  size_t offset = 0, length = 0;
};
inline std::vector<ByteRange> staged_ranges(const FrameView& frame, const CropWindow* windows, int count) {
  std::vector<RowSpan> luma;
  for (int i = 0; i < count; ++i) {
    const RowSpan rows = crop_rows(frame, windows[i]);
    if (!rows.empty()) luma.push_back(rows);
  }
  std::sort(luma.begin(), luma.end(), [](const RowSpan& a, const RowSpan& b) { return a.first < b.first; });
  std::vector<RowSpan> merged;
  for (const RowSpan& r : luma) {
    if (!merged.empty() && r.first <= merged.back().last + 1)
      merged.back().last = std::max(merged.back().last, r.last);
    else
      merged.push_back(r);
  }
  const size_t stride = static_cast<size_t>(frame.stride);
  std::vector<ByteRange> out;
  for (const RowSpan& r : merged) out.push_back({static_cast<size_t>(r.first) * stride, static_cast<size_t>(r.last - r.first + 1) * stride});
  if (frame.format == PixelFormat::NV12) {
    const size_t chroma = stride * static_cast<size_t>(frame.height);
    for (const RowSpan& r : merged) {
      const size_t first = static_cast<size_t>(r.first / 2), last = static_cast<size_t>(r.last / 2);
      if (out.back().offset >= chroma && first * stride + chroma <= out.back().offset + out.back().length)
        out.back().length = (last + 1) * stride + chroma - out.back().offset;  // halved spans can touch
      else
        out.push_back({chroma + first * stride, (last - first + 1) * stride});
    }
  }
  return out;
}
inline std::vector<ByteRange> staged_ranges(const FrameView& frame, const CropWindow& window) { return staged_ranges(frame, &window, 1); }

// Owns the memory a tracker needs to feed frames to the kernel without allocating frame-sized
// buffers per frame (only the short list of row ranges is rebuilt): a pinned (page-locked, mapped)
// host staging buffer and, on discrete GPUs, a device copy.
// stage() copies the rows of a host frame (e.g. a JS Buffer) that the crop of `window` reads into
// pinned memory at their place in the frame and, on a discrete GPU, queues the host->device copy of
// those rows on `stream`; it returns a view of the whole frame that the kernel can read (rows
// outside the span hold stale bytes that the crop weighs by 0). On an integrated GPU (Jetson) the
// kernel reads the pinned buffer in place (zero-copy).
// The caller must not stage the next frame before the work queued on the previous one has finished
// (the tracker synchronises once per frame anyway).
class FrameStager {
 public:
  FrameStager();
  ~FrameStager();
  FrameStager(const FrameStager&) = delete;
  FrameStager& operator=(const FrameStager&) = delete;

  FrameView stage(const FrameView& host_frame, const CropWindow& window, void* stream);

  // stage() in two halves, for a tracker that must not hold the caller's frame past the call:
  // copy_rows() copies the rows into pinned memory (on the calling thread, the frame still valid)
  // and remembers them; upload() queues their host->device copy (discrete GPUs) and returns the
  // view the kernel reads. stage() is copy_rows() then upload().
  void copy_rows(const FrameView& host_frame, const CropWindow& window) { copy_rows(host_frame, &window, 1); }
  // The rows the crops of every window read (a group's targets, one search window each).
  void copy_rows(const FrameView& host_frame, const CropWindow* windows, int count);
  FrameView upload(void* stream);

  // Pinned (and, on discrete GPUs, device) memory for frames of `bytes`; grows, never shrinks.
  // Done ahead by a tracker that knows its frame size, so that no init() pays for the allocation.
  void reserve(size_t bytes);

 private:
  uint8_t* host_ = nullptr;    // pinned, mapped
  uint8_t* mapped_ = nullptr;  // device alias of host_ (integrated GPUs)
  uint8_t* device_ = nullptr;  // discrete GPUs
  size_t capacity_ = 0;
  bool integrated_ = false;
  FrameView copied_;                // the frame copy_rows() copied (its data: the pinned buffer)
  std::vector<ByteRange> ranges_;  // and the bytes it copied
};

// Small RAII helpers so that non-CUDA translation units can hold device memory and streams.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes) { resize(bytes); }
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void resize(size_t bytes);  // keeps the allocation when it is large enough
  void* get() const { return ptr_; }
  size_t size() const { return size_; }

 private:
  void* ptr_ = nullptr;
  size_t size_ = 0;
};

class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes) { resize(bytes); }
  ~PinnedBuffer();
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void resize(size_t bytes);
  void* get() const { return ptr_; }
  size_t size() const { return size_; }

 private:
  void* ptr_ = nullptr;
  size_t size_ = 0;
};

class Stream {
 public:
  // A non-blocking stream. `blocking_sync`: synchronize() waits on an event made with
  // cudaEventBlockingSync, so the host thread sleeps until the GPU is done instead of spinning on a
  // core for the whole inference (less CPU and power; wake-up latency of the OS scheduler, tens of
  // microseconds, added per frame).
  explicit Stream(bool blocking_sync = false);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  void* get() const { return stream_; }
  void synchronize() const;

 private:
  void* stream_ = nullptr;
  void* done_ = nullptr;  // the blocking-sync event, when asked for
};

void copy_to_device_async(void* dst, const void* src, size_t bytes, void* stream);
void copy_to_host_async(void* dst, const void* src, size_t bytes, void* stream);

// One synchronous crop of a host frame into a host tensor through the GPU, for tests and the train
// side: allocates, so not for the per-frame loop. dst holds 3*out_size^2 float or uint16 (half bits).
// The frame goes to the device with cudaMemcpyAsync on the crop's own (non-blocking) stream, so the
// copy is ordered before the kernel.
void crop_to_host(const FrameView& host_frame, const CropWindow& window, int out_size, const Normalization& norm,
                  void* dst, bool half);

}  // namespace cuda
}  // namespace ctedge
