// `ct-edge build-engine`: ONNX -> TensorRT engine (+ metadata JSON beside it).
#pragma once
#include <string>
#include <vector>

#include "engine_metadata.h"

namespace ctedge {
namespace trt {

struct BuildOptions {
  std::string onnx_path;
  std::string engine_path;             // default: onnx path with ".engine"
  bool fp16 = true;                    // used only when the GPU has fast FP16
  size_t workspace_mib = 1024;         // memory pool limit (kWORKSPACE)
  std::string timing_cache_path;       // loaded when it exists, saved after the build
  // Layer kinds kept in FP32 in an FP16 engine: "layernorm" (INormalizationLayer, i.e. ONNX
  // LayerNormalization), "softmax", or any substring of a layer's name prefixed with "name:".
  std::vector<std::string> keep_fp32 = {"layernorm", "softmax"};
  bool obey_precision = true;          // kOBEY_PRECISION_CONSTRAINTS, else kPREFER_PRECISION_CONSTRAINTS
  bool verbose = false;
};

struct BuildReport {
  EngineMetadata metadata;
  std::string metadata_path;
  std::vector<std::string> parser_errors;  // empty on success
  bool fast_fp16 = false;
  bool timing_cache_loaded = false;
  bool timing_cache_saved = false;
  double seconds = 0;
};

// Throws CoreError: "ERR_ONNX_PARSE" (with every parser error and its node), "ERR_TENSORRT", "ERR_IO".
BuildReport build_engine(const BuildOptions& options);

}  // namespace trt
}  // namespace ctedge
