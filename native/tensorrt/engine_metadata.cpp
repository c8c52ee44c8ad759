#include "engine_metadata.h"

#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "../core/errors.h"

namespace ctedge {
namespace trt {
namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (const unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// A minimal JSON value and reader: enough for the metadata file (objects, arrays, strings, numbers,
// booleans, null).
struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool b = false;
  double n = 0;
  std::string s;
  std::vector<Json> items;
  std::map<std::string, Json> fields;
  const Json* get(const std::string& k) const {
    auto it = fields.find(k);
    return it == fields.end() ? nullptr : &it->second;
  }
  std::string str(const std::string& k) const {
    const Json* v = get(k);
    return v && v->kind == String ? v->s : std::string();
  }
};

class Reader {
 public:
  explicit Reader(const std::string& t) : t_(t) {}
  Json parse() {
    Json v = value();
    ws();
    if (i_ != t_.size()) bad("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void bad(const char* what) {
    throw CoreError("ERR_ENGINE_METADATA", std::string("engine metadata is not valid JSON: ") + what + " at offset " + std::to_string(i_));
  }
  void ws() {
    while (i_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[i_]))) ++i_;
  }
  bool eat(char c) {
    ws();
    if (i_ < t_.size() && t_[i_] == c) return ++i_, true;
    return false;
  }
  Json value() {
    ws();
    if (i_ >= t_.size()) bad("unexpected end");
    Json v;
    const char c = t_[i_];
    if (c == '{') {
      ++i_;
      v.kind = Json::Object;
      if (eat('}')) return v;
      do {
        ws();
        Json k = value();
        if (k.kind != Json::String) bad("object key is not a string");
        if (!eat(':')) bad("expected ':'");
        v.fields[k.s] = value();
      } while (eat(','));
      if (!eat('}')) bad("expected '}'");
    } else if (c == '[') {
      ++i_;
      v.kind = Json::Array;
      if (eat(']')) return v;
      do v.items.push_back(value());
      while (eat(','));
      if (!eat(']')) bad("expected ']'");
    } else if (c == '"') {
      ++i_;
      v.kind = Json::String;
      while (true) {
        if (i_ >= t_.size()) bad("unterminated string");
        char ch = t_[i_++];
        if (ch == '"') break;
        if (ch == '\\') {
          if (i_ >= t_.size()) bad("bad escape");
          const char e = t_[i_++];
          switch (e) {
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case 'r': ch = '\r'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'u': {
              if (i_ + 4 > t_.size()) bad("bad \\u escape");
              const unsigned code = std::stoul(t_.substr(i_, 4), nullptr, 16);
              i_ += 4;
              if (code < 0x80) {
                ch = static_cast<char>(code);
              } else {  // UTF-8 encode the BMP code point (surrogate pairs are not expected here)
                if (code < 0x800) {
                  v.s += static_cast<char>(0xc0 | (code >> 6));
                } else {
                  v.s += static_cast<char>(0xe0 | (code >> 12));
                  v.s += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
                }
                ch = static_cast<char>(0x80 | (code & 0x3f));
              }
              break;
            }
            default: ch = e;
          }
        }
        v.s += ch;
      }
    } else if (t_.compare(i_, 4, "true") == 0) {
      i_ += 4, v.kind = Json::Bool, v.b = true;
    } else if (t_.compare(i_, 5, "false") == 0) {
      i_ += 5, v.kind = Json::Bool;
    } else if (t_.compare(i_, 4, "null") == 0) {
      i_ += 4;
    } else {
      size_t used = 0;
      try {
        v.n = std::stod(t_.substr(i_, 32), &used);
      } catch (...) {
        bad("unexpected character");
      }
      i_ += used, v.kind = Json::Number;
    }
    return v;
  }
  const std::string& t_;
  size_t i_ = 0;
};

}  // namespace

