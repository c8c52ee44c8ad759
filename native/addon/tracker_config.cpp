#include "tracker_config.h"

#include <string>

#include "napi_helpers.h"

namespace ctedge {
namespace napi_helpers {

TrackerConfig tracker_config(const Napi::Value& value, const char* who) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) throw_coded(env, "ERR_INVALID_ARGUMENT", std::string(who) + " needs a config object");
  const Napi::Object cfg = value.As<Napi::Object>();
  TrackerConfig c;
  c.template_size = int_field(cfg, "templateSize", "config");
  c.search_size = int_field(cfg, "searchSize", "config");
  c.feature_size = int_field(cfg, "featureSize", "config");
  c.template_factor = number_field(cfg, "templateFactor", "config");
  c.search_factor = number_field(cfg, "searchFactor", "config");
  c.lost_threshold = static_cast<float>(number_field(cfg, "lostThreshold", "config"));
  c.norm = normalization(cfg);
  const std::string mapping = cfg.Get("boxMapping").ToString().Utf8Value();
  if (mapping != "ostrack" && mapping != "opencv")
    throw_coded(env, "ERR_INVALID_ARGUMENT", "boxMapping must be 'ostrack' or 'opencv', got '" + mapping + "'");
  c.mapping = mapping == "ostrack" ? BoxMapping::OSTrack : BoxMapping::OpenCV;
  if (c.template_size <= 0 || c.search_size <= 0 || c.feature_size <= 0)
    throw_coded(env, "ERR_INVALID_ARGUMENT", "templateSize, searchSize and featureSize must be positive");
  if (!(c.template_factor > 0) || !(c.search_factor > 0))
    throw_coded(env, "ERR_INVALID_ARGUMENT", "templateFactor and searchFactor must be positive");
  return c;
}

TensorNames tensor_names(const Napi::Object& config) {
  TensorNames names;
  const Napi::Value value = config.Get("names");
  if (!value.IsObject()) return names;
  const Napi::Object n = value.As<Napi::Object>();
  const auto name = [&](const char* key, std::string* out) {
    if (n.Get(key).IsString()) *out = n.Get(key).ToString().Utf8Value();
  };
  name("template", &names.template_input);
  name("search", &names.search_input);
  name("score", &names.score);
  name("size", &names.size);
  name("offset", &names.offset);
  return names;
}

}  // namespace napi_helpers
}  // namespace ctedge
