#include "engine_builder.h"

#include <NvOnnxParser.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "../cuda/preprocess.h"

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
  if (k.rfind("name:", 0) == 0) return safe_string(layer->getName()).find(kind.substr(5)) != std::string::npos;
  const LayerType t = layer->getType();
#if CT_EDGE_TRT_HAS_NORMALIZATION
  if (k == "layernorm" || k == "normalization") return t == LayerType::kNORMALIZATION;
#else
  // No INormalizationLayer before 8.6: a LayerNorm arrives spelled out (ReduceMean/Sub/Pow/Sqrt/Div),
  // and the TypeScript side passes the names of those layers as "name:" kinds instead.
  if (k == "layernorm" || k == "normalization") return false;
#endif
  if (k == "softmax") return t == LayerType::kSOFTMAX;
  if (k == "reduce") return t == LayerType::kREDUCE;  // a LayerNorm exported as ReduceMean/Sub/Pow/Sqrt/Div
  return false;
}

void write_binary(const std::string& path, const void* data, size_t size) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!f) throw CoreError("ERR_IO", "cannot write " + path);
}

// One line per parser error: what, the node (index, name and operator where the parser knows them)
// and where in the parser. Every string may be null.
std::string parser_error_line(const nvonnxparser::IParserError& e) {
  std::string line = safe_string(e.desc()) + " (node " + std::to_string(e.node());
#if NV_TENSORRT_MAJOR >= 10
  const std::string name = safe_string(e.nodeName()), op = safe_string(e.nodeOperator());
  if (!name.empty()) line += " '" + name + "'";
  if (!op.empty()) line += " op " + op;
#endif
  const std::string file = safe_string(e.file()), func = safe_string(e.func());
  if (!file.empty()) line += ", " + file + ":" + std::to_string(e.line());
  if (!func.empty()) line += " " + func;
  return line + ")";
}

// The timing cache to use: the one in `path` when it exists and matches this GPU and TensorRT, else
// a fresh one (a mismatch or a damaged file is a warning, not a failed build).
Ptr<ITimingCache> timing_cache(IBuilderConfig& config, const std::string& path, BuildReport& report, Logger::Capture& capture) {
  const std::vector<char> blob = read_file(path);
  Ptr<ITimingCache> cache;
  if (!blob.empty()) {
    cache.reset(config.createTimingCache(blob.data(), blob.size()));
    if (cache && config.setTimingCache(*cache, /*ignoreMismatch=*/false)) {
      report.timing_cache_loaded = true;
      return cache;
    }
    report.warnings.push_back("the timing cache " + path + " was made for another GPU or TensorRT version, or is damaged (" +
                              capture.errors() + "); starting a fresh one, which will replace it");
  }
  cache.reset(config.createTimingCache(nullptr, 0));
  if (!cache || !config.setTimingCache(*cache, false)) fail("cannot create a timing cache: " + capture.errors());
  return cache;
}

}  // namespace

BuildReport build_engine(const BuildOptions& opt) {
  const auto start = std::chrono::steady_clock::now();
  BuildReport report;
  Logger& log = logger();
  Logger::Capture capture(opt.verbose);
  if (opt.engine_path.empty()) throw CoreError("ERR_INVALID_ARGUMENT", "build_engine needs the engine's path");
  if (!opt.onnx_data && !std::ifstream(opt.onnx_path).good())
    throw CoreError("ERR_MODEL_NOT_FOUND", "ONNX model not found: " + opt.onnx_path);
  if (opt.opt_level > 5) throw CoreError("ERR_INVALID_ARGUMENT", "the builder optimisation level is 0 to 5, got " + std::to_string(opt.opt_level));
#if !CT_EDGE_TRT_HAS_OPT_LEVEL
  if (opt.opt_level >= 0)
    throw CoreError("ERR_INVALID_ARGUMENT", "TensorRT " + compiled_version() + " has no builder optimisation level (it came with 8.6); leave --opt-level out");
#endif

  const cuda::DeviceInfo dev = cuda::probe_device();
  if (!dev.available) throw CoreError("ERR_CUDA", "cannot build a TensorRT engine without a usable CUDA device: " + dev.reason);
  // Fast FP16: every GPU from sm_53 except the sm_61 consumer Pascal parts (TensorRT's own rule;
  // IBuilder::platformHasFastFp16() is deprecated in 10.x and gone in 10.16).
  report.fast_fp16 = (dev.major > 5 || (dev.major == 5 && dev.minor >= 3)) && !(dev.major == 6 && dev.minor == 1);

  Ptr<IBuilder> builder(createInferBuilder(log));
  if (!builder) fail("createInferBuilder failed: " + capture.errors());
#if NV_TENSORRT_MAJOR >= 10
  const uint32_t flags = 0;  // explicit batch is the only mode; TensorRT 11 is strongly typed only
#else
  const uint32_t flags = 1U << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kEXPLICIT_BATCH);
