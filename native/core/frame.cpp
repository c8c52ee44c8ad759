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

bool parse_color_matrix(const std::string& name, ColorMatrix* out) {
  if (name == "bt601") return *out = ColorMatrix::BT601, true;
  if (name == "bt709") return *out = ColorMatrix::BT709, true;
  return false;
}

bool parse_color_range(const std::string& name, ColorRange* out) {
  if (name == "limited") return *out = ColorRange::Limited, true;
  if (name == "full") return *out = ColorRange::Full, true;
  return false;
}

YuvToRgb yuv_to_rgb(ColorMatrix matrix, ColorRange range) {
  // Kr, Kb: BT.601 0.299, 0.114; BT.709 0.2126, 0.0722. Limited range stretches Y by 255/219 and
  // UV by 255/224; BT.601 limited keeps the customary 3-decimal constants the crop always used.
  if (matrix == ColorMatrix::BT601 && range == ColorRange::Limited) return {16.0f, 1.164f, 1.596f, 0.392f, 0.813f, 2.017f};
  const double kr = matrix == ColorMatrix::BT601 ? 0.299 : 0.2126, kb = matrix == ColorMatrix::BT601 ? 0.114 : 0.0722;
  const double kg = 1.0 - kr - kb;
  const double uv = range == ColorRange::Limited ? 255.0 / 224.0 : 1.0;
  const double rv = 2.0 * (1.0 - kr), bu = 2.0 * (1.0 - kb);
  return {range == ColorRange::Limited ? 16.0f : 0.0f, static_cast<float>(range == ColorRange::Limited ? 255.0 / 219.0 : 1.0),
          static_cast<float>(rv * uv), static_cast<float>(bu * kb / kg * uv), static_cast<float>(rv * kr / kg * uv),
          static_cast<float>(bu * uv)};
}

size_t frame_required_bytes(const FrameView& f) {
  const size_t plane = static_cast<size_t>(f.stride) * static_cast<size_t>(f.height);
  return f.format == PixelFormat::NV12 ? plane + plane / 2 : plane;
}

}  // namespace ctedge