std::string EngineMetadata::to_json() const {
  std::ostringstream o;
  o << "{\n";
  o << "  \"formatVersion\": " << format_version << ",\n";
  o << "  \"tensorrtVersion\": " << quote(tensorrt_version) << ",\n";
  o << "  \"gpu\": {\"name\": " << quote(gpu_name) << ", \"computeCapability\": " << quote(compute_capability) << "},\n";
  o << "  \"precision\": " << quote(precision) << ",\n";
  o << "  \"keepFp32\": [";
  for (size_t i = 0; i < keep_fp32.size(); ++i) o << (i ? ", " : "") << quote(keep_fp32[i]);
  o << "],\n";
  o << "  \"fp32Layers\": " << fp32_layers << ",\n";
  o << "  \"onnx\": {\"path\": " << quote(onnx_path) << ", \"sha256\": " << quote(onnx_sha256) << "},\n";
  o << "  \"builtAt\": " << quote(built_at) << ",\n";
  o << "  \"tensors\": [";
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = tensors[i];
    o << (i ? ",\n" : "\n") << "    {\"name\": " << quote(t.name) << ", \"io\": " << quote(t.input ? "input" : "output")
      << ", \"dtype\": " << quote(t.dtype) << ", \"shape\": [";
    for (size_t k = 0; k < t.shape.size(); ++k) o << (k ? ", " : "") << t.shape[k];
    o << "]}";
  }
  o << "\n  ]\n}\n";
  return o.str();
}

EngineMetadata EngineMetadata::from_json(const std::string& text) {
  const Json root = Reader(text).parse();
  if (root.kind != Json::Object) throw CoreError("ERR_ENGINE_METADATA", "engine metadata must be a JSON object");
  EngineMetadata m;
  if (const Json* v = root.get("formatVersion")) m.format_version = static_cast<int>(v->n);
  m.tensorrt_version = root.str("tensorrtVersion");
  if (const Json* g = root.get("gpu")) m.gpu_name = g->str("name"), m.compute_capability = g->str("computeCapability");
  m.precision = root.str("precision");
  if (const Json* k = root.get("keepFp32"))
    for (const Json& s : k->items) m.keep_fp32.push_back(s.s);
  if (const Json* v = root.get("fp32Layers")) m.fp32_layers = static_cast<int>(v->n);
  if (const Json* x = root.get("onnx")) m.onnx_path = x->str("path"), m.onnx_sha256 = x->str("sha256");
  m.built_at = root.str("builtAt");
  if (const Json* ts = root.get("tensors"))
    for (const Json& t : ts->items) {
      TensorInfo info;
      info.name = t.str("name");
      info.input = t.str("io") == "input";
      info.dtype = t.str("dtype");
      if (const Json* s = t.get("shape"))
        for (const Json& d : s->items) info.shape.push_back(static_cast<long long>(d.n));
      m.tensors.push_back(info);
    }
  if (m.tensorrt_version.empty() || m.compute_capability.empty())
    throw CoreError("ERR_ENGINE_METADATA", "engine metadata lacks tensorrtVersion or gpu.computeCapability");
  return m;
}

std::string metadata_path_for(const std::string& engine_path) { return engine_path + ".json"; }

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f) throw CoreError("ERR_IO", "cannot write " + path);
}

std::string read_text_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw CoreError("ERR_IO", "cannot read " + path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void check_engine_compatible(const EngineMetadata& meta, const std::string& engine_path,
                             const std::string& runtime_trt_version, const std::string& gpu_name,
                             const std::string& compute_capability) {
  std::string why;
  if (meta.tensorrt_version != runtime_trt_version)
    why = "it was built with TensorRT " + meta.tensorrt_version + " and this process loaded TensorRT " + runtime_trt_version;
  else if (meta.compute_capability != compute_capability)
    why = "it was built for " + meta.gpu_name + " (compute capability " + meta.compute_capability + ") and this GPU is " +
          gpu_name + " (compute capability " + compute_capability + ")";
  if (why.empty()) return;
  const std::string onnx = meta.onnx_path.empty() ? "model.onnx" : meta.onnx_path;
  throw CoreError("ERR_ENGINE_MISMATCH",
                  "cannot use the TensorRT engine " + engine_path + ": " + why +
                      ". TensorRT engines only run on the TensorRT version and GPU they were built with; rebuild it on "
                      "this machine: npx ct-edge build-engine " + onnx + (meta.precision == "fp16" ? " --fp16" : "") +
                      " -o " + engine_path);
}

}  // namespace trt
}  // namespace ctedge
