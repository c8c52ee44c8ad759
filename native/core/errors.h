// The core reports bad input with a stable code; the N-API glue turns it into a typed JS error.
#pragma once
#include <stdexcept>
#include <string>

namespace ctedge {

class CoreError : public std::runtime_error {
 public:
  CoreError(const char* code, const std::string& message) : std::runtime_error(message), code_(code) {}
  const char* code() const { return code_; }

 private:
  const char* code_;  // always a string literal such as "ERR_FRAME_BUFFER"
};

}  // namespace ctedge