#endif
  Ptr<INetworkDefinition> network(builder->createNetworkV2(flags));
  if (!network) fail("cannot create a TensorRT network: " + capture.errors());
  Ptr<nvonnxparser::IParser> parser(nvonnxparser::createParser(*network, log));
  if (!parser) fail("cannot create the ONNX parser: " + capture.errors());

  const int verbosity = static_cast<int>(opt.verbose ? ILogger::Severity::kINFO : ILogger::Severity::kWARNING);
  const bool parsed = opt.onnx_data ? parser->parse(opt.onnx_data, opt.onnx_size, opt.onnx_path.c_str())
                                    : parser->parseFromFile(opt.onnx_path.c_str(), verbosity);
  std::vector<std::string> parser_errors;
  for (int32_t i = 0; i < parser->getNbErrors(); ++i)
    if (const nvonnxparser::IParserError* e = parser->getError(i)) parser_errors.push_back(parser_error_line(*e));
  if (!parsed || !parser_errors.empty()) {
    std::string msg = "the ONNX parser of TensorRT " + library_version() + " rejected " + opt.onnx_path + ":";
    for (const auto& e : parser_errors) msg += "\n  " + e;
    if (parser_errors.empty()) msg += " " + capture.errors();
    throw CoreError("ERR_ONNX_PARSE", msg);
  }

  Ptr<IBuilderConfig> config(builder->createBuilderConfig());
  if (!config) fail("cannot create a builder configuration: " + capture.errors());
  config->setMemoryPoolLimit(MemoryPoolType::kWORKSPACE, static_cast<size_t>(opt.workspace_mib) << 20);
  // TF32 is on by default on Ampere and later (Orin included), which makes "fp32" layers TF32.
  report.tf32 = opt.tf32;
  if (!opt.tf32) config->clearFlag(BuilderFlag::kTF32);
#if CT_EDGE_TRT_HAS_OPT_LEVEL
  if (opt.opt_level >= 0) config->setBuilderOptimizationLevel(opt.opt_level);
#endif
  report.opt_level = opt.opt_level;

  // Static shapes are expected (the model contract), but for a symbolic batch: with max_batch 1
  // it is pinned to 1 in the network itself (a static engine: every execution context can run it,
  // also on TensorRT < 8.6, which gives a dynamic engine's profile to one context only); above 1,
  // one profile spans 1 to max_batch, timed at max_batch (kOPT): a group at its largest.
  IOptimizationProfile* profile = nullptr;
  for (int32_t i = 0; i < network->getNbInputs(); ++i) {
    ITensor* in = network->getInput(i);
    Dims d = in->getDimensions();
    bool dynamic = false;
    for (int k = 0; k < d.nbDims; ++k)
      if (d.d[k] < 0) {
        if (k != 0)
          throw CoreError("ERR_MODEL_INVALID", "input '" + safe_string(in->getName()) + "' has a dynamic dimension " + dims_string(d) +
                                                   " other than the batch; export the ONNX model with static input sizes");
        d.d[k] = 1, dynamic = true;
      }
    if (!dynamic && opt.max_batch > 1)
      throw CoreError("ERR_INVALID_ARGUMENT", "--max-batch " + std::to_string(opt.max_batch) + ": the model's input '" + safe_string(in->getName()) +
                                                  "' has the fixed shape " + dims_string(d) +
                                                  "; export it with a symbolic batch (ct-edge export; VitTrack: ct-edge import, then export) or leave --max-batch out");
    if (dynamic && opt.max_batch == 1) {
      in->setDimensions(d);
    } else if (dynamic) {
      if (!profile) profile = builder->createOptimizationProfile();
      profile->setDimensions(in->getName(), OptProfileSelector::kMIN, d);
      d.d[0] = opt.max_batch;
      profile->setDimensions(in->getName(), OptProfileSelector::kOPT, d);
      profile->setDimensions(in->getName(), OptProfileSelector::kMAX, d);
    }
  }
  report.max_batch = profile ? opt.max_batch : 1;
  if (profile) config->addOptimizationProfile(profile);
