// The device code of preprocess.cu, in a header of its own so that tools can also compile it for the
// host (with the intrinsics mapped to plain IEEE operations) and check it against core/crop.cpp on a
// machine without a GPU. Include only from preprocess.cu (or such a harness), inside an unnamed
// namespace; it needs <cuda_fp16.h> (or a stand-in for __half and __float2half_rn).
#pragma once

struct Taps {
  int i0, i1;
  float w0, w1;
};

// CropSampler::build_taps for one output coordinate.
__device__ __forceinline__ Taps tap(int o, int origin, int side, int out_size, int limit) {
  const double scale = __ddiv_rn(static_cast<double>(side), static_cast<double>(out_size));
  double u = __dadd_rn(__dmul_rn(__dadd_rn(static_cast<double>(o), 0.5), scale), -0.5);
  u = fmin(fmax(u, 0.0), static_cast<double>(side - 1));
  const int c0 = static_cast<int>(floor(u));
  const int c1 = min(c0 + 1, side - 1);
  const float frac = __double2float_rn(__dadd_rn(u, -static_cast<double>(c0)));
  Taps t{origin + c0, origin + c1, __fadd_rn(1.0f, -frac), frac};
  if (t.i0 < 0 || t.i0 >= limit) t.w0 = 0.0f, t.i0 = 0;
  if (t.i1 < 0 || t.i1 >= limit) t.w1 = 0.0f, t.i1 = 0;
  return t;
}

__device__ __forceinline__ float lerp2(float w0, float a, float w1, float b) {
  return __fadd_rn(__fmul_rn(w0, a), __fmul_rn(w1, b));
}

__device__ __forceinline__ float clamp255(float v) { return v < 0.f ? 0.f : (v > 255.f ? 255.f : v); }

// The most crops one launch makes (a TensorRT engine's largest batch; build-engine --max-batch).
constexpr int kMaxCrops = 64;

struct Params {
  const uint8_t* data;
  int width, height, stride;
  int out_size;
  // Crop z (blockIdx.z) reads window z of the frame and writes the z-th 3 x out_size x out_size
  // tensor of dst: one launch for every target of a group.
  int count;
  int x0[kMaxCrops], y0[kMaxCrops], side[kMaxCrops];
  float scale[3], bias[3];  // per model channel
  int rgb_of[3];            // model channel c holds RGB channel rgb_of[c]
  YuvToRgb yuv;             // NV12's colour matrix and range (core/frame.h)
};

// core/crop.cpp nv12_to_rgb: the frame's matrix and range, same constants, same evaluation order.
__device__ __forceinline__ void nv12_rgb(const Params& p, int x, int y, float rgb[3]) {
  const YuvToRgb& k = p.yuv;
  const uint8_t* uv = p.data + static_cast<size_t>(p.stride) * p.height + static_cast<size_t>(p.stride) * (y >> 1) + (x & ~1);
  const float Y = __fmul_rn(k.y_scale, __fadd_rn(static_cast<float>(p.data[static_cast<size_t>(p.stride) * y + x]), -k.y_offset));
  const float U = __fadd_rn(static_cast<float>(uv[0]), -128.0f), V = __fadd_rn(static_cast<float>(uv[1]), -128.0f);
  rgb[0] = clamp255(__fadd_rn(Y, __fmul_rn(k.rv, V)));
  rgb[1] = clamp255(__fadd_rn(__fadd_rn(Y, -__fmul_rn(k.gu, U)), -__fmul_rn(k.gv, V)));
  rgb[2] = clamp255(__fadd_rn(Y, __fmul_rn(k.bu, U)));
}

__device__ __forceinline__ void store(float* dst, size_t i, float v) { dst[i] = v; }
__device__ __forceinline__ void store(__half* dst, size_t i, float v) { dst[i] = __float2half_rn(v); }

// Packed formats: BPP bytes per pixel, R/G/B byte offsets. Vertical blend first, then horizontal,
// as CropSampler's packed_row does.
template <int BPP, int R, int G, int B, typename T>
__global__ void crop_packed(Params p, T* dst) {
  const int ox = blockIdx.x * blockDim.x + threadIdx.x, oy = blockIdx.y * blockDim.y + threadIdx.y, z = blockIdx.z;
  if (ox >= p.out_size || oy >= p.out_size || z >= p.count) return;
  const Taps tx = tap(ox, p.x0[z], p.side[z], p.out_size, p.width);
  const Taps ty = tap(oy, p.y0[z], p.side[z], p.out_size, p.height);
  const uint8_t* r0 = p.data + static_cast<size_t>(p.stride) * ty.i0;
  const uint8_t* r1 = p.data + static_cast<size_t>(p.stride) * ty.i1;
  const int offset[3] = {R, G, B};
  const size_t plane = static_cast<size_t>(p.out_size) * p.out_size;
  const size_t at = 3 * plane * z + static_cast<size_t>(oy) * p.out_size + ox;
#pragma unroll
  for (int c = 0; c < 3; ++c) {
    const int s = offset[p.rgb_of[c]];
    const float b0 = lerp2(ty.w0, r0[tx.i0 * BPP + s], ty.w1, r1[tx.i0 * BPP + s]);
    const float b1 = lerp2(ty.w0, r0[tx.i1 * BPP + s], ty.w1, r1[tx.i1 * BPP + s]);
    const float v = lerp2(tx.w0, b0, tx.w1, b1);
    store(dst, c * plane + at, __fadd_rn(__fmul_rn(v, p.scale[c]), p.bias[c]));
  }
}

// NV12: convert the four taps to RGB first, then blend horizontally, then vertically (as the CPU).
template <typename T>
__global__ void crop_nv12(Params p, T* dst) {
  const int ox = blockIdx.x * blockDim.x + threadIdx.x, oy = blockIdx.y * blockDim.y + threadIdx.y, z = blockIdx.z;
  if (ox >= p.out_size || oy >= p.out_size || z >= p.count) return;
  const Taps tx = tap(ox, p.x0[z], p.side[z], p.out_size, p.width);
  const Taps ty = tap(oy, p.y0[z], p.side[z], p.out_size, p.height);
  float a[3], b[3], c[3], d[3];
  nv12_rgb(p, tx.i0, ty.i0, a);
  nv12_rgb(p, tx.i1, ty.i0, b);
  nv12_rgb(p, tx.i0, ty.i1, c);
  nv12_rgb(p, tx.i1, ty.i1, d);
  const size_t plane = static_cast<size_t>(p.out_size) * p.out_size;
  const size_t at = 3 * plane * z + static_cast<size_t>(oy) * p.out_size + ox;
#pragma unroll
  for (int ch = 0; ch < 3; ++ch) {
    const int k = p.rgb_of[ch];
    const float top = lerp2(tx.w0, a[k], tx.w1, b[k]);
    const float bottom = lerp2(tx.w0, c[k], tx.w1, d[k]);
    store(dst, ch * plane + at, __fadd_rn(__fmul_rn(lerp2(ty.w0, top, ty.w1, bottom), p.scale[ch]), p.bias[ch]));
  }
}

