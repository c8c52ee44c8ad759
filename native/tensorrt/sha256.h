// SHA-256 of a file (FIPS 180-4), for the engine metadata's record of its source ONNX model.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace ctedge {
// Lower-case hex digest of `size` bytes.
std::string sha256_hex(const uint8_t* data, size_t size);
// Lower-case hex digest of a file's contents; throws CoreError("ERR_IO") when it cannot be read.
std::string sha256_file(const std::string& path);
}  // namespace ctedge
