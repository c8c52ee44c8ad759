// Shared pieces of the TensorRT backend: version helpers, the logger, ownership of TensorRT objects.
// Written against the TensorRT 10 API; `#if NV_TENSORRT_MAJOR < 10` marks what differs on 8.5/8.6
// (JetPack 5 and 6.0). TensorRT < 8.5 lacks named I/O tensors and enqueueV3 and is refused by CMake.
#pragma once
#include <NvInfer.h>
#include <NvInferVersion.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../core/errors.h"

#if NV_TENSORRT_MAJOR < 8 || (NV_TENSORRT_MAJOR == 8 && NV_TENSORRT_MINOR < 5)
#error "ct-edge needs TensorRT >= 8.5 (named I/O tensors, enqueueV3)"
#endif

// TensorRT 8.6 added INormalizationLayer (LayerType::kNORMALIZATION), the ONNX parser's
// LayerNormalization importer and IBuilderConfig::setBuilderOptimizationLevel.
#if NV_TENSORRT_MAJOR > 8 || (NV_TENSORRT_MAJOR == 8 && NV_TENSORRT_MINOR >= 6)
#define CT_EDGE_TRT_HAS_NORMALIZATION 1
#define CT_EDGE_TRT_HAS_OPT_LEVEL 1
#else
#define CT_EDGE_TRT_HAS_NORMALIZATION 0
#define CT_EDGE_TRT_HAS_OPT_LEVEL 0
#endif

// Weakly typed builds (kFP16 + per-layer precision) are deprecated from TensorRT 10.12 in favour of
// strongly typed networks, but remain the documented way to get a mixed FP16/FP32 engine from an
// FP32 ONNX file on 10.x; keep the warnings out of the build log where we use them on purpose.
#if defined(__GNUC__)
#define CT_EDGE_TRT_DEPRECATED_BEGIN _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wdeprecated-declarations\"")
#define CT_EDGE_TRT_DEPRECATED_END _Pragma("GCC diagnostic pop")
#else
#define CT_EDGE_TRT_DEPRECATED_BEGIN
#define CT_EDGE_TRT_DEPRECATED_END
#endif

namespace ctedge {
namespace trt {

// TensorRT objects are deleted with `delete` since 8.0 (destroy() is gone in 10).
template <typename T>
using Ptr = std::unique_ptr<T>;

// "10.3.0": the headers this file was compiled with.
std::string compiled_version();
// The version of the libnvinfer actually loaded (getInferLibVersion()).
std::string library_version();

// Throws CoreError with code "ERR_TENSORRT".
[[noreturn]] void fail(const std::string& message);

// One tensor of an engine or network, as plain values.
struct TensorInfo {
  std::string name;
  bool input = false;
  std::string dtype;  // "float32", "float16", ...
  std::vector<long long> shape;  // -1 for a dynamic dimension
};

// The process-wide ILogger given to every builder, runtime and parser (TensorRT allows one logger
// for several of them and requires it to be thread safe). Each operation (a build, a load, a frame)
// opens a Capture on its own thread: TensorRT's messages logged on that thread go to that capture,
// so two builds or a build and a tracker on other threads never read or print each other's errors,
// and a verbose build does not make a concurrent one verbose. Messages logged on threads without a
// capture (TensorRT's own workers) are printed at the default level and kept in a short shared list
// that a capture reads only when it saw no error of its own.
class Logger : public nvinfer1::ILogger {
 public:
  void log(Severity severity, const char* msg) noexcept override;

  class Capture {
   public:
    explicit Capture(bool verbose = false);
    ~Capture();
    Capture(const Capture&) = delete;
    Capture& operator=(const Capture&) = delete;
    // This thread's errors since the capture opened (else those of other threads), joined with "; ".
    std::string errors() const;

   private:
    friend class Logger;
    bool verbose_;
    Capture* outer_;
    std::vector<std::string> errors_;
  };

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> unclaimed_;  // errors logged outside any capture (bounded)
  friend class Capture;
};

Logger& logger();  // the process-wide logger shared by builders and runtimes

const char* data_type_name(nvinfer1::DataType t);
size_t data_type_size(nvinfer1::DataType t);
std::string dims_string(const nvinfer1::Dims& d);  // "[1,3,256,256]"
std::vector<long long> dims_vector(const nvinfer1::Dims& d);
int64_t volume(const nvinfer1::Dims& d);

// A whole file in one sized read (engine plans and timing caches run to hundreds of MB); empty
// when the file cannot be opened.
std::vector<char> read_file(const std::string& path);
// "" for null: TensorRT's parser and log may hand out null strings.
inline std::string safe_string(const char* s) { return s ? std::string(s) : std::string(); }

}  // namespace trt
}  // namespace ctedge
