// The one parser of the tracker configuration that TypeScript hands to the addon (NativeTrackerConfig
// and TrtTrackerConfig in ts/deploy/native.ts, filled from the ModelConfig that
// ts/contract/model-config.ts resolves): the CPU NativeTracker (addon.cpp) and the TensorRT
// TrtTracker (tensorrt/tensorrt_binding.cpp) both read it here. Defaults: core/model_contract.h.
#pragma once
#include <napi.h>

#include "../core/model_contract.h"

namespace ctedge {
namespace napi_helpers {

// { templateSize, searchSize, featureSize, templateFactor, searchFactor, mean, std, channelOrder,
//   boxMapping, lostThreshold }, all required; ERR_INVALID_ARGUMENT names a missing or bad field.
// `who` names the caller in the error for a non-object ("NativeTracker needs a config object").
TrackerConfig tracker_config(const Napi::Value& value, const char* who);

// config.names: { template?, search?, score?, size?, offset? }; each name that is not a string, and
// every name when `names` is absent, keeps its default.
TensorNames tensor_names(const Napi::Object& config);

}  // namespace napi_helpers
}  // namespace ctedge
