// The fused crop + pad + bilinear resize + normalise kernel (see preprocess.h), and the small amount
// of host code around it. The arithmetic mirrors core/crop.cpp operation by operation, with explicit
// round-to-nearest intrinsics (__fmul_rn, __fadd_rn, __dmul_rn, ...) so that nvcc cannot contract
// a*b+c into an FMA. The CPU crop is plain IEEE float arithmetic except where the compiler fuses a
// multiply-add (GCC does on aarch64, and in the AVX2+FMA clone of its row blend on x86-64), so the
// two agree bit for bit or within an ulp or so of the float32 result (test/native/cuda_emulation_check.cpp
// and test/cuda-preprocess.test.ts measure it). The target is also built with --fmad=false as a guard.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstring>
#include <string>

#include "preprocess.h"

namespace ctedge {
namespace cuda {

void check(int err, const char* what) {
  if (err == cudaSuccess) return;
  const cudaError_t e = static_cast<cudaError_t>(err);
  throw CoreError("ERR_CUDA", std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

DeviceInfo probe_device() {
  DeviceInfo info;
  cudaRuntimeGetVersion(&info.runtime_version);
  cudaDriverGetVersion(&info.driver_version);
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    info.reason = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(e) +
                  (info.driver_version == 0 ? " (no NVIDIA driver loaded)" : "");
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return info;
  }
  if (count == 0) {
    info.reason = "no CUDA device";
    return info;
  }
  cudaGetDevice(&info.device);
  cudaDeviceProp p;
  e = cudaGetDeviceProperties(&p, info.device);
  if (e != cudaSuccess) {
    info.reason = std::string("cudaGetDeviceProperties failed: ") + cudaGetErrorString(e);
    return info;
  }
  info.available = true;
  info.name = p.name;
  info.major = p.major;
  info.minor = p.minor;
  info.total_memory = p.totalGlobalMem;
  info.integrated = p.integrated != 0;
  return info;
}

namespace {

#include "preprocess_kernels.cuh"

template <typename T>
void launch(PixelFormat format, const Params& p, T* dst, cudaStream_t stream) {
  const dim3 block(32, 8);
  const dim3 grid((p.out_size + block.x - 1) / block.x, (p.out_size + block.y - 1) / block.y, p.count);
  switch (format) {
    case PixelFormat::RGB: crop_packed<3, 0, 1, 2><<<grid, block, 0, stream>>>(p, dst); break;
    case PixelFormat::BGR: crop_packed<3, 2, 1, 0><<<grid, block, 0, stream>>>(p, dst); break;
    case PixelFormat::RGBA: crop_packed<4, 0, 1, 2><<<grid, block, 0, stream>>>(p, dst); break;
    case PixelFormat::BGRA: crop_packed<4, 2, 1, 0><<<grid, block, 0, stream>>>(p, dst); break;
    case PixelFormat::GRAY: crop_packed<1, 0, 0, 0><<<grid, block, 0, stream>>>(p, dst); break;
    case PixelFormat::NV12: crop_nv12<<<grid, block, 0, stream>>>(p, dst); break;
  }
}

}  // namespace

void crop_normalize_async(const FrameView& frame, const CropWindow& window, int out_size, const Normalization& norm,
                          void* dst, bool half, void* stream) {
  crop_normalize_batch_async(frame, &window, 1, out_size, norm, dst, half, stream);
}

void crop_normalize_batch_async(const FrameView& frame, const CropWindow* windows, int count, int out_size, const Normalization& norm,
                                void* dst, bool half, void* stream) {
  if (count < 1 || count > kMaxBatchCrops)
    throw CoreError("ERR_INVALID_ARGUMENT", "one crop launch makes 1 to " + std::to_string(kMaxBatchCrops) + " crops, not " + std::to_string(count));
  if (out_size <= 0) throw CoreError("ERR_INVALID_ARGUMENT", "crop side and output size must be positive");
  static_assert(kMaxCrops == kMaxBatchCrops, "preprocess.h and the kernels agree on the batch limit");
  Params p;
  p.data = frame.data;
  p.width = frame.width;
  p.height = frame.height;
  p.stride = frame.stride;
  p.out_size = out_size;
  p.count = count;
  for (int z = 0; z < count; ++z) {
    if (windows[z].side <= 0) throw CoreError("ERR_INVALID_ARGUMENT", "crop side and output size must be positive");
    p.x0[z] = windows[z].x0;
    p.y0[z] = windows[z].y0;
    p.side[z] = windows[z].side;
  }
  p.yuv = yuv_to_rgb(frame.matrix, frame.range);
  // Exactly CropSampler::run's constants (computed on the host with the same expressions).
  const bool rgb = norm.order == ChannelOrder::RGB;
  p.rgb_of[0] = rgb ? 0 : 2;
  p.rgb_of[1] = 1;
  p.rgb_of[2] = rgb ? 2 : 0;
  for (int c = 0; c < 3; ++c) {
    p.scale[c] = 1.0f / (255.0f * norm.std[p.rgb_of[c]]);
    p.bias[c] = -norm.mean[p.rgb_of[c]] / norm.std[p.rgb_of[c]];
  }
  const auto s = static_cast<cudaStream_t>(stream);
  if (half)
    launch(frame.format, p, static_cast<__half*>(dst), s);
  else
    launch(frame.format, p, static_cast<float*>(dst), s);
  check(cudaGetLastError(), "crop kernel launch");
}

// ---- memory helpers ---------------------------------------------------------------------------

DeviceBuffer::~DeviceBuffer() {
  if (ptr_) cudaFree(ptr_);
}
void DeviceBuffer::resize(size_t bytes) {
  if (bytes <= size_) return;
  if (ptr_) cudaFree(ptr_), ptr_ = nullptr, size_ = 0;
  check(cudaMalloc(&ptr_, bytes), "cudaMalloc");
  size_ = bytes;
}

PinnedBuffer::~PinnedBuffer() {
  if (ptr_) cudaFreeHost(ptr_);
}
void PinnedBuffer::resize(size_t bytes) {
  if (bytes <= size_) return;
  if (ptr_) cudaFreeHost(ptr_), ptr_ = nullptr, size_ = 0;
  check(cudaHostAlloc(&ptr_, bytes, cudaHostAllocMapped | cudaHostAllocPortable), "cudaHostAlloc");
  size_ = bytes;
}

Stream::Stream(bool blocking_sync) {
  cudaStream_t s = nullptr;
  check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  stream_ = s;
  if (blocking_sync) {
    cudaEvent_t e = nullptr;
    const cudaError_t status = cudaEventCreateWithFlags(&e, cudaEventBlockingSync | cudaEventDisableTiming);
    if (status != cudaSuccess) cudaStreamDestroy(s);  // the destructor does not run for a throwing constructor
    check(status, "cudaEventCreateWithFlags(cudaEventBlockingSync)");
    done_ = e;
  }
}
Stream::~Stream() {
  if (done_) cudaEventDestroy(static_cast<cudaEvent_t>(done_));
  if (stream_) cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
}
void Stream::synchronize() const {
  if (!done_) {
    check(cudaStreamSynchronize(static_cast<cudaStream_t>(stream_)), "cudaStreamSynchronize");
    return;
  }
  check(cudaEventRecord(static_cast<cudaEvent_t>(done_), static_cast<cudaStream_t>(stream_)), "cudaEventRecord");
  check(cudaEventSynchronize(static_cast<cudaEvent_t>(done_)), "cudaEventSynchronize");
}

void copy_to_device_async(void* dst, const void* src, size_t bytes, void* stream) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, static_cast<cudaStream_t>(stream)), "cudaMemcpyAsync H2D");
}
void copy_to_host_async(void* dst, const void* src, size_t bytes, void* stream) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, static_cast<cudaStream_t>(stream)), "cudaMemcpyAsync D2H");
}

