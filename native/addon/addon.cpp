// N-API glue of the CPU tracker: turns JS objects into core views (zero-copy over Buffers and
// TypedArrays, shared memory included), core errors into JS errors with a stable `code` (every
// entry runs through call_core, so no C++ exception escapes). The per-frame crop runs where the
// caller runs it: on the calling thread (prepareSearch) or, through placeSearch + copyRegion +
// cropToTensor, on the engine's inference thread (ts/deploy/inference-worker.ts). float32 only:
// onnxruntime on the CPU takes float32 inputs.
#include <napi.h>

#include <algorithm>
#include <exception>
#include <system_error>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../core/errors.h"
#include "../core/tracker_core.h"
#include "napi_helpers.h"
#include "tracker_config.h"
#ifdef CT_EDGE_HAVE_BUILD_INFO
#include "../cmake/build_info.h"
#endif
#ifdef CT_EDGE_WITH_CUDA
#include "../cuda/cuda_binding.h"
#endif
#ifdef CT_EDGE_WITH_TENSORRT
#include "../tensorrt/tensorrt_binding.h"
#endif

namespace {

using namespace ctedge::napi_helpers;

// A float32 tensor in JS memory: a Float32Array of `elements` values, its data without a copy.
float* float32_data(const Napi::Value& v, size_t elements, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
      v.As<Napi::TypedArray>().ElementLength() != elements)
    throw_coded(v.Env(), "ERR_INVALID_ARGUMENT", std::string(what) + " must be a Float32Array of " + std::to_string(elements) + " elements");
  return v.As<Napi::Float32Array>().Data();
}

class NativeTracker : public Napi::ObjectWrap<NativeTracker> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeTracker",
                       {InstanceMethod<&NativeTracker::Init>("init"),
                        InstanceMethod<&NativeTracker::PrepareSearch>("prepareSearch"),
                        InstanceMethod<&NativeTracker::PlaceSearch>("placeSearch"),
                        InstanceMethod<&NativeTracker::Update>("update"),
                        InstanceMethod<&NativeTracker::Dispose>("dispose")});
  }

  // new NativeTracker(config, templateTensor, searchTensor): the tensors are Float32Arrays the core
  // crops into and onnxruntime reads from.
  NativeTracker(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeTracker>(info) {
    call_core(info.Env(), [&] {
      const ctedge::TrackerConfig c = tracker_config(info[0], "NativeTracker");
      float* t = float32_data(info[1], 3ull * c.template_size * c.template_size, "template tensor");
      float* s = float32_data(info[2], 3ull * c.search_size * c.search_size, "search tensor");
      template_ref_ = Napi::Persistent(info[1].As<Napi::Object>());
      search_ref_ = Napi::Persistent(info[2].As<Napi::Object>());
      core_ = std::make_shared<ctedge::TrackerCore>(c, t, s);
    });
  }

 private:
  Napi::Value Init(const Napi::CallbackInfo& info) {
    return call_core(info.Env(), [&] { return init_tracker(info, core_, busy_); });
  }

  // prepareSearch(frame): the search crop on the calling thread, into the search tensor.
  Napi::Value PrepareSearch(const Napi::CallbackInfo& info) {
    return call_core(info.Env(), [&] {
      auto& core = live_tracker(info.Env(), core_, busy_);
      const auto frame = frame_view(info[0]);
      core.prepare_search(frame);
      return info.Env().Undefined();
    });
  }

  // placeSearch(frame) -> { x0, y0, side, region: { x, y, width, height } }: places the search
  // window for this frame (as prepareSearch does) without cropping, for a crop done elsewhere
  // (the engine's inference thread). `region` is the part of the frame the crop reads (empty when
  // the window misses the frame), with even corners for NV12.
  Napi::Value PlaceSearch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return call_core(env, [&] {
      auto& core = live_tracker(env, core_, busy_);
      const auto frame = frame_view(info[0]);
      const ctedge::CropWindow w = core.place_search(frame.width, frame.height);
      const ctedge::FrameRegion r = ctedge::crop_region(frame, w);
      Napi::Object out = Napi::Object::New(env);
      out.Set("x0", w.x0);
      out.Set("y0", w.y0);
      out.Set("side", w.side);
      Napi::Object region = Napi::Object::New(env);
      region.Set("x", r.x);
      region.Set("y", r.y);
      region.Set("width", r.width);
      region.Set("height", r.height);
      out.Set("region", region);
      return out;
    });
  }

  // update(score, size, offset): Float32Arrays of F*F, 2*F*F, 2*F*F values (the backend's outputs).
  Napi::Value Update(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return call_core(env, [&] { return UpdateMaps(info); });
  }

  Napi::Value UpdateMaps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto& core = live_tracker(env, core_, busy_);
    const size_t cells = static_cast<size_t>(core.config().feature_size) * core.config().feature_size;
    const float* maps[3];
    const char* names[3] = {"score map", "size map", "offset map"};
    const size_t want[3] = {cells, 2 * cells, 2 * cells};
    for (int i = 0; i < 3; ++i) {
      if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
          info[i].As<Napi::TypedArray>().ElementLength() != want[i])
        throw_coded(env, "ERR_MODEL_OUTPUT", std::string(names[i]) + " must be float32 with " + std::to_string(want[i]) +
                                                 " values (feature map " + std::to_string(core.config().feature_size) + "x" +
                                                 std::to_string(core.config().feature_size) + ")");
      const auto t = info[i].As<Napi::Float32Array>();
      maps[i] = t.Data();
    }
    return result_object(env, core.update(maps[0], maps[1], maps[2]));
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    core_.reset();
    template_ref_.Reset();
    search_ref_.Reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<ctedge::TrackerCore> core_;
  Napi::ObjectReference template_ref_, search_ref_;
  bool busy_ = false;
};

