// Checks the parts of the TensorRT backend that need neither TensorRT nor a GPU:
//   - the engine metadata JSON: write -> read -> write is the identity, and the compatibility check
//     refuses another TensorRT version or compute capability with a rebuild command;
//   - sha256 against the FIPS 180-4 test vectors.
// Built and run by test/cuda-emulation.test.ts:
//   g++ -std=c++17 test/native/tensorrt_host_check.cpp native/tensorrt/{engine_metadata,sha256}.cpp
// A test program, not part of the addon.
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "../../native/core/errors.h"
#include "../../native/tensorrt/engine_metadata.h"
#include "../../native/tensorrt/sha256.h"

using namespace ctedge;

static int failures = 0;
#define CHECK(cond, ...)                  \
  do {                                    \
    if (!(cond)) {                        \
      std::printf("FAIL: " __VA_ARGS__);  \
      std::printf("\n");                  \
      ++failures;                         \
    }                                     \
  } while (0)

static void metadata_round_trip() {
  trt::EngineMetadata m;
  m.tensorrt_version = "10.3.0";
  m.gpu_name = "Orin \"nvgpu\" \\ test";
  m.compute_capability = "8.7";
  m.precision = "fp16";
  m.keep_fp32 = {"layernorm", "softmax"};
  m.fp32_layers = 13;
  m.onnx_path = "/models/student.onnx";
  m.onnx_sha256 = sha256_hex(reinterpret_cast<const uint8_t*>("abc"), 3);
  m.built_at = "2026-01-01T00:00:00Z";
  m.tensors = {{"template", true, "float32", {1, 3, 128, 128}}, {"score_map", false, "float32", {1, 1, 16, 16}}};
  const std::string json = m.to_json();
  const trt::EngineMetadata back = trt::EngineMetadata::from_json(json);
  CHECK(back.to_json() == json, "metadata JSON does not round-trip");
  bool refused_version = false, refused_gpu = false, accepted = true;
  try {
    trt::check_engine_compatible(back, "s.engine", "10.3.0", "Orin", "8.7");
  } catch (const CoreError&) {
    accepted = false;
  }
  try {
    trt::check_engine_compatible(back, "s.engine", "10.7.0", "Orin", "8.7");
  } catch (const CoreError& e) {
    refused_version = std::strcmp(e.code(), "ERR_ENGINE_MISMATCH") == 0 && std::string(e.what()).find("build-engine") != std::string::npos;
  }
  try {
    trt::check_engine_compatible(back, "s.engine", "10.3.0", "NVIDIA H100", "9.0");
  } catch (const CoreError& e) {
    refused_gpu = std::strcmp(e.code(), "ERR_ENGINE_MISMATCH") == 0;
  }
  CHECK(accepted && refused_version && refused_gpu, "compatibility check (accepted %d, version %d, gpu %d)", accepted,
        refused_version, refused_gpu);
  bool bad_json = false;
  try {
    trt::EngineMetadata::from_json("{\"tensorrtVersion\": [1,");
  } catch (const CoreError&) {
    bad_json = true;
  }
  CHECK(bad_json, "truncated metadata JSON was accepted");
  std::printf("engine metadata: round trip and compatibility checks done\n");
}

static void sha256_vectors() {
  const auto h = [](const std::string& s) { return sha256_hex(reinterpret_cast<const uint8_t*>(s.data()), s.size()); };
  CHECK(h("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256('')");
  CHECK(h("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256('abc')");
  CHECK(h("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        "sha256(448-bit message)");
  CHECK(h(std::string(1000000, 'a')) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "sha256(a x 1e6)");
  std::printf("sha256: FIPS 180-4 vectors checked\n");
}

int main() {
  metadata_round_trip();
  sha256_vectors();
  std::printf(failures ? "host checks FAILED (%d)\n" : "host checks passed\n", failures);
  return failures ? 1 : 0;
}
