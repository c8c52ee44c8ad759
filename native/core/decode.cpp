#include "decode.h"

#include <cmath>

namespace ctedge {

std::vector<float> hann_window_2d(int feature_size) {
  const int n = feature_size;
  std::vector<double> hann(n);
  for (int k = 1; k <= n; ++k) hann[k - 1] = 0.5 * (1.0 - std::cos(2.0 * M_PI * k / (n + 1)));
  std::vector<float> window(static_cast<size_t>(n) * n);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) window[static_cast<size_t>(y) * n + x] = static_cast<float>(hann[y] * hann[x]);
  return window;
}

Peak decode_peak(const float* score, const float* size, const float* offset, const float* window,
                 int feature_size) {
  const int n = feature_size, cells = n * n;
  int best = 0;
  float best_value = -1.0f;
  for (int i = 0; i < cells; ++i) {  // first maximum wins, as numpy/torch argmax
    const float v = score[i] * window[i];
    if (v > best_value) best_value = v, best = i;
  }
  Peak p;
  p.y = best / n;
  p.x = best % n;
  p.score = best_value;
  p.raw_score = score[best];
  p.cx = (p.x + offset[best]) / n;
  p.cy = (p.y + offset[cells + best]) / n;
  p.w = size[best];
  p.h = size[cells + best];
  return p;
}

}  // namespace ctedge
