// Frame views: an 8-bit image in caller-owned memory, described, never copied.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace ctedge {

enum class PixelFormat { RGB, BGR, RGBA, BGRA, GRAY, NV12 };

// Parses "rgb", "bgr", "rgba", "bgra", "gray", "nv12"; returns false for anything else.
bool parse_pixel_format(const std::string& name, PixelFormat* out);
const char* pixel_format_name(PixelFormat f);
// Bytes per pixel of the first (or only) plane: 3, 4, 1, or 1 for NV12's luma plane.
int bytes_per_pixel(PixelFormat f);

// How NV12's YUV values map to RGB: the colour matrix (BT.601 for SD and most camera pipelines,
// BT.709 for HD video and hardware decoders) and the range (limited: Y 16-235, UV 16-240; full: 0-255).
enum class ColorMatrix { BT601, BT709 };
enum class ColorRange { Limited, Full };
bool parse_color_matrix(const std::string& name, ColorMatrix* out);
bool parse_color_range(const std::string& name, ColorRange* out);

// R = ys * (Y - yo) + rv * V;  G = ys * (Y - yo) - gu * U - gv * V;  B = ys * (Y - yo) + bu * U,
// with U and V centred on 128. The CPU crop and the CUDA kernels evaluate exactly this.
struct YuvToRgb {
  float y_offset, y_scale, rv, gu, gv, bu;
};
YuvToRgb yuv_to_rgb(ColorMatrix matrix, ColorRange range);

struct FrameView {
  const uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  int stride = 0;  // bytes per row; for NV12 the luma and the interleaved chroma plane share it
  PixelFormat format = PixelFormat::RGB;
  ColorMatrix matrix = ColorMatrix::BT601;  // NV12 only
  ColorRange range = ColorRange::Limited;   // NV12 only
};

// Bytes a frame of this shape needs: stride*height, plus stride*height/2 for NV12's chroma plane.
size_t frame_required_bytes(const FrameView& f);

}  // namespace ctedge
