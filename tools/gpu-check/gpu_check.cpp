// The GPU check: every CUDA crop kernel (native/cuda/preprocess.cu: RGB, BGR, RGBA, BGRA, GRAY and
// NV12 read as BT.601 and BT.709, limited and full range; float32 and float16 outputs, both channel orders) against the CPU crop of the core
// (native/core/crop.cpp) on real frames of the shared sequences and on the synthetic frames of
// test/cuda-preprocess.test.ts, through both ways the addon feeds the kernel: crop_to_host (the
// whole frame, as exports.cuda.cropToTensor) and FrameStager::stage (only the rows the crop reads,
// as the TensorRT tracker). Windows: each frame's box with the template (x2) and search (x4)
// factors, windows hanging off the frame, and that test's fixed windows (the same cases on a
// machine without Node).
// A group's search crops in one launch (crop_normalize_batch_async, 8 windows over one staged frame,
// float32 and float16) are compared the same way. Prints the largest differences per format and exits non-zero beyond
// 1e-5 (float32) or 1 ulp (float16): the tolerance of the host emulation
// (test/native/cuda_emulation_check.cpp). Then it times every kernel on the GPU (CUDA events, the
// frame already on the device): template and search crops, float32 and float16, and the batch of 8.
// Built and run by tools/gpu-check.sh on any machine with an NVIDIA GPU and the CUDA toolkit:
// no Node, no TensorRT. Not part of the addon.
//
//   gpu_check SEQUENCES_DIR [FRAMES_PER_SEQUENCE]     (SEQUENCES_DIR: OTB layout, img/*.jpg + groundtruth_rect.txt)
//   gpu_check --decode IN.jpg OUT.ppm                 (the JPEG decoder alone, no GPU needed)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "../../native/core/crop.h"
#include "../../native/cuda/preprocess.h"
#include "jpeg.h"
#include "kernel_timer.h"

using namespace ctedge;

namespace {

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') names.push_back(e->d_name);
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

struct Box {
  double x, y, w, h;
};

std::vector<Box> read_boxes(const std::string& path) {
  std::ifstream f(path);
  std::vector<Box> boxes;
  std::string line;
  while (std::getline(f, line)) {
    std::replace(line.begin(), line.end(), ',', ' ');
    std::replace(line.begin(), line.end(), '\t', ' ');
    std::istringstream s(line);
    Box b{};
    if (s >> b.x >> b.y >> b.w >> b.h) boxes.push_back(b);
  }
  return boxes;
}

// The frame in `format`, rows padded to a stride that is not the tight one (as camera buffers are).
struct Frame {
  std::vector<uint8_t> data;
  FrameView view;
};

Frame convert(const RgbImage& img, PixelFormat format) {
  Frame f;
  const int w = format == PixelFormat::NV12 ? img.width & ~1 : img.width;
  const int h = format == PixelFormat::NV12 ? img.height & ~1 : img.height;
  const int stride = w * bytes_per_pixel(format) + 24;
  f.view = FrameView{nullptr, w, h, stride, format};
  f.data.assign(frame_required_bytes(f.view), 0);
  const auto rgb = [&](int x, int y) { return &img.rgb[(static_cast<size_t>(y) * img.width + x) * 3]; };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const uint8_t* p = rgb(x, y);
      uint8_t* q = &f.data[static_cast<size_t>(y) * stride + static_cast<size_t>(x) * bytes_per_pixel(format)];
      switch (format) {
        case PixelFormat::RGB: q[0] = p[0], q[1] = p[1], q[2] = p[2]; break;
        case PixelFormat::BGR: q[0] = p[2], q[1] = p[1], q[2] = p[0]; break;
        case PixelFormat::RGBA: q[0] = p[0], q[1] = p[1], q[2] = p[2], q[3] = 255; break;
        case PixelFormat::BGRA: q[0] = p[2], q[1] = p[1], q[2] = p[0], q[3] = 255; break;
        case PixelFormat::GRAY: q[0] = static_cast<uint8_t>(std::lround(0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2])); break;
        case PixelFormat::NV12: q[0] = static_cast<uint8_t>(std::clamp(std::lround(16 + 0.257 * p[0] + 0.504 * p[1] + 0.098 * p[2]), 0L, 255L)); break;
      }
    }
  if (format == PixelFormat::NV12) {  // BT.601 limited range, chroma averaged over each 2x2 block
    uint8_t* uv = f.data.data() + static_cast<size_t>(stride) * h;
    for (int y = 0; y < h; y += 2)
      for (int x = 0; x < w; x += 2) {
        double r = 0, g = 0, b = 0;
        for (int k = 0; k < 4; ++k) {
          const uint8_t* p = rgb(x + (k & 1), y + (k >> 1));
          r += p[0] / 4.0, g += p[1] / 4.0, b += p[2] / 4.0;
        }
        uv[static_cast<size_t>(y / 2) * stride + x] = static_cast<uint8_t>(std::clamp(std::lround(128 - 0.148 * r - 0.291 * g + 0.439 * b), 0L, 255L));
        uv[static_cast<size_t>(y / 2) * stride + x + 1] = static_cast<uint8_t>(std::clamp(std::lround(128 + 0.439 * r - 0.368 * g - 0.071 * b), 0L, 255L));
      }
  }
  f.view.data = f.data.data();
  return f;
}

