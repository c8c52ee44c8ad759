export { Engine, type EngineBackend, type EngineOptions, type HeadOutputs, type InferenceBinding } from './runtime/engine.js';
export { buildEngine, tensorRtGuidance, type BuildEngineOptions, type BuiltEngine, type TensorRtBackend } from './runtime/tensorrt.js';
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
export { oneStepCheck, type OneStepClip, type OneStepStats } from './eval/one-step.js';
export { TrackerNet, type ForwardResult, type HeadMaps } from './model/network.js';
export { netConfig, PRESETS, type PresetName, type TrackerNetConfig } from './model/config.js';
export { initBackend, backendName } from './model/backend.js';
export { readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint/checkpoint.js';
export { writeTrackerOnnx } from './onnx/writer.js';
export { calibrateBoxSize, type SizeCalibration, type SizeCalibrationOptions } from './train/calibrate.js';
export { trackStream, TrackTransform, type SourceFrame, type StreamOptions, type StreamResult, type StreamTracker, type TrackTransformOptions } from './runtime/stream.js';
export { openSource, type OpenSourceOptions } from './io/open.js';
export { openVideo, openCamera, probeVideo, type VideoOptions, type CameraOptions, type FfmpegOptions } from './io/ffmpeg.js';
export { openGStreamer, csiCameraPipeline, usbCameraPipeline, parsePipelineCaps, type GStreamerOptions } from './io/gstreamer.js';
export { openImageFolder, type ImageFolderOptions } from './io/image-folder.js';
export type { FrameSource, SourceInfo, SourceOptions } from './io/source.js';
export { VideoWriter, type VideoWriterOptions } from './io/video-writer.js';
export { ResultWriter, type BoxRecord, type ResultFormat } from './io/results.js';
export { drawRect, drawText, drawLabel, drawResult, fillRect, type Rgb } from './io/draw.js';
export { readImage, writeImage } from './io/images.js';