#if NV_TENSORRT_MAJOR == 8 && NV_TENSORRT_MINOR >= 6
  // TensorRT 8.6 lets several execution contexts (trackers, groups) share the batch profile only
  // with this preview feature; 10.0 made it the default; 8.5 has no way.
  CT_EDGE_TRT_DEPRECATED_BEGIN
  if (profile) config->setPreviewFeature(PreviewFeature::kPROFILE_SHARING_0806, true);
  CT_EDGE_TRT_DEPRECATED_END
#endif

#if NV_TENSORRT_MAJOR >= 11
  // TensorRT 11 builds strongly typed networks only: precision comes from the ONNX model's own types
  // (export it in FP16 with LayerNorm/Softmax kept in FP32); kFP16 and per-layer precision are gone.
  if (opt.fp16)
    report.warnings.push_back("TensorRT " + compiled_version() + " builds strongly typed engines: --fp16 is ignored, the "
                              "precision is the ONNX model's (export it in FP16 for an FP16 engine)");
#else
  const bool fp16 = opt.fp16 && report.fast_fp16;
  CT_EDGE_TRT_DEPRECATED_BEGIN
  if (fp16) {
    config->setFlag(BuilderFlag::kFP16);
    // The crop kernel writes half precision straight into FP16 inputs in linear NCHW: no reformat
    // layer in front of the network. (DLA wants its own input formats: those builds keep FP32 inputs.)
    if (opt.dla_core < 0)
      for (int32_t i = 0; i < network->getNbInputs(); ++i) {
        ITensor* in = network->getInput(i);
        in->setType(DataType::kHALF);
        in->setAllowedFormats(1U << static_cast<uint32_t>(TensorFormat::kLINEAR));
      }
    // A template part's outputs are the per-frame engine's inputs, half as well (built the same way).
    if (opt.template_part && opt.dla_core < 0)
      for (int32_t i = 0; i < network->getNbOutputs(); ++i) {
        ITensor* out = network->getOutput(i);
        out->setType(DataType::kHALF);
        out->setAllowedFormats(1U << static_cast<uint32_t>(TensorFormat::kLINEAR));
      }
    for (int32_t i = 0; i < network->getNbLayers(); ++i) {
      ILayer* layer = network->getLayer(i);
      const bool keep = std::any_of(opt.keep_fp32.begin(), opt.keep_fp32.end(),
                                    [&](const std::string& k) { return layer_matches(layer, k); });
      if (!keep) continue;
      layer->setPrecision(DataType::kFLOAT);
      for (int32_t o = 0; o < layer->getNbOutputs(); ++o)
        if (layer->getOutput(o)->getType() == DataType::kFLOAT || layer->getOutput(o)->getType() == DataType::kHALF)
          layer->setOutputType(o, DataType::kFLOAT);
      ++report.fp32_layers;
      report.kept_layers.push_back(safe_string(layer->getName()));
    }
    // PREFER by default: OBEY can keep TensorRT from fusing attention (Softmax between two MatMuls)
    // and fails the build when a kept layer has no FP32 kernel; --obey-precision asks for it.
    if (report.fp32_layers > 0) {
      config->setFlag(opt.obey_precision ? BuilderFlag::kOBEY_PRECISION_CONSTRAINTS : BuilderFlag::kPREFER_PRECISION_CONSTRAINTS);
      // Layer names and formats in the plan, for the inspector below (and for trtexec --dumpLayerInfo).
      config->setProfilingVerbosity(ProfilingVerbosity::kDETAILED);
    }
  }
  CT_EDGE_TRT_DEPRECATED_END
