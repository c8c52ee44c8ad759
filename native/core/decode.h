// Post-processing of a centre head: Hann window, argmax, box decode, mapping back to the frame.
#pragma once
#include <vector>

namespace ctedge {

// window = outer(hann(F), hann(F)), hann(k) = 0.5*(1 - cos(2*pi*k/(F+1))), k = 1..F (OSTrack, OpenCV).
std::vector<float> hann_window_2d(int feature_size);

struct Peak {
  int x = 0, y = 0;           // cell of the windowed maximum
  float score = 0;            // windowed score at the peak (what "lost" is judged on)
  float raw_score = 0;        // score map value at the peak, before the window
  double cx = 0, cy = 0;      // box centre, normalised to the search crop
  double w = 0, h = 0;        // box size, normalised to the search crop
};

// score [F*F], size [2*F*F] (w plane, h plane), offset [2*F*F] (dx plane, dy plane).
Peak decode_peak(const float* score, const float* size, const float* offset, const float* window,
                 int feature_size);

}  // namespace ctedge
