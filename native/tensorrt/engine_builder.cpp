#include "engine_builder.h"

#include <NvOnnxParser.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>

#include "sha256.h"
#include "trt_common.h"

namespace ctedge {
namespace trt {
namespace {

using namespace nvinfer1;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool layer_matches(ILayer* layer, const std::string& kind) {
  const std::string k = lower(kind);
  if (k.rfind("name:", 0) == 0) return std::string(layer->getName()).find(kind.substr(5)) != std::string::npos;
  const LayerType t = layer->getType();
  if (k == "layernorm" || k == "normalization") return t == LayerType::kNORMALIZATION;
  if (k == "softmax") return t == LayerType::kSOFTMAX;
  if (k == "reduce") return t == LayerType::kREDUCE;  // a LayerNorm exported as ReduceMean/Sub/Pow/Sqrt/Div
  return false;
}

std::string now_iso8601() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::vector<char> read_binary(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  return std::vector<char>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_binary(const std::string& path, const void* data, size_t size) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!f) throw CoreError("ERR_IO", "cannot write " + path);
}

std::vector<long long> dims_vector(const Dims& d) {
  std::vector<long long> v;
  for (int i = 0; i < d.nbDims; ++i) v.push_back(d.d[i]);
  return v;
}

}  // namespace

BuildReport build_engine(const BuildOptions& opt) {
  const auto start = std::chrono::steady_clock::now();
  BuildReport report;
  Logger& log = logger();
  log.set_level(opt.verbose ? ILogger::Severity::kINFO : ILogger::Severity::kWARNING);
  log.take_errors();
  std::string engine_path = opt.engine_path;
  if (engine_path.empty()) {
    const size_t dot = opt.onnx_path.rfind('.');
    engine_path = (dot == std::string::npos ? opt.onnx_path : opt.onnx_path.substr(0, dot)) + ".engine";
  }

  if (!std::ifstream(opt.onnx_path).good()) throw CoreError("ERR_MODEL_NOT_FOUND", "ONNX model not found: " + opt.onnx_path);
  int device = 0;
  cudaDeviceProp prop;
  if (cudaGetDevice(&device) != cudaSuccess || cudaGetDeviceProperties(&prop, device) != cudaSuccess)
    fail("no usable CUDA device to build a TensorRT engine for");
  // Fast FP16: every GPU from sm_53 except the sm_61 consumer Pascal parts (TensorRT's own rule;
  // IBuilder::platformHasFastFp16() is deprecated in 10.x and gone in 10.16).
  report.fast_fp16 = (prop.major > 5 || (prop.major == 5 && prop.minor >= 3)) && !(prop.major == 6 && prop.minor == 1);

  Ptr<IBuilder> builder(createInferBuilder(log));
  if (!builder) fail("createInferBuilder failed: " + log.take_errors());
#if NV_TENSORRT_MAJOR >= 11
  // TensorRT 11 builds strongly typed networks only: precision comes from the ONNX model's own types
  // (export it in FP16 with LayerNorm/Softmax kept in FP32); kFP16 and per-layer precision are gone.
  const uint32_t flags = 0;  // strongly typed is the only mode (the kSTRONGLY_TYPED flag is ignored)
#elif NV_TENSORRT_MAJOR >= 10
  const uint32_t flags = 0;  // explicit batch is the only mode
#else
  const uint32_t flags = 1U << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kEXPLICIT_BATCH);
#endif
  Ptr<INetworkDefinition> network(builder->createNetworkV2(flags));
  Ptr<nvonnxparser::IParser> parser(nvonnxparser::createParser(*network, log));
  if (!network || !parser) fail("cannot create a TensorRT network or ONNX parser: " + log.take_errors());

  const bool parsed = parser->parseFromFile(opt.onnx_path.c_str(), static_cast<int>(opt.verbose ? ILogger::Severity::kINFO
                                                                                                 : ILogger::Severity::kWARNING));
  for (int32_t i = 0; i < parser->getNbErrors(); ++i) {
    const nvonnxparser::IParserError* e = parser->getError(i);
    std::string line = std::string(e->desc()) + " (node " + std::to_string(e->node());
#if NV_TENSORRT_MAJOR >= 10
    if (e->nodeName() && *e->nodeName()) line += " '" + std::string(e->nodeName()) + "'";
    if (e->nodeOperator() && *e->nodeOperator()) line += " op " + std::string(e->nodeOperator());
#endif
    line += ", " + std::string(e->file()) + ":" + std::to_string(e->line()) + " " + e->func() + ")";
    report.parser_errors.push_back(line);
  }
  if (!parsed || !report.parser_errors.empty()) {
    std::string msg = "the ONNX parser rejected " + opt.onnx_path + ":";
    for (const auto& e : report.parser_errors) msg += "\n  " + e;
    if (report.parser_errors.empty()) msg += " " + log.take_errors();
    throw CoreError("ERR_ONNX_PARSE", msg);
  }

  Ptr<IBuilderConfig> config(builder->createBuilderConfig());
  config->setMemoryPoolLimit(MemoryPoolType::kWORKSPACE, static_cast<size_t>(opt.workspace_mib) << 20);