FrameStager::FrameStager() {
  const DeviceInfo info = probe_device();
  if (!info.available) throw CoreError("ERR_CUDA", "no usable CUDA device: " + info.reason);
  integrated_ = info.integrated;
}

FrameStager::~FrameStager() {
  if (host_) cudaFreeHost(host_);
  if (device_) cudaFree(device_);
}

void FrameStager::reserve(size_t bytes) {
  if (bytes <= capacity_) return;
  if (host_) cudaFreeHost(host_), host_ = nullptr;
  if (device_) cudaFree(device_), device_ = nullptr;
  capacity_ = 0;
  check(cudaHostAlloc(reinterpret_cast<void**>(&host_), bytes, cudaHostAllocMapped | cudaHostAllocPortable), "cudaHostAlloc (frame)");
  if (integrated_) {
    check(cudaHostGetDevicePointer(reinterpret_cast<void**>(&mapped_), host_, 0), "cudaHostGetDevicePointer");
  } else {
    check(cudaMalloc(reinterpret_cast<void**>(&device_), bytes), "cudaMalloc (frame)");
  }
  capacity_ = bytes;
}

void FrameStager::copy_rows(const FrameView& host_frame, const CropWindow* windows, int count) {
  reserve(frame_required_bytes(host_frame));
  ranges_ = staged_ranges(host_frame, windows, count);  // empty when every tap is outside the frame (all padding)
  for (const ByteRange& r : ranges_)
    if (r.length > 0) std::memcpy(host_ + r.offset, host_frame.data + r.offset, r.length);
  copied_ = host_frame;
  copied_.data = host_;
}

FrameView FrameStager::upload(void* stream) {
  if (!integrated_)
    for (const ByteRange& r : ranges_)
      if (r.length > 0) copy_to_device_async(device_ + r.offset, host_ + r.offset, r.length, stream);
  FrameView v = copied_;
  v.data = integrated_ ? mapped_ : device_;
  return v;
}

FrameView FrameStager::stage(const FrameView& host_frame, const CropWindow& window, void* stream) {
  copy_rows(host_frame, window);
  return upload(stream);
}

void crop_to_host(const FrameView& host_frame, const CropWindow& window, int out_size, const Normalization& norm,
                  void* dst, bool half) {
  Stream stream;
  const size_t frame_bytes = frame_required_bytes(host_frame);
  DeviceBuffer frame(frame_bytes);
  const size_t out_bytes = 3ull * out_size * out_size * (half ? 2 : 4);
  DeviceBuffer out(out_bytes);
  // On the crop's stream: a synchronous cudaMemcpy runs on the legacy default stream, which a
  // non-blocking stream does not wait for. From pageable memory the async copy returns once the
  // source has been staged, so host_frame may change afterwards.
  copy_to_device_async(frame.get(), host_frame.data, frame_bytes, stream.get());
  FrameView v = host_frame;
  v.data = static_cast<const uint8_t*>(frame.get());
  crop_normalize_async(v, window, out_size, norm, out.get(), half, stream.get());
  copy_to_host_async(dst, out.get(), out_bytes, stream.get());
  stream.synchronize();
}

}  // namespace cuda
}  // namespace ctedge
