export { Engine, type EngineOptions, type HeadOutputs, type InferenceBinding } from './runtime/engine.js';
export { Tracker, type TrackerOptions } from './runtime/tracker.js';
export { CtEdgeError, type ErrorCode } from './runtime/errors.js';
export type { Box, Frame, PixelFormat, StageTimings, TrackResult, TrackState } from './runtime/types.js';
export {
  METADATA_KEYS,
  OSTRACK_DEFAULTS,
  metadataFromConfig,
  optionsFromStrings,
  type BoxMapping,
  type ChannelOrder,
  type ModelConfig,
  type ModelOptions,
} from './runtime/model-config.js';
export { readOnnxModel, parseOnnxModel, readOnnxMetadata, type OnnxModelInfo } from './onnx/reader.js';
export { openDataset, type Dataset } from './datasets/dataset.js';
export type { Sequence } from './datasets/common.js';
export { iou, sequenceMetrics, averageMetrics, type Curves, type Scores, type SequenceMetrics } from './eval/metrics.js';
export { evaluate, type EvalModel, type EvalResult } from './eval/evaluate.js';
export { benchmark, type BenchModel, type BenchResult } from './eval/bench.js';
export { TrackerNet, type ForwardResult, type HeadMaps } from './model/network.js';
export { netConfig, PRESETS, type PresetName, type TrackerNetConfig } from './model/config.js';
export { initBackend, backendName } from './model/backend.js';
export { readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint/checkpoint.js';
export { writeTrackerOnnx } from './onnx/writer.js';
