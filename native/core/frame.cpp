#include "frame.h"

namespace ctedge {

bool parse_pixel_format(const std::string& name, PixelFormat* out) {
  static const struct { const char* name; PixelFormat format; } kFormats[] = {
      {"rgb", PixelFormat::RGB},   {"bgr", PixelFormat::BGR},   {"rgba", PixelFormat::RGBA},
      {"bgra", PixelFormat::BGRA}, {"gray", PixelFormat::GRAY}, {"nv12", PixelFormat::NV12},
  };
  for (const auto& f : kFormats) {
    if (name == f.name) {
      *out = f.format;
      return true;
    }
  }
  return false;
}

const char* pixel_format_name(PixelFormat f) {
  switch (f) {
    case PixelFormat::RGB: return "rgb";
    case PixelFormat::BGR: return "bgr";
    case PixelFormat::RGBA: return "rgba";
    case PixelFormat::BGRA: return "bgra";
    case PixelFormat::GRAY: return "gray";
    case PixelFormat::NV12: return "nv12";
  }
  return "?";
}

int bytes_per_pixel(PixelFormat f) {
  switch (f) {
    case PixelFormat::RGB:
    case PixelFormat::BGR: return 3;
    case PixelFormat::RGBA:
    case PixelFormat::BGRA: return 4;
    case PixelFormat::GRAY:
    case PixelFormat::NV12: return 1;
  }
  return 0;
}

size_t frame_required_bytes(const FrameView& f) {
  const size_t plane = static_cast<size_t>(f.stride) * static_cast<size_t>(f.height);
  return f.format == PixelFormat::NV12 ? plane + plane / 2 : plane;
}

}  // namespace ctedge
