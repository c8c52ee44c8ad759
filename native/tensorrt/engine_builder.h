// `ct-edge build-engine`: ONNX -> TensorRT engine. Plain values in and out: the TypeScript side
// (ts/deploy/tensorrt.ts) reads the model, rewrites it for old parsers, hashes it and writes the
// metadata file beside the engine from the BuildReport.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "trt_common.h"

namespace ctedge {
namespace trt {

struct BuildOptions {
  std::string onnx_path;               // messages, and the folder of external weights
  const void* onnx_data = nullptr;     // the model's bytes when given in memory (e.g. LayerNorm spelled out
  size_t onnx_size = 0;                // for TensorRT < 8.6); else the parser reads onnx_path
  std::string engine_path;             // where the serialised engine goes
  bool fp16 = true;                    // used only when the GPU has fast FP16
  bool tf32 = false;                   // TF32 tensor cores for FP32 layers (TensorRT enables them by default)
  size_t workspace_mib = 1024;         // memory pool limit (kWORKSPACE)
  std::string timing_cache_path;       // loaded when it exists and matches, saved after the build
  // Layer kinds kept in FP32 in an FP16 engine: "layernorm" (INormalizationLayer, i.e. ONNX
  // LayerNormalization, on TensorRT >= 8.6), "softmax", "reduce", or "name:SUBSTRING" of a layer name.
  std::vector<std::string> keep_fp32 = {"layernorm", "softmax"};
  bool obey_precision = false;         // kOBEY_PRECISION_CONSTRAINTS, else kPREFER_PRECISION_CONSTRAINTS
  int dla_core = -1;                   // >= 0: default device DLA core N, with GPU fallback
  int opt_level = -1;                  // builder optimisation level 0..5 (TensorRT >= 8.6); -1: TensorRT's default
  int max_batch = 1;                   // a symbolic batch's profile: 1..max_batch (a TrackerGroup's targets per enqueue)
  bool template_part = false;          // a two-part model's template part: FP16 outputs where the inputs are FP16
  bool verbose = false;
};

struct BuildReport {
  std::string tensorrt_version;        // the library that built it
  std::string gpu_name;
  std::string compute_capability;      // "8.7"
  std::string precision;               // "fp16", "fp32" or "strongly-typed" (TensorRT 11)
  bool tf32 = false;
  int dla_core = -1;
  int opt_level = -1;
  int max_batch = 1;                   // the profile's largest batch (1: fixed or pinned)
  int fp32_layers = 0;                 // layers that matched keep_fp32
  std::vector<std::string> kept_layers;  // their names in the network
  // With kept layers: IEngineInspector's per-layer information of the built engine (JSON, detailed
  // verbosity), in which each engine layer's output format says the precision it really runs in
  // (PREFER lets fusion ignore a kept layer's FP32). Empty when there is none.
  std::string layer_information;
  std::vector<TensorInfo> tensors;
  bool fast_fp16 = false;
  bool timing_cache_loaded = false;
  bool timing_cache_saved = false;
  std::vector<std::string> warnings;   // e.g. a timing cache that did not match and was started afresh
  double seconds = 0;
};

// Throws CoreError: "ERR_ONNX_PARSE" (with every parser error and its node), "ERR_TENSORRT",
// "ERR_CUDA" (no usable device), "ERR_INVALID_ARGUMENT" (options this TensorRT or GPU cannot honour),
// "ERR_MODEL_NOT_FOUND", "ERR_IO".
BuildReport build_engine(const BuildOptions& options);

}  // namespace trt
}  // namespace ctedge