// cropToTensor(frame, { x0, y0, side }, outSize, dst: Float32Array, { mean, std, channelOrder }):
// one crop with the tracker's exact pixels, for the train side's pair sampler, the engine's
// inference thread and tests.
Napi::Value CropToTensor(const Napi::CallbackInfo& info) {
  return call_core(info.Env(), [&] {
    const auto frame = frame_view(info[0]);
    const ctedge::CropWindow window = crop_window(info[1]);
    const int size = out_size(info[2]);
    const auto norm = normalization(info[4]);
    float* dst = float32_data(info[3], 3ull * size * size, "dst");
    ctedge::CropSampler().crop(frame, window, size, norm, dst);
    return info.Env().Undefined();
  });
}

// cropBatch([{ frame, window }], outSize, dst: Float32Array, norm, threads): the crops of a
// TrackerGroup's targets into one batched tensor (item i at i * 3 * outSize^2), on up to `threads`
// threads (the calling one included). The frames are read on the calling thread's stack frame only:
// the call returns when every crop is done. Crops are independent, so the result equals one
// cropToTensor per item whatever the thread count.
Napi::Value CropBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return call_core(env, [&] {
    if (!info[0].IsArray()) throw_coded(env, "ERR_INVALID_ARGUMENT", "cropBatch: items must be an array of { frame, window }");
    const Napi::Array items = info[0].As<Napi::Array>();
    const int size = out_size(info[1]);
    const auto norm = normalization(info[3]);
    const size_t n = items.Length();
    const size_t per = 3ull * size * size;
    float* dst = float32_data(info[2], n * per, "dst");
    struct Job {
      ctedge::FrameView frame;
      ctedge::CropWindow window;
    };
    std::vector<Job> jobs;
    jobs.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      const Napi::Value item = items.Get(i);
      if (!item.IsObject()) throw_coded(env, "ERR_INVALID_ARGUMENT", "cropBatch: item " + std::to_string(i) + " must be { frame, window }");
      const Napi::Object o = item.As<Napi::Object>();
      jobs.push_back({frame_view(o.Get("frame")), crop_window(o.Get("window"))});
    }
    const int wanted = info[4].IsNumber() ? info[4].As<Napi::Number>().Int32Value() : 1;
    const size_t workers = std::min(n, static_cast<size_t>(std::max(1, wanted)));
    // A crop that throws (CoreError) on a helper thread is rethrown here, after every thread joined.
    std::vector<std::exception_ptr> failures(workers);
    auto crop_share = [&](size_t first) {
      try {
        ctedge::CropSampler sampler;
        for (size_t i = first; i < n; i += workers) sampler.crop(jobs[i].frame, jobs[i].window, size, norm, dst + i * per);
      } catch (...) {
        failures[first] = std::current_exception();
      }
    };
    // Threads the system refuses (a pids limit, say) leave their shares to the calling thread; the
    // ones started are always joined, whatever throws.
    struct Joiner {
      std::vector<std::thread> threads;
      ~Joiner() {
        for (auto& t : threads)
          if (t.joinable()) t.join();
      }
    } helpers;
    std::vector<size_t> mine{0};
    for (size_t w = 1; w < workers; ++w) {
      try {
        helpers.threads.emplace_back(crop_share, w);
      } catch (const std::system_error&) {
        mine.push_back(w);
      }
    }
    for (size_t w : mine) crop_share(w);
    for (auto& t : helpers.threads) t.join();
    for (const auto& f : failures)
      if (f) std::rethrow_exception(f);
    return env.Undefined();
  });
}

