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

struct FrameView {
  const uint8_t* data = nullptr;
  int width = 0;
  int height = 0;
  int stride = 0;  // bytes per row; for NV12 the luma and the interleaved chroma plane share it
  PixelFormat format = PixelFormat::RGB;
};

// Bytes a frame of this shape needs: stride*height, plus stride*height/2 for NV12's chroma plane.
size_t frame_required_bytes(const FrameView& f);

}  // namespace ctedge
