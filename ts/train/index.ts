/**
 * `ct-edge/train`: the training side. Build, train and compress TrackerNet networks on
 * TensorFlow.js, calibrate them, read and write checkpoints, export ONNX for the deploy side.
 * Needs the TensorFlow.js packages (optional peer dependencies of ct-edge).
 */
export { TrackerNet, type ForwardResult, type HeadMaps } from './model/network.js';
export { netConfig, PRESETS, type PresetName, type TrackerNetConfig } from './model/config.js';
export { initBackend, backendName, type BackendChoice } from './model/backend.js';
export { readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint/checkpoint.js';
export { trainTracker, compressTracker, runFiles, type TrainTrackerOptions, type CompressTrackerOptions, type RunOptions, type RunResult } from './train-tracker.js';
export type { CompressOptions, ReplacementSchedule, Stage } from './compress.js';
export type { LogEntry, TrainProgress } from './loop.js';
export type { DataSourceSpec, TrainingDataOptions } from './data-source.js';
export { parseDataSource } from './data/data-spec.js';
export { pseudoLabel, readTracks, type PseudoLabelOptions, type Track } from './data/pseudo-label.js';
export { importTrackerOnnx, importTrackerModel, type ImportedTracker } from './import-onnx.js';
export type { ClipDifficulty, ClipOptions } from './data/generator.js';
export { calibrateBoxSize, calibrateCheckpoint, type CalibrateCheckpointOptions, type SizeCalibration, type SizeCalibrationOptions } from './calibrate.js';
export { calibrateLostThreshold, type LostCalibration, type LostCalibrationOptions } from './calibrate-lost.js';
export { writeTrackerOnnx } from './export-onnx.js';
