#include "crop.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "errors.h"

namespace ctedge {

CropWindow crop_window_ostrack(double x, double y, double w, double h, double factor) {
  CropWindow c;
  c.side = static_cast<int>(std::ceil(std::sqrt(w * h) * factor));
  c.x0 = static_cast<int>(std::nearbyint(x + 0.5 * w - 0.5 * c.side));
  c.y0 = static_cast<int>(std::nearbyint(y + 0.5 * h - 0.5 * c.side));
  return c;
}

CropWindow crop_window_opencv(int x, int y, int w, int h, double factor) {
  CropWindow c;
  c.side = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(w) * h) * factor));
  c.x0 = x + (w - c.side) / 2;
  c.y0 = y + (h - c.side) / 2;
  return c;
}

FrameRegion crop_region(const FrameView& frame, const CropWindow& window) {
  const long long x0 = std::max<long long>(0, window.x0), y0 = std::max<long long>(0, window.y0);
  const long long x1 = std::min<long long>(frame.width, static_cast<long long>(window.x0) + window.side);
  const long long y1 = std::min<long long>(frame.height, static_cast<long long>(window.y0) + window.side);
  if (x1 <= x0 || y1 <= y0) return {};
  FrameRegion r{static_cast<int>(x0), static_cast<int>(y0), static_cast<int>(x1 - x0), static_cast<int>(y1 - y0)};
  if (frame.format == PixelFormat::NV12) {  // even corners; the frame's sides are even, so the ends stay inside
    const int ex = r.x & ~1, ey = r.y & ~1;
    r.width = ((r.x + r.width + 1) & ~1) - ex, r.height = ((r.y + r.height + 1) & ~1) - ey;
    r.x = ex, r.y = ey;
  }
  return r;
}

FrameView copy_region(const FrameView& frame, const FrameRegion& region, uint8_t* dst, size_t capacity) {
  const bool nv12 = frame.format == PixelFormat::NV12;
  const int bpp = bytes_per_pixel(frame.format);
  FrameView out;
  out.format = frame.format;
  out.matrix = frame.matrix;
  out.range = frame.range;
  if (region.width <= 0 || region.height <= 0) {  // the window misses the frame: any black frame will do
    out.width = out.height = nv12 ? 2 : 1;
    out.stride = out.width * bpp;
    const size_t need = frame_required_bytes(out);
    if (capacity < need) throw CoreError("ERR_INVALID_ARGUMENT", "copyRegion: dst holds " + std::to_string(capacity) + " bytes, needs " + std::to_string(need));
    std::memset(dst, 0, need);  // never sampled: every tap of such a crop is padding
    out.data = dst;
    return out;
  }
  if (region.x < 0 || region.y < 0 || region.x > frame.width - region.width || region.y > frame.height - region.height ||
      (nv12 && ((region.x | region.y | region.width | region.height) & 1)))
    throw CoreError("ERR_INVALID_ARGUMENT", "copyRegion: the region is not inside the frame (or not even-aligned for nv12)");
  out.width = region.width;
  out.height = region.height;
  out.stride = region.width * bpp;
  const size_t need = frame_required_bytes(out);
  if (capacity < need) throw CoreError("ERR_INVALID_ARGUMENT", "copyRegion: dst holds " + std::to_string(capacity) + " bytes, needs " + std::to_string(need));
  const size_t row = static_cast<size_t>(out.stride);
  const uint8_t* src = frame.data + static_cast<size_t>(frame.stride) * region.y + static_cast<size_t>(region.x) * bpp;
  for (int y = 0; y < region.height; ++y) std::memcpy(dst + row * y, src + static_cast<size_t>(frame.stride) * y, row);
  if (nv12) {  // chroma rows y/2 of the region's luma rows, same columns
    const uint8_t* uv = frame.data + static_cast<size_t>(frame.stride) * frame.height +
                        static_cast<size_t>(frame.stride) * (region.y / 2) + region.x;
    uint8_t* dst_uv = dst + row * region.height;
    for (int y = 0; y < region.height / 2; ++y) std::memcpy(dst_uv + row * y, uv + static_cast<size_t>(frame.stride) * y, row);
  }
  out.data = dst;
  return out;
}

