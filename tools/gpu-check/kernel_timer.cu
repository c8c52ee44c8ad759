// Times GPU work with CUDA events on one stream: what tools/gpu-check reports per kernel.
#include <cuda_runtime.h>

#include "../../native/cuda/preprocess.h"
#include "kernel_timer.h"

namespace ctedge {

double time_on_stream_ms(const std::function<void(void* stream)>& work, int repeats) {
  cuda::Stream stream;
  cudaEvent_t start = nullptr, stop = nullptr;
  cuda::check(cudaEventCreate(&start), "cudaEventCreate");
  cuda::check(cudaEventCreate(&stop), "cudaEventCreate");
  work(stream.get());  // the first launch loads the module (CUDA's lazy loading): not timed
  stream.synchronize();
  const auto s = static_cast<cudaStream_t>(stream.get());
  cuda::check(cudaEventRecord(start, s), "cudaEventRecord");
  for (int i = 0; i < repeats; ++i) work(stream.get());
  cuda::check(cudaEventRecord(stop, s), "cudaEventRecord");
  cuda::check(cudaEventSynchronize(stop), "cudaEventSynchronize");
  float ms = 0;
  cuda::check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms / repeats;
}

}  // namespace ctedge
