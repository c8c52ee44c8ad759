#include "trt_common.h"

#include <cstdio>
#include <fstream>

namespace ctedge {
namespace trt {

std::string compiled_version() {
  return std::to_string(NV_TENSORRT_MAJOR) + "." + std::to_string(NV_TENSORRT_MINOR) + "." +
         std::to_string(NV_TENSORRT_PATCH);
}

std::string library_version() {
  const int32_t v = getInferLibVersion();
  // TensorRT 10 encodes major*10000 + minor*100 + patch; 8.x encoded major*1000 + minor*100 + patch.
  int major, minor, patch;
  if (v >= 100000) {
    major = v / 10000, minor = (v / 100) % 100, patch = v % 100;
  } else {
    major = v / 1000, minor = (v / 100) % 10, patch = v % 100;
  }
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

void fail(const std::string& message) { throw CoreError("ERR_TENSORRT", message); }

namespace {
thread_local Logger::Capture* current_capture = nullptr;
constexpr size_t kUnclaimedLimit = 16;
}  // namespace

Logger::Capture::Capture(bool verbose) : verbose_(verbose), outer_(current_capture) { current_capture = this; }

Logger::Capture::~Capture() { current_capture = outer_; }

std::string Logger::Capture::errors() const {
  std::string out;
  for (const auto& e : errors_) out += (out.empty() ? "" : "; ") + e;
  if (!out.empty()) return out;
  Logger& log = logger();
  std::lock_guard<std::mutex> lock(log.mutex_);
  for (const auto& e : log.unclaimed_) out += (out.empty() ? "" : "; ") + e;
  return out.empty() ? "TensorRT logged no error" : "TensorRT errors on other threads: " + out;
}

void Logger::log(Severity severity, const char* msg) noexcept {
  try {
    const std::string text = safe_string(msg);
    Capture* capture = current_capture;
    if (severity <= Severity::kERROR) {
      if (capture) {
        capture->errors_.push_back(text);
      } else {
        std::lock_guard<std::mutex> lock(mutex_);
        if (unclaimed_.size() >= kUnclaimedLimit) unclaimed_.erase(unclaimed_.begin());
        unclaimed_.push_back(text);
      }
    }
    const Severity level = capture && capture->verbose_ ? Severity::kINFO : Severity::kWARNING;
    if (severity > level) return;
    const char* tag = severity <= Severity::kERROR ? "error" : severity == Severity::kWARNING ? "warning" : "info";
    std::fprintf(stderr, "[ct-edge tensorrt %s] %s\n", tag, text.c_str());
  } catch (...) {
    // log() is noexcept for TensorRT: an allocation failure here loses the message, nothing more
  }
}

Logger& logger() {
  static Logger instance;
  return instance;
}

const char* data_type_name(nvinfer1::DataType t) {
  using nvinfer1::DataType;
  switch (t) {
    case DataType::kFLOAT: return "float32";
    case DataType::kHALF: return "float16";
    case DataType::kINT8: return "int8";
    case DataType::kINT32: return "int32";
    case DataType::kBOOL: return "bool";
    case DataType::kUINT8: return "uint8";
#if NV_TENSORRT_MAJOR >= 9 || (NV_TENSORRT_MAJOR == 8 && NV_TENSORRT_MINOR >= 6)
    case DataType::kFP8: return "fp8";
#endif
#if NV_TENSORRT_MAJOR >= 10
    case DataType::kBF16: return "bfloat16";
    case DataType::kINT64: return "int64";
    case DataType::kINT4: return "int4";
#endif
    default: return "other";
  }
}

size_t data_type_size(nvinfer1::DataType t) {
  using nvinfer1::DataType;
  switch (t) {
    case DataType::kFLOAT:
    case DataType::kINT32: return 4;
    case DataType::kHALF: return 2;
#if NV_TENSORRT_MAJOR >= 10
    case DataType::kBF16: return 2;
    case DataType::kINT64: return 8;
#endif
    default: return 1;
  }
}

std::string dims_string(const nvinfer1::Dims& d) {
  std::string s = "[";
  for (int i = 0; i < d.nbDims; ++i) s += (i ? "," : "") + std::to_string(d.d[i]);
  return s + "]";
}

std::vector<long long> dims_vector(const nvinfer1::Dims& d) {
  std::vector<long long> v;
  for (int i = 0; i < d.nbDims; ++i) v.push_back(d.d[i]);
  return v;
}

std::vector<char> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) return {};
  const std::streamoff size = f.tellg();
  if (size <= 0) return {};
  std::vector<char> blob(static_cast<size_t>(size));
  f.seekg(0);
  if (!f.read(blob.data(), size)) return {};
  return blob;
}

int64_t volume(const nvinfer1::Dims& d) {
  int64_t v = 1;
  for (int i = 0; i < d.nbDims; ++i) v *= d.d[i];
  return v;
}

}  // namespace trt
}  // namespace ctedge
