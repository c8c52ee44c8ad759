/**
 * `ct-edge`: the deploy side. Load a tracker model (ONNX on onnxruntime, or a TensorRT engine),
 * track frames, read video and cameras, write results, evaluate and benchmark. Nothing here loads
 * TensorFlow.js: training and compression live in `ct-edge/train`.
 */
export { Engine, type EngineBackend, type EngineOptions, type HeadOutputs, type InferenceBinding } from './deploy/engine.js';
export { buildEngine, tensorRtGuidance, type BuildEngineOptions, type BuiltEngine, type TensorRtBackend } from './deploy/tensorrt.js';
export { Tracker, type TrackerOptions } from './deploy/tracker.js';
export { TrackerGroup, type GroupStreamOptions, type GroupStreamResult, type GroupTrackResult, type TargetResult, type TrackerGroupOptions } from './deploy/tracker-group.js';
export {
  trackStream,
  TrackTransform,
  type FrameStreamSource,
  type SourceFrame,
  type StreamCommand,
  type StreamControl,
  type StreamOptions,
  type StreamResult,
  type StreamTracker,
  type TrackTransformOptions,
} from './deploy/stream.js';
export { MqttLink, parseCommand, MQTT_USERNAME_ENV, MQTT_PASSWORD_ENV, type DeviceState, type MqttLinkOptions, type MqttLinkStats } from './deploy/mqtt.js';
export { CtEdgeError, type ErrorCode } from './contract/errors.js';
export type { Box, Frame, PixelFormat, StageTimings, TrackResult, TrackState } from './contract/types.js';
export {
  METADATA_KEYS,
  OSTRACK_DEFAULTS,
  metadataFromConfig,
  optionsFromStrings,
  type BoxMapping,
  type ChannelOrder,
  type ModelConfig,
  type ModelOptions,
} from './contract/model-config.js';
export { readOnnxModel, parseOnnxModel, readOnnxMetadata, type OnnxModelInfo } from './contract/onnx-reader.js';
export { openDataset, type Dataset } from './deploy/datasets/dataset.js';
export type { Sequence } from './deploy/datasets/common.js';
export { iou, sequenceMetrics, averageMetrics, type Curves, type Scores, type SequenceMetrics } from './deploy/eval/metrics.js';
export { evaluate, type EvalModel, type EvalResult } from './deploy/eval/evaluate.js';
export { benchmark, type BenchModel, type BenchResult } from './deploy/eval/bench.js';
export { oneStepCheck, type OneStepClip, type OneStepStats } from './deploy/eval/one-step.js';
export { agreement, trackSideBySide, type TrackedSideBySide } from './deploy/eval/agreement.js';
export { compareModels, compareTable, HELD_OUT_SHARE, type CompareClip, type CompareResult, type CompareRow } from './deploy/eval/compare.js';
export { proposeTargets } from './deploy/eval/targets.js';
export { openSource, type OpenSourceOptions } from './deploy/io/open.js';
export { openVideo, openCamera, probeVideo, type VideoOptions, type CameraOptions, type FfmpegOptions } from './deploy/io/ffmpeg.js';
export { openGStreamer, csiCameraPipeline, usbCameraPipeline, parsePipelineCaps, type GStreamerOptions } from './deploy/io/gstreamer.js';
export { openImageFolder, type ImageFolderOptions } from './deploy/io/image-folder.js';
export type { FrameSource, SourceInfo, SourceOptions } from './deploy/io/source.js';
export { toRgb, bytesOf } from './deploy/io/convert.js';
export { VideoWriter, type VideoWriterOptions } from './deploy/io/video-writer.js';
export { ResultWriter, recordFields, type BoxRecord, type ResultFormat } from './deploy/io/results.js';
export { drawRect, drawText, drawLabel, drawResult, fillRect, type Rgb } from './deploy/io/draw.js';
export { readImage, writeImage } from './deploy/io/images.js';