uint16_t float_to_half(float value) {
  uint32_t f;
  std::memcpy(&f, &value, 4);
  const uint32_t sign = (f >> 16) & 0x8000u;
  const uint32_t abs = f & 0x7fffffffu;
  if (abs >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0));
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to infinity
  if (abs < 0x38800000u) {  // subnormal half (or zero): shift the mantissa, round to nearest even
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);
    const uint32_t mant = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - (abs >> 23);
    uint32_t result = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (result & 1u))) ++result;
    return static_cast<uint16_t>(sign | result);
  }
  uint32_t result = ((abs - 0x38000000u) >> 13);
  const uint32_t rem = abs & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (result & 1u))) ++result;
  return static_cast<uint16_t>(sign | result);
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t f;
  if (exp == 0x1f) {
    f = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    f = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    f = sign;
  } else {  // subnormal: normalise
    exp = 113;
    while (!(mant & 0x400u)) {
      mant <<= 1;
      --exp;
    }
    f = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
  }
  float out;
  std::memcpy(&out, &f, 4);
  return out;
}

CropSampler::CropSampler(int max_out_size) {
  xs_.reserve(max_out_size);
  ys_.reserve(max_out_size);
}

// cv::resize INTER_LINEAR's mapping: src = (dst + 0.5) * side/out - 0.5, clamped to the crop, then
// shifted into the frame; a tap that falls outside the frame reads the zero padding (weight 0).
void CropSampler::build_taps(int origin, int side, int out_size, int limit, Tap* taps) {
  const double scale = static_cast<double>(side) / out_size;
  for (int o = 0; o < out_size; ++o) {
    double u = (o + 0.5) * scale - 0.5;
    u = std::min(std::max(u, 0.0), static_cast<double>(side - 1));
    const int c0 = static_cast<int>(std::floor(u));
    const int c1 = std::min(c0 + 1, side - 1);
    const float frac = static_cast<float>(u - c0);
    Tap t{origin + c0, origin + c1, 1.0f - frac, frac};
    if (t.i0 < 0 || t.i0 >= limit) t.w0 = 0.0f, t.i0 = 0;
    if (t.i1 < 0 || t.i1 >= limit) t.w1 = 0.0f, t.i1 = 0;
    taps[o] = t;
  }
}

namespace {

inline float clamp255(float v) { return v < 0.f ? 0.f : (v > 255.f ? 255.f : v); }

// The frame's colour matrix and range (frame.h yuv_to_rgb; BT.601 limited by default, what camera
// pipelines such as nvarguscamerasrc and v4l2 deliver).
inline void nv12_to_rgb(const FrameView& f, const YuvToRgb& k, int x, int y, float rgb[3]) {
  const uint8_t* uv = f.data + static_cast<size_t>(f.stride) * f.height +
                      static_cast<size_t>(f.stride) * (y >> 1) + (x & ~1);
  const float Y = k.y_scale * (f.data[static_cast<size_t>(f.stride) * y + x] - k.y_offset);
  const float U = uv[0] - 128.0f, V = uv[1] - 128.0f;
  rgb[0] = clamp255(Y + k.rv * V);
  rgb[1] = clamp255(Y - k.gu * U - k.gv * V);
  rgb[2] = clamp255(Y + k.bu * U);
}

}  // namespace