// TrackState's window: side = ceil(sqrt(w*h) * factor), centred on the box.
CropWindow window_for(const Box& b, double factor) {
  const int side = std::max(1, static_cast<int>(std::ceil(std::sqrt(b.w * b.h) * factor)));
  const double cx = b.x + b.w / 2, cy = b.y + b.h / 2;
  return {static_cast<int>(std::floor(cx - side / 2.0)), static_cast<int>(std::floor(cy - side / 2.0)), side};
}

struct Stats {
  double f32 = 0, staged = 0, batch = 0;  // max |GPU - CPU|: whole frame, staged rows, a group's batched crops
  int f16 = 0;                 // max float16 ulp
  long values = 0, beyond = 0;
};

// The tracker's path: FrameStager copies the rows the crop reads, then the kernel runs on the stream.
void staged_crop(cuda::FrameStager& stager, cuda::Stream& stream, cuda::DeviceBuffer& out, const FrameView& frame, const CropWindow& w,
                 int size, const Normalization& norm, float* host) {
  out.resize(3ull * size * size * sizeof(float));
  const FrameView dev = stager.stage(frame, w, stream.get());
  cuda::crop_normalize_async(dev, w, size, norm, out.get(), false, stream.get());
  cuda::copy_to_host_async(host, out.get(), 3ull * size * size * sizeof(float), stream.get());
  stream.synchronize();
}

// GPU time of every kernel variant on one real frame already on the device (as on a Jetson, where
// the kernel reads the frame in place): the template crop (128), the search crop (256) in float32
// and float16, and a group's 8 search crops in one launch. Microseconds, mean of 200 launches.
template <typename Variant>
void print_kernel_times(const RgbImage& img, const std::vector<Variant>& variants) {
  constexpr int kRepeats = 200;
  std::printf("kernel times on the GPU, %dx%d frame on the device (us, mean of %d):\n", img.width, img.height, kRepeats);
  std::printf("  %-15s %14s %14s %14s %16s\n", "format", "template 128", "search 256", "search fp16", "8 searches fp16");
  cuda::DeviceBuffer frame, out(8ull * 3 * 256 * 256 * sizeof(float));
  for (const Variant& variant : variants) {
    Frame f = convert(img, variant.format);
    f.view.matrix = variant.matrix, f.view.range = variant.range;
    frame.resize(f.data.size());
    cuda::Stream upload;  // done before the timed stream starts (non-blocking streams do not wait on each other)
    cuda::copy_to_device_async(frame.get(), f.data.data(), f.data.size(), upload.get());
    upload.synchronize();
    FrameView dev = f.view;
    dev.data = static_cast<const uint8_t*>(frame.get());
    const Box b{img.width * 0.4, img.height * 0.4, img.width * 0.1, img.height * 0.1};
    const CropWindow t = window_for(b, 2.0), w = window_for(b, 4.0);
    std::vector<CropWindow> group(8, w);
    for (int g = 0; g < 8; ++g) group[g].x0 += g * 8;
    const Normalization norm;
    const auto time = [&](const CropWindow* ws, int count, int size, bool half) {
      return 1000.0 * time_on_stream_ms([&](void* s) { cuda::crop_normalize_batch_async(dev, ws, count, size, norm, out.get(), half, s); }, kRepeats);
    };
    std::printf("  %-15s %14.1f %14.1f %14.1f %16.1f\n", variant.label.c_str(), time(&t, 1, 128, false), time(&w, 1, 256, false),
                time(&w, 1, 256, true), time(group.data(), 8, 256, true));
  }
}

