// A baseline JPEG decoder (sequential Huffman, 8-bit, 1 or 3 components, any sampling factors,
// restart intervals): enough for the OTB/VOT frames in ../shared/data/sequences, so that the GPU
// check needs nothing beyond a C++ compiler, nvcc and cmake. Chroma is upsampled by repetition;
// the check compares the GPU and the CPU crop of the same decoded frame, so exactness against
// libjpeg does not matter. Not part of the addon.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // width*height*3, row by row
};

// Throws std::runtime_error naming what is wrong (not a JPEG, progressive, truncated, ...).
RgbImage decode_jpeg(const std::vector<uint8_t>& bytes);
RgbImage read_jpeg(const std::string& path);