namespace {

// Packed 8-bit formats: bytes per pixel and where R, G, B sit in a pixel.
template <int BPP, int R, int G, int B>
struct Packed {
  static constexpr int bpp = BPP;
  static constexpr int channel[3] = {R, G, B};
};

// Compiled twice on x86-64 (baseline SSE2 and AVX2+FMA, chosen at load time by the CPU) because
// this loop is most of a frame's pre-processing time.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CT_EDGE_HOT __attribute__((target_clones("avx2,fma", "default")))
#else
#define CT_EDGE_HOT
#endif

// Vertical blend of two source rows over the span of bytes a row of taps reads.
CT_EDGE_HOT void blend_rows(const uint8_t* r0, const uint8_t* r1, float wy0, float wy1, int begin, int end,
                            float* blend) {
  for (int k = begin; k < end; ++k) blend[k] = wy0 * r0[k] + wy1 * r1[k];
}

// Four floats in one SIMD register (SSE on x86-64, NEON on ARM) through GCC/Clang vector
// extensions, so the same source serves the desktop and Jetson.
typedef float v4f __attribute__((vector_size(16)));

inline v4f load4(const float* p) {
  v4f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// One output row of a packed frame: vertical blend first over the contiguous source span the row
// needs (vectorised), then per output pixel one 4-wide lerp of its two blended neighbours, whose
// channels sit side by side; lanes go to the output planes. Padding taps have weight 0.
template <typename Layout>
void packed_row(const uint8_t* r0, const uint8_t* r1, float wy0, float wy1, const int* x0, const int* x1,
                const float* wx0, const float* wx1, int out_size, int span_lo, int span_hi, float* blend,
                const int* rgb_of, const float* scale, const float* bias, float* const* dst) {
  constexpr int bpp = Layout::bpp;
  blend_rows(r0, r1, wy0, wy1, span_lo * bpp, span_hi * bpp, blend);
  if (bpp == 1) {  // gray: one source channel feeds all three planes
    for (int ox = 0; ox < out_size; ++ox) {
      const float v = wx0[ox] * blend[x0[ox]] + wx1[ox] * blend[x1[ox]];
      for (int c = 0; c < 3; ++c) dst[c][ox] = v * scale[c] + bias[c];
    }
    return;
  }
  // Lane j of a pixel holds source byte j; it feeds output plane plane_of[j] (unused lanes: none).
  int plane_of[4] = {-1, -1, -1, -1};
  for (int c = 0; c < 3; ++c) plane_of[Layout::channel[rgb_of[c]]] = c;
  v4f k = {0, 0, 0, 0}, b = {0, 0, 0, 0};
  float* out[3];
  for (int j = 0, n = 0; j < 4; ++j) {
    if (plane_of[j] < 0) continue;
    k[j] = scale[plane_of[j]];
    b[j] = bias[plane_of[j]];
    out[n++] = dst[plane_of[j]];
  }
  // The three used lanes are 0,1,2 in every packed layout (alpha, if any, is lane 3).
  float* __restrict o0 = out[0];
  float* __restrict o1 = out[1];
  float* __restrict o2 = out[2];
  for (int ox = 0; ox < out_size; ++ox) {
    const v4f v = (load4(blend + x0[ox]) * wx0[ox] + load4(blend + x1[ox]) * wx1[ox]) * k + b;
    o0[ox] = v[0];
    o1[ox] = v[1];
    o2[ox] = v[2];
  }
}

}  // namespace

void CropSampler::crop(const FrameView& frame, const CropWindow& window, int out_size,
                       const Normalization& norm, float* base) {
  xs_.resize(out_size);
  ys_.resize(out_size);
  build_taps(window.x0, window.side, out_size, frame.width, xs_.data());
  build_taps(window.y0, window.side, out_size, frame.height, ys_.data());
  x0_.resize(out_size);
  x1_.resize(out_size);
  wx0_.resize(out_size);
  wx1_.resize(out_size);
  // The source columns the taps read, [lo, hi): bounded by the crop window, never by the frame
  // width (a frame may be 2^31 pixels wide). Padding taps (weight 0) point at lo, inside the span.
  int lo = frame.width, hi = 0;
  for (int i = 0; i < out_size; ++i) {
    if (xs_[i].w0 != 0.0f) lo = std::min(lo, xs_[i].i0), hi = std::max(hi, xs_[i].i0 + 1);
    if (xs_[i].w1 != 0.0f) lo = std::min(lo, xs_[i].i1), hi = std::max(hi, xs_[i].i1 + 1);
  }
  if (hi <= lo) lo = 0, hi = 1;  // the window misses the frame: every tap is padding
  const int bpp = bytes_per_pixel(frame.format);
  for (int i = 0; i < out_size; ++i) {
    Tap& t = xs_[i];
    if (t.w0 == 0.0f) t.i0 = lo;
    if (t.w1 == 0.0f) t.i1 = lo;
    // Byte offsets into the blended span, which starts at column lo.
    x0_[i] = (t.i0 - lo) * bpp, x1_[i] = (t.i1 - lo) * bpp;
    wx0_[i] = t.w0, wx1_[i] = t.w1;
  }
  blend_.resize(static_cast<size_t>(hi - lo) * 4 + 4);  // +4: the last pixel's 4-wide load

  // norm.mean/std are in RGB order; the model's channel c holds RGB channel rgb_of[c].
  const int rgb_of[3] = {norm.order == ChannelOrder::RGB ? 0 : 2, 1, norm.order == ChannelOrder::RGB ? 2 : 0};
  float scale[3], bias[3];
  for (int c = 0; c < 3; ++c) {
    scale[c] = 1.0f / (255.0f * norm.std[rgb_of[c]]);
    bias[c] = -norm.mean[rgb_of[c]] / norm.std[rgb_of[c]];
  }

  const size_t plane = static_cast<size_t>(out_size) * out_size;
  for (int oy = 0; oy < out_size; ++oy) {
    const Tap ty = ys_[oy];
    float* dst[3] = {base + static_cast<size_t>(oy) * out_size, base + plane + static_cast<size_t>(oy) * out_size,
                     base + 2 * plane + static_cast<size_t>(oy) * out_size};
    if (frame.format == PixelFormat::NV12) {
      const YuvToRgb yuv = yuv_to_rgb(frame.matrix, frame.range);
      for (int ox = 0; ox < out_size; ++ox) {
        const Tap tx = xs_[ox];
        float a[3], b[3], c[3], d[3];
        nv12_to_rgb(frame, yuv, tx.i0, ty.i0, a);
        nv12_to_rgb(frame, yuv, tx.i1, ty.i0, b);
        nv12_to_rgb(frame, yuv, tx.i0, ty.i1, c);
        nv12_to_rgb(frame, yuv, tx.i1, ty.i1, d);
        for (int ch = 0; ch < 3; ++ch) {
          const int k = rgb_of[ch];
          const float top = tx.w0 * a[k] + tx.w1 * b[k];
          const float bottom = tx.w0 * c[k] + tx.w1 * d[k];
          dst[ch][ox] = (ty.w0 * top + ty.w1 * bottom) * scale[ch] + bias[ch];
        }
      }
      continue;
    }
    const size_t span_start = static_cast<size_t>(lo) * bpp;
    const uint8_t* r0 = frame.data + static_cast<size_t>(frame.stride) * ty.i0 + span_start;
    const uint8_t* r1 = frame.data + static_cast<size_t>(frame.stride) * ty.i1 + span_start;
    const auto row = [&](auto layout) {
      packed_row<decltype(layout)>(r0, r1, ty.w0, ty.w1, x0_.data(), x1_.data(), wx0_.data(), wx1_.data(), out_size, 0, hi - lo,
                                   blend_.data(), rgb_of, scale, bias, dst);
    };
    switch (frame.format) {
      case PixelFormat::RGB: row(Packed<3, 0, 1, 2>{}); break;
      case PixelFormat::BGR: row(Packed<3, 2, 1, 0>{}); break;
      case PixelFormat::RGBA: row(Packed<4, 0, 1, 2>{}); break;
      case PixelFormat::BGRA: row(Packed<4, 2, 1, 0>{}); break;
      case PixelFormat::GRAY: row(Packed<1, 0, 0, 0>{}); break;
      case PixelFormat::NV12: break;
    }
  }
}

}  // namespace ctedge
