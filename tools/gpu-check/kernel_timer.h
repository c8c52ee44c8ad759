#pragma once
#include <functional>

namespace ctedge {

// Mean GPU milliseconds of `work` (which queues kernels on the stream it is given), over `repeats`
// launches after one untimed warm-up, measured by CUDA events around the whole series.
double time_on_stream_ms(const std::function<void(void* stream)>& work, int repeats);

}  // namespace ctedge