#endif

  if (opt.dla_core >= 0) {
    const int32_t cores = builder->getNbDLACores();
    if (cores == 0)
      throw CoreError("ERR_INVALID_ARGUMENT", "--dla " + std::to_string(opt.dla_core) + ": " + dev.name +
                                                  " has no DLA cores (Jetson AGX Xavier, Xavier NX, AGX Orin and Orin NX have them)");
    if (opt.dla_core >= cores)
      throw CoreError("ERR_INVALID_ARGUMENT", "--dla " + std::to_string(opt.dla_core) + ": this device has " + std::to_string(cores) +
                                                  " DLA core(s), numbered from 0");
#if NV_TENSORRT_MAJOR < 11
    if (!fp16)
      throw CoreError("ERR_INVALID_ARGUMENT", "DLA runs FP16 (or INT8) layers only: build with --fp16 to use --dla");
#endif
    config->setDefaultDeviceType(DeviceType::kDLA);
    config->setDLACore(opt.dla_core);
    config->setFlag(BuilderFlag::kGPU_FALLBACK);  // layers DLA cannot run stay on the GPU
  }
  report.dla_core = opt.dla_core;

  // Timing cache: reuse measured tactics across builds (minutes saved on a Jetson).
  Ptr<ITimingCache> cache;
  if (!opt.timing_cache_path.empty()) cache = timing_cache(*config, opt.timing_cache_path, report, capture);

  Ptr<IHostMemory> plan(builder->buildSerializedNetwork(*network, *config));
  if (!plan || plan->size() == 0) fail("TensorRT could not build the engine: " + capture.errors());
  write_binary(opt.engine_path, plan->data(), plan->size());

  // What the kept layers really run in: the inspector's view of the built engine (deserialised here,
  // once; a failure only costs the report its layer information, never the build).
  if (!report.kept_layers.empty()) {
    Ptr<IRuntime> runtime(createInferRuntime(log));
    Ptr<ICudaEngine> engine(runtime ? runtime->deserializeCudaEngine(plan->data(), plan->size()) : nullptr);
    // Without an execution context whose input shapes are all set, the inspector leaves formats out
    // for an engine with dynamic shapes (a symbolic batch, pinned to 1 by the profile above).
    Ptr<IExecutionContext> context(engine ? engine->createExecutionContext() : nullptr);
    bool shaped = context != nullptr;
    for (int32_t i = 0; shaped && i < engine->getNbIOTensors(); ++i) {
      const char* name = engine->getIOTensorName(i);
      if (engine->getTensorIOMode(name) != TensorIOMode::kINPUT) continue;
      Dims d = engine->getTensorShape(name);
      for (int k = 0; k < d.nbDims; ++k)
        if (d.d[k] < 0) d.d[k] = 1;
      shaped = context->setInputShape(name, d);
    }
    Ptr<IEngineInspector> inspector(engine ? engine->createEngineInspector() : nullptr);
    if (inspector && shaped) inspector->setExecutionContext(context.get());
    const char* info = inspector ? inspector->getEngineInformation(LayerInformationFormat::kJSON) : nullptr;
    if (info) report.layer_information = info;
    else report.warnings.push_back("could not read the built engine's layer information: the precision of the layers kept in FP32 is unchecked");
  }

  if (cache) {
    const ITimingCache* used = config->getTimingCache();
    Ptr<IHostMemory> blob(used ? used->serialize() : nullptr);
    if (blob) {
      write_binary(opt.timing_cache_path, blob->data(), blob->size());
      report.timing_cache_saved = true;
    }
  }

  report.tensorrt_version = library_version();
  report.gpu_name = dev.name;
  report.compute_capability = std::to_string(dev.major) + "." + std::to_string(dev.minor);
#if NV_TENSORRT_MAJOR >= 11
  report.precision = "strongly-typed";
#else
  report.precision = fp16 ? "fp16" : "fp32";
#endif
  for (int32_t i = 0; i < network->getNbInputs(); ++i) {
    ITensor* t = network->getInput(i);
    report.tensors.push_back({safe_string(t->getName()), true, data_type_name(t->getType()), dims_vector(t->getDimensions())});
  }
  for (int32_t i = 0; i < network->getNbOutputs(); ++i) {
    ITensor* t = network->getOutput(i);
    report.tensors.push_back({safe_string(t->getName()), false, data_type_name(t->getType()), dims_vector(t->getDimensions())});
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace trt
}  // namespace ctedge
