// The model contract on the native side, in this one place: what a tracker needs to know about its
// network (tensor names, input and feature-map sizes, crop factors, normalisation, box mapping) and
// OSTrack's defaults for it. The TypeScript side's home for the same contract is
// ts/contract/model-config.ts (TENSOR_NAMES, OSTRACK_DEFAULTS), which resolves it per model (options
// over ONNX metadata over tensor shapes) and hands the result to the addon, whose one parser of it
// is addon/tracker_config.h.
#pragma once
#include <string>

namespace ctedge {

enum class ChannelOrder { RGB, BGR };

// x/255 in RGB order, then (x - mean)/std per channel; `order` is the channel order the model expects.
struct Normalization {
  float mean[3] = {0.485f, 0.456f, 0.406f};
  float std[3] = {0.229f, 0.224f, 0.225f};
  ChannelOrder order = ChannelOrder::RGB;
};

// How a box decoded in the search crop goes back to the frame.
enum class BoxMapping {
  OSTrack,  // float state, shift by the previous centre, clip with a 10 px margin (OSTrack's tracker)
  OpenCV,   // OpenCV TrackerVit: integer state and crop placement, floors, no clipping
};

struct TrackerConfig {
  int template_size = 128;       // template input [1,3,Ht,Wt], Ht = Wt
  int search_size = 256;         // search input [1,3,Hs,Ws], Hs = Ws
  int feature_size = 16;         // output maps [1,C,F,F]
  double template_factor = 2.0;  // crop side = ceil(sqrt(w*h) * factor)
  double search_factor = 4.0;
  Normalization norm;
  BoxMapping mapping = BoxMapping::OSTrack;
  float lost_threshold = 0.2f;   // windowed peak below this: target lost, the last box is kept
};

// The network's tensors: inputs template [1,3,Ht,Wt] and search [1,3,Hs,Ws] (float32, NCHW,
// normalised), outputs score [1,1,F,F] (after sigmoid), size [1,2,F,F] and offset [1,2,F,F].
struct TensorNames {
  std::string template_input = "template";
  std::string search_input = "search";
  std::string score = "score_map";
  std::string size = "size_map";
  std::string offset = "offset_map";
};

}  // namespace ctedge
