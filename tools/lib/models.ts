/** Models the maintainer tools run by default, and the options a foreign model needs to load. */
import { join } from 'node:path';
import type { EngineOptions } from '../../ts/index.js';

const shared = join(import.meta.dirname, '..', '..', '..', 'shared', 'data');
export const VITTRACK_PATH = join(shared, 'models', 'vittrack', 'vitTracker.onnx');
export const SHARED_SEQUENCES = join(shared, 'sequences');
export const STUDENT_2_PATH = join(import.meta.dirname, '..', '..', 'models', 'student-2.onnx');

/** VitTrack (OpenCV's vitTracker.onnx) names its outputs output1/2/3, takes BGR and maps boxes as OpenCV does. */
export function loadOptions(path: string, threads: number): EngineOptions {
  const vitTrack = path.endsWith('vitTracker.onnx');
  return { threads, ...(vitTrack ? { outputs: { score: 'output1', size: 'output2', offset: 'output3' }, channelOrder: 'bgr', boxMapping: 'opencv' } : {}) };
}
