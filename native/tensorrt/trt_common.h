// Shared pieces of the TensorRT backend: version helpers, the logger, ownership of TensorRT objects.
// Written against the TensorRT 10 API; `#if NV_TENSORRT_MAJOR < 10` marks what differs on 8.5/8.6
// (JetPack 5). TensorRT < 8.5 lacks named I/O tensors and enqueueV3 and is refused by CMake.
#pragma once
#include <NvInfer.h>
#include <NvInferVersion.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../core/errors.h"

#if NV_TENSORRT_MAJOR < 8 || (NV_TENSORRT_MAJOR == 8 && NV_TENSORRT_MINOR < 5)
#error "ct-edge needs TensorRT >= 8.5 (named I/O tensors, enqueueV3)"
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

// Collects TensorRT's messages: warnings and errors go to stderr (prefixed) unless quiet; errors are
// also kept so that a failure can say what TensorRT said.
class Logger : public nvinfer1::ILogger {
 public:
  explicit Logger(Severity level = Severity::kWARNING) : level_(level) {}
  void log(Severity severity, const char* msg) noexcept override;
  void set_level(Severity level) { level_ = level; }
  // Errors since the last call, joined with "; ".
  std::string take_errors();

 private:
  Severity level_;
  std::mutex mutex_;
  std::vector<std::string> errors_;
};

Logger& logger();  // the process-wide logger shared by builders and runtimes

const char* data_type_name(nvinfer1::DataType t);
size_t data_type_size(nvinfer1::DataType t);
std::string dims_string(const nvinfer1::Dims& d);  // "[1,3,256,256]"
int64_t volume(const nvinfer1::Dims& d);

}  // namespace trt
}  // namespace ctedge