// copyRegion(frame, { x, y, width, height }, dst: Uint8Array) -> { width, height, stride }: copies
// a region of the frame (placeSearch's) into dst as a frame of its own with tight rows (NV12: its
// chroma rows after its luma rows). The crop of that frame with the window shifted by (-x, -y)
// is the crop of the whole frame, pixel for pixel.
Napi::Value CopyRegion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return call_core(env, [&] {
    const auto frame = frame_view(info[0]);
    if (!info[1].IsObject()) throw_coded(env, "ERR_INVALID_ARGUMENT", "region must be { x, y, width, height }");
    const Napi::Object o = info[1].As<Napi::Object>();
    const ctedge::FrameRegion r{int_field(o, "x", "region"), int_field(o, "y", "region"), int_field(o, "width", "region"),
                                int_field(o, "height", "region")};
    ByteView dst;
    if (!byte_view(info[2], &dst) || dst.detached) throw_coded(env, "ERR_INVALID_ARGUMENT", "dst must be a Uint8Array");
    const ctedge::FrameView out = ctedge::copy_region(frame, r, const_cast<uint8_t*>(dst.data), dst.length);
    Napi::Object result = Napi::Object::New(env);
    result.Set("width", out.width);
    result.Set("height", out.height);
    result.Set("stride", out.stride);
    return result;
  });
}

Napi::Value HannWindow(const Napi::CallbackInfo& info) {
  const double n = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  if (!(n >= 1 && n <= 4096 && n == static_cast<int>(n)))
    throw_coded(info.Env(), "ERR_INVALID_ARGUMENT", "feature size must be a whole number from 1 to 4096");
  return call_core(info.Env(), [&] {
    const auto w = ctedge::hann_window_2d(static_cast<int>(n));
    auto out = Napi::Float32Array::New(info.Env(), w.size());
    std::copy(w.begin(), w.end(), out.Data());
    return out;
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeTracker", NativeTracker::Define(env));
  exports.Set("cropToTensor", Napi::Function::New(env, CropToTensor));
  exports.Set("cropBatch", Napi::Function::New(env, CropBatch));
  exports.Set("copyRegion", Napi::Function::New(env, CopyRegion));
  exports.Set("hannWindow", Napi::Function::New(env, HannWindow));
  Napi::Object features = Napi::Object::New(env);
  features.Set("cuda", Napi::Boolean::New(env, false));
  features.Set("tensorrt", Napi::Boolean::New(env, false));
  exports.Set("features", features);
#ifdef CT_EDGE_HAVE_BUILD_INFO
  ctedge::register_build_info(env, exports);
#endif
#ifdef CT_EDGE_WITH_CUDA
  ctedge::register_cuda(env, exports);
#endif
#ifdef CT_EDGE_WITH_TENSORRT
  ctedge::register_tensorrt(env, exports);
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(ct_edge, Init)