  // Static shapes are expected (the model contract); a dynamic batch is pinned to 1 by a profile.
  IOptimizationProfile* profile = nullptr;
  for (int32_t i = 0; i < network->getNbInputs(); ++i) {
    ITensor* in = network->getInput(i);
    Dims d = in->getDimensions();
    bool dynamic = false;
    for (int k = 0; k < d.nbDims; ++k)
      if (d.d[k] < 0) {
        if (k != 0) fail(std::string("input '") + in->getName() + "' has a dynamic dimension " + dims_string(d) +
                         " other than the batch; export the ONNX model with static input sizes");
        d.d[k] = 1, dynamic = true;
      }
    if (dynamic) {
      if (!profile) profile = builder->createOptimizationProfile();
      profile->setDimensions(in->getName(), OptProfileSelector::kMIN, d);
      profile->setDimensions(in->getName(), OptProfileSelector::kOPT, d);
      profile->setDimensions(in->getName(), OptProfileSelector::kMAX, d);
    }
  }
  if (profile) config->addOptimizationProfile(profile);

#if NV_TENSORRT_MAJOR >= 11
  const bool fp16 = false;
  int kept = 0;
  if (opt.fp16)
    std::fprintf(stderr, "[ct-edge tensorrt warning] TensorRT %s builds strongly typed engines: --fp16 is ignored, the "
                         "precision is the ONNX model's (export it in FP16 for an FP16 engine)\n", compiled_version().c_str());
#else
  const bool fp16 = opt.fp16 && report.fast_fp16;
  int kept = 0;
  CT_EDGE_TRT_DEPRECATED_BEGIN
  if (fp16) {
    config->setFlag(BuilderFlag::kFP16);
    for (int32_t i = 0; i < network->getNbLayers(); ++i) {
      ILayer* layer = network->getLayer(i);
      const bool keep = std::any_of(opt.keep_fp32.begin(), opt.keep_fp32.end(),
                                    [&](const std::string& k) { return layer_matches(layer, k); });
      if (!keep) continue;
      layer->setPrecision(DataType::kFLOAT);
      for (int32_t o = 0; o < layer->getNbOutputs(); ++o)
        if (layer->getOutput(o)->getType() == DataType::kFLOAT || layer->getOutput(o)->getType() == DataType::kHALF)
          layer->setOutputType(o, DataType::kFLOAT);
      ++kept;
    }
    if (kept > 0)
      config->setFlag(opt.obey_precision ? BuilderFlag::kOBEY_PRECISION_CONSTRAINTS : BuilderFlag::kPREFER_PRECISION_CONSTRAINTS);
  }
  CT_EDGE_TRT_DEPRECATED_END
#endif

  // Timing cache: reuse measured tactics across builds (minutes saved on a Jetson).
  Ptr<ITimingCache> cache;
  if (!opt.timing_cache_path.empty()) {
    const std::vector<char> blob = read_binary(opt.timing_cache_path);
    cache.reset(config->createTimingCache(blob.empty() ? nullptr : blob.data(), blob.size()));
    if (!cache) fail("cannot create a timing cache: " + log.take_errors());
    report.timing_cache_loaded = !blob.empty();
    if (!config->setTimingCache(*cache, /*ignoreMismatch=*/false))
      fail("the timing cache " + opt.timing_cache_path + " does not match this GPU/TensorRT; delete it: " + log.take_errors());
  }

  Ptr<IHostMemory> plan(builder->buildSerializedNetwork(*network, *config));
  if (!plan || plan->size() == 0) fail("TensorRT could not build the engine: " + log.take_errors());
  write_binary(engine_path, plan->data(), plan->size());

  if (cache) {
    const ITimingCache* used = config->getTimingCache();
    Ptr<IHostMemory> blob(used ? used->serialize() : nullptr);
    if (blob) {
      write_binary(opt.timing_cache_path, blob->data(), blob->size());
      report.timing_cache_saved = true;
    }
  }

  EngineMetadata& m = report.metadata;
  m.tensorrt_version = library_version();
  m.gpu_name = prop.name;
  m.compute_capability = std::to_string(prop.major) + "." + std::to_string(prop.minor);
#if NV_TENSORRT_MAJOR >= 11
  m.precision = "strongly-typed";
#else
  m.precision = fp16 ? "fp16" : "fp32";
#endif
  if (fp16) m.keep_fp32 = opt.keep_fp32;
  m.fp32_layers = kept;
  m.onnx_path = opt.onnx_path;
  m.onnx_sha256 = sha256_file(opt.onnx_path);
  m.built_at = now_iso8601();
  for (int32_t i = 0; i < network->getNbInputs(); ++i) {
    ITensor* t = network->getInput(i);
    m.tensors.push_back({t->getName(), true, data_type_name(t->getType()), dims_vector(t->getDimensions())});
  }
  for (int32_t i = 0; i < network->getNbOutputs(); ++i) {
    ITensor* t = network->getOutput(i);
    m.tensors.push_back({t->getName(), false, data_type_name(t->getType()), dims_vector(t->getDimensions())});
  }
  report.metadata_path = metadata_path_for(engine_path);
  write_text_file(report.metadata_path, m.to_json());
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace trt
}  // namespace ctedge
