// A stand-in for libnvonnxparser (see nvinfer_standin.cpp): the parser factory only, returning null.
#include <NvOnnxParser.h>

extern "C" TENSORRTAPI void* createNvOnnxParser_INTERNAL(void*, void* logger, int) noexcept {
  if (logger)
    static_cast<nvinfer1::ILogger*>(logger)->log(nvinfer1::ILogger::Severity::kERROR, "stand-in libnvonnxparser: no ONNX parser here");
  return nullptr;
}

extern "C" TENSORRTAPI int getNvOnnxParserVersion() noexcept {
  return NV_TENSORRT_MAJOR * (NV_TENSORRT_MAJOR >= 10 ? 10000 : 1000) + NV_TENSORRT_MINOR * 100 + NV_TENSORRT_PATCH;
}
