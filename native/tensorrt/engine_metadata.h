// The JSON file written beside an engine (`student.engine` -> `student.engine.json`): what it was
// built with and for. Loading refuses an engine whose TensorRT version or GPU differs and says how to
// rebuild it, instead of TensorRT's own opaque deserialisation error.
#pragma once
#include <string>
#include <vector>

namespace ctedge {
namespace trt {

struct TensorInfo {
  std::string name;
  bool input = false;
  std::string dtype;         // "float32", "float16", ...
  std::vector<long long> shape;
};

struct EngineMetadata {
  int format_version = 1;
  std::string tensorrt_version;      // "10.3.0" (the library that built it)
  std::string gpu_name;              // "Orin (nvgpu)"
  std::string compute_capability;    // "8.7"
  std::string precision;             // "fp16" or "fp32"
  std::vector<std::string> keep_fp32;  // layer kinds forced to FP32 ("layernorm", "softmax")
  int fp32_layers = 0;               // how many layers that matched
  std::string onnx_path;
  std::string onnx_sha256;
  std::string built_at;              // ISO 8601 UTC
  std::vector<TensorInfo> tensors;

  std::string to_json() const;
  // Parses what to_json() writes (a small JSON reader; unknown keys are ignored). Throws CoreError.
  static EngineMetadata from_json(const std::string& text);
};

std::string metadata_path_for(const std::string& engine_path);  // engine + ".json"
void write_text_file(const std::string& path, const std::string& text);
std::string read_text_file(const std::string& path);  // throws CoreError("ERR_IO")

// Throws CoreError("ERR_ENGINE_MISMATCH") when the engine was built by another TensorRT version or
// for a GPU of another compute capability; the message names both and the rebuild command.
void check_engine_compatible(const EngineMetadata& meta, const std::string& engine_path,
                             const std::string& runtime_trt_version, const std::string& gpu_name,
                             const std::string& compute_capability);

}  // namespace trt
}  // namespace ctedge
