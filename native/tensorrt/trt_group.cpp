#include "trt_group.h"

#include <cstring>

#include "trt_context.h"

namespace ctedge {
namespace trt {

struct GroupImpl : ContextBase {
  GpuTrackerOptions options;
  cuda::FrameStager stager;
  cuda::PinnedBuffer host_out[3];
  const float* maps[3] = {};              // the last run's outputs, float32, `batch` items: in host_out or scratch
  size_t map_values[3] = {};
  std::vector<float> scratch[3];          // float16 outputs converted
  cuda::PinnedBuffer host_templates;      // templates prepare() staged, in the input's type, by item
  std::vector<uint64_t> item_template;    // which template each item of the template input holds (0: none)
  std::vector<std::pair<int, uint64_t>> uploads;  // items prepare() staged a template for
  std::vector<CropWindow> windows;        // this frame's search windows, by item
  bool has_prepared = false;

  GroupImpl(std::shared_ptr<Engine> e, const GpuTrackerOptions& o) : ContextBase(std::move(e), o.blocking_sync), options(o) {}

  size_t template_values() const { return 3ull * options.core.template_size * options.core.template_size; }

  void setup(int most) {
    CaptureScope scope(this);
    if (engine->min_batch() > 1)
      throw CoreError("ERR_MODEL_INVALID", engine->path() + "'s batch profile starts at " + std::to_string(engine->min_batch()) +
                                               " targets; a group runs 1 and up: build it with ct-edge build-engine --max-batch N");
    capacity = std::clamp(most, 1, engine->max_batch());  // buffers for the group's largest batch, not the engine's
    create_context(options.core, options.names, scope.capture);
    for (int k = 0; k < 3; ++k) host_out[k].resize(outputs[k].count * data_type_size(outputs[k].type));
    host_templates.resize(tmpl.count * data_type_size(tmpl.type));
    item_template.assign(capacity, 0);
    if (options.reserve_bytes > 0) stager.reserve(options.reserve_bytes);
    // The first enqueue's lazy initialisation (see TrackerImpl::warm_up), at the largest batch.
    const auto s = static_cast<cudaStream_t>(stream.get());
    for (Binding* b : {&tmpl, &search}) cuda_check(cudaMemsetAsync(b->device.get(), 0, b->count * data_type_size(b->type), s), "cudaMemsetAsync");
    if (!context->enqueueV3(s)) fail("enqueueV3 failed: " + scope.capture.errors());
    stream.synchronize();
  }
};

GpuGroup::GpuGroup(std::shared_ptr<Engine> engine, const GpuTrackerOptions& options, int max_batch) : impl_(new GroupImpl(std::move(engine), options)) {
  impl_->setup(max_batch);
}

GpuGroup::~GpuGroup() = default;

int GpuGroup::max_batch() const { return impl_->capacity; }

std::pair<const float*, size_t> GpuGroup::maps(int k) const { return {impl_->maps[k], impl_->map_values[k]}; }

double GpuGroup::prepare(const FrameView& host_frame, const std::vector<Member>& members) {
  GroupImpl& g = *impl_;
  const auto t0 = Clock::now();
  const int n = static_cast<int>(members.size());
  if (n < 1 || n > g.capacity)
    throw CoreError("ERR_INVALID_ARGUMENT", "a batch of " + std::to_string(n) + " targets; this engine takes 1 to " + std::to_string(g.capacity) +
                                                " per enqueue (build-engine --max-batch)");
  g.windows.clear();
  g.uploads.clear();
  const size_t per = g.template_values();
  const bool half = g.tmpl.type == DataType::kHALF;
  for (int i = 0; i < n; ++i) {
    g.windows.push_back(members[i].window);
    if (g.item_template[i] == members[i].template_id) continue;
    if (half) {
      auto* dst = static_cast<uint16_t*>(g.host_templates.get()) + per * i;
      for (size_t j = 0; j < per; ++j) dst[j] = float_to_half(members[i].tmpl[j]);
    } else {
      std::memcpy(static_cast<float*>(g.host_templates.get()) + per * i, members[i].tmpl, per * sizeof(float));
    }
    g.uploads.emplace_back(i, members[i].template_id);
  }
  g.stager.copy_rows(host_frame, g.windows.data(), n);
  g.has_prepared = true;
  return ms_since(t0);
}

void GpuGroup::run_prepared(GpuTimings* timings) {
  GroupImpl& g = *impl_;
  if (!g.has_prepared) throw CoreError("ERR_NOT_INITIALIZED", "run_prepared() needs prepare(frame, members) first");
  g.has_prepared = false;
  GroupImpl::CaptureScope scope(&g);
  const int n = static_cast<int>(g.windows.size());
  const size_t element = data_type_size(g.tmpl.type), per = g.template_values();
  GpuTimings local;
  if (timings) local.stage_ms = timings->stage_ms;
  const ContextBase::DrainOnThrow drain{g.stream.get()};
  auto t0 = Clock::now();
  const FrameView dev = g.stager.upload(g.stream.get());
  for (const auto& [item, id] : g.uploads) {
    g.item_template[item] = 0;  // until the run that uploads it succeeds
    cuda::copy_to_device_async(static_cast<uint8_t*>(g.tmpl.device.get()) + per * element * item,
                               static_cast<const uint8_t*>(g.host_templates.get()) + per * element * item, per * element, g.stream.get());
  }
  local.stage_ms += ms_since(t0);
  t0 = Clock::now();
  cuda::crop_normalize_batch_async(dev, g.windows.data(), n, g.options.core.search_size, g.options.core.norm, g.search.device.get(),
                                   g.search.type == DataType::kHALF, g.stream.get());
  local.preprocess_ms = ms_since(t0);
  t0 = Clock::now();
  g.set_batch(n);
  if (!g.context->enqueueV3(static_cast<cudaStream_t>(g.stream.get()))) fail("enqueueV3 failed: " + scope.capture.errors());
  size_t values[3];
  for (int k = 0; k < 3; ++k) {
    values[k] = g.outputs[k].count / g.capacity * n;  // the first n items
    cuda::copy_to_host_async(g.host_out[k].get(), g.outputs[k].device.get(), values[k] * data_type_size(g.outputs[k].type), g.stream.get());
  }
  g.stream.synchronize();
  local.infer_ms = ms_since(t0);
  t0 = Clock::now();
  for (const auto& [item, id] : g.uploads) g.item_template[item] = id;
  for (int k = 0; k < 3; ++k) {
    g.maps[k] = host_floats(g.outputs[k].type, g.host_out[k], values[k], g.scratch[k]);
    g.map_values[k] = values[k];
  }
  local.postprocess_ms = ms_since(t0);
  if (timings) *timings = local;
}

}  // namespace trt
}  // namespace ctedge