int run(const std::string& dir, int per_sequence) {
  const cuda::DeviceInfo dev = cuda::probe_device();
  if (!dev.available) {
    std::fprintf(stderr, "no usable CUDA device: %s\n", dev.reason.c_str());
    return 2;
  }
  std::printf("GPU %s (sm %d.%d, %s), CUDA runtime %d, driver %d\n", dev.name.c_str(), dev.major, dev.minor,
              dev.integrated ? "integrated" : "discrete", dev.runtime_version, dev.driver_version);
  const PixelFormat formats[] = {PixelFormat::RGB, PixelFormat::BGR, PixelFormat::RGBA, PixelFormat::BGRA, PixelFormat::GRAY, PixelFormat::NV12};
  // NV12 once per colour matrix and range the kernel decodes (the same bytes read four ways).
  struct Variant {
    std::string label;
    PixelFormat format;
    ColorMatrix matrix;
    ColorRange range;
  };
  std::vector<Variant> variants;
  for (PixelFormat format : formats) variants.push_back({pixel_format_name(format), format, ColorMatrix::BT601, ColorRange::Limited});
  variants.push_back({"nv12 bt709", PixelFormat::NV12, ColorMatrix::BT709, ColorRange::Limited});
  variants.push_back({"nv12 bt601 full", PixelFormat::NV12, ColorMatrix::BT601, ColorRange::Full});
  variants.push_back({"nv12 bt709 full", PixelFormat::NV12, ColorMatrix::BT709, ColorRange::Full});
  std::map<std::string, Stats> stats;
  cuda::FrameStager stager;
  cuda::Stream stream;
  cuda::DeviceBuffer out;
  CropSampler cpu;
  int frames = 0;
  RgbImage first_frame;
  // Every frame is checked with its box's template and search windows, windows off its corners,
  // and the fixed windows of test/cuda-preprocess.test.ts (the addon's GPU test: the same cases).
  const auto check_frame = [&](const RgbImage& img, const Box& b) {
    if (frames++ == 0) first_frame = img;
    const std::vector<std::pair<CropWindow, int>> windows = {
        {window_for(b, 2.0), 128}, {window_for(b, 4.0), 256}, {window_for(b, 4.0), 288},
        {{-img.width / 3, -img.height / 4, img.width}, 256},           // off the top-left corner
        {{img.width - 20, img.height - 30, 90}, 64},                    // mostly off the bottom-right
        {{10, 5, 50}, 32}, {{20, 10, 20}, 48}, {{-25, -30, 70}, 40},    // inside down- and upscaled, across the top-left
        {{60, 30, 256}, 128}, {{-300, -200, 1500}, 256}, {{5000, 5000, 30}, 16},  // bottom-right, larger than the frame, wholly outside
    };
    for (const Variant& variant : variants) {
      Frame f = convert(img, variant.format);
      f.view.matrix = variant.matrix, f.view.range = variant.range;
      Stats& s = stats[variant.label];
      for (const auto& [w, size] : windows)
        for (int order = 0; order < 2; ++order) {
          Normalization norm;
          norm.order = order ? ChannelOrder::BGR : ChannelOrder::RGB;
          const size_t n = 3ull * size * size;
          std::vector<float> ref(n), gpu(n), staged(n);
          std::vector<uint16_t> gpu16(n);
          cpu.crop(f.view, w, size, norm, ref.data());
          cuda::crop_to_host(f.view, w, size, norm, gpu.data(), false);
          cuda::crop_to_host(f.view, w, size, norm, gpu16.data(), true);
          staged_crop(stager, stream, out, f.view, w, size, norm, staged.data());
          for (size_t j = 0; j < n; ++j) {
            const double d = std::fabs(static_cast<double>(gpu[j]) - ref[j]), ds = std::fabs(static_cast<double>(staged[j]) - ref[j]);
            const int u = std::abs(static_cast<int>(gpu16[j]) - static_cast<int>(float_to_half(ref[j])));
            s.f32 = std::max(s.f32, d), s.staged = std::max(s.staged, ds), s.f16 = std::max(s.f16, u);
            s.beyond += !(d <= 1e-5) || !(ds <= 1e-5) || u > 1;
          }
          s.values += static_cast<long>(n);
        }
      // A group of 8 targets: search windows around the box, shifted and scaled, one off the
      // frame, cropped in one launch from one staging of their merged rows (TrtGroup's path).
      std::vector<CropWindow> group;
      for (int g = 0; g < 8; ++g) {
        const Box moved{b.x + (g % 3 - 1) * b.w * 0.6 * g, b.y + (g % 2 ? 1 : -1) * b.h * 0.4 * g, b.w * (1 + 0.1 * g), b.h};
        group.push_back(g == 7 ? CropWindow{-img.width / 2, img.height - 10, img.width} : window_for(moved, 4.0));
      }
      const int size = 256, count = static_cast<int>(group.size());
      const size_t n = 3ull * size * size;
      std::vector<float> batch(n * count), ref(n);
      std::vector<uint16_t> batch16(n * count);  // the same launch writing float16, as for FP16 engines
      out.resize(batch.size() * sizeof(float));
      stager.copy_rows(f.view, group.data(), count);
      const FrameView dev = stager.upload(stream.get());
      const Normalization norm;
      cuda::crop_normalize_batch_async(dev, group.data(), count, size, norm, out.get(), false, stream.get());
      cuda::copy_to_host_async(batch.data(), out.get(), batch.size() * sizeof(float), stream.get());
      stream.synchronize();
      cuda::crop_normalize_batch_async(dev, group.data(), count, size, norm, out.get(), true, stream.get());
      cuda::copy_to_host_async(batch16.data(), out.get(), batch16.size() * sizeof(uint16_t), stream.get());
      stream.synchronize();
      for (int g = 0; g < count; ++g) {
        cpu.crop(f.view, group[g], size, norm, ref.data());
        for (size_t j = 0; j < n; ++j) {
          const double d = std::fabs(static_cast<double>(batch[n * g + j]) - ref[j]);
          const int u = std::abs(static_cast<int>(batch16[n * g + j]) - static_cast<int>(float_to_half(ref[j])));
          s.batch = std::max(s.batch, d), s.f16 = std::max(s.f16, u);
          s.beyond += !(d <= 1e-5) || u > 1;
        }
        s.values += static_cast<long>(n);
      }
    }
  };
  for (const std::string& seq : list_dir(dir)) {
    const std::string img_dir = dir + "/" + seq + "/img";
    const std::vector<std::string> images = list_dir(img_dir);
    const std::vector<Box> boxes = read_boxes(dir + "/" + seq + "/groundtruth_rect.txt");
    if (images.empty() || boxes.empty()) continue;
    for (int k = 0; k < per_sequence; ++k) {
      const size_t i = std::min(images.size(), boxes.size()) * k / per_sequence;
      check_frame(read_jpeg(img_dir + "/" + images[i]), boxes[i]);
    }
  }
  const int real_frames = frames;
  // The addon test's synthetic frames: deterministic noise (every tap reads a different value) at
  // an odd small size, VGA and 720p.
  for (const auto& [w, h, seed] : {std::tuple{98, 62, 7u}, std::tuple{320, 240, 1u}, std::tuple{1280, 720, 2u}}) {
    RgbImage noise;
    noise.width = w, noise.height = h;
    noise.rgb.resize(static_cast<size_t>(w) * h * 3);
    uint32_t state = seed;
    for (uint8_t& v : noise.rgb) v = static_cast<uint8_t>((state = state * 1664525u + 1013904223u) >> 24);
    check_frame(noise, Box{w * 0.3, h * 0.3, w * 0.2, h * 0.25});
  }
  if (real_frames == 0) {
    std::fprintf(stderr, "no frames found in %s (expected <sequence>/img/*.jpg and <sequence>/groundtruth_rect.txt)\n", dir.c_str());
    return 2;
  }
  long beyond = 0;
  std::printf("%d frames (%d real, 3 synthetic); GPU crop vs CPU crop, max |difference|:\n", frames, real_frames);
  std::printf("  %-15s %14s %14s %14s %10s %12s\n", "format", "float32", "float32 staged", "batch of 8", "float16", "beyond tol.");
  for (const Variant& variant : variants) {
    const Stats& s = stats[variant.label];
    std::printf("  %-15s %14.3g %14.3g %14.3g %7d ulp %6ld of %ld\n", variant.label.c_str(), s.f32, s.staged, s.batch, s.f16, s.beyond, s.values);
    beyond += s.beyond;
  }
  print_kernel_times(first_frame, variants);
  std::printf("%s\n", beyond == 0 ? "gpu-check: ok" : "gpu-check: FAILED (values beyond 1e-5 float32 / 1 ulp float16)");
  return beyond == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 4 && std::string(argv[1]) == "--decode") {
      const RgbImage img = read_jpeg(argv[2]);
      std::ofstream o(argv[3], std::ios::binary);
      o << "P6\n" << img.width << " " << img.height << "\n255\n";
      o.write(reinterpret_cast<const char*>(img.rgb.data()), static_cast<std::streamsize>(img.rgb.size()));
      return o ? 0 : 1;
    }
    if (argc < 2 || argc > 3) {
      std::fprintf(stderr, "usage: gpu_check SEQUENCES_DIR [FRAMES_PER_SEQUENCE]\n       gpu_check --decode IN.jpg OUT.ppm\n");
      return 2;
    }
    const int per = argc == 3 ? std::atoi(argv[2]) : 4;
    return run(argv[1], per > 0 ? per : 4);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpu-check: %s\n", e.what());
    return 2;
  }
}
