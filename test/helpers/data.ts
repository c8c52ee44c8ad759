/** Paths to the shared real data (../shared/data); tests that need it skip when it is absent. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sharedData = join(repoRoot, '..', 'shared', 'data');
export const vitTrackPath = join(sharedData, 'models', 'vittrack', 'vitTracker.onnx');
export const sequencesDir = join(sharedData, 'sequences');
export const hasSharedData = existsSync(vitTrackPath) && existsSync(sequencesDir);
export const sharedDataSkipReason = `shared real data not found at ${sharedData}`;

/** VitTrack's conventions (OpenCV TrackerVit): outputs output1/2/3, BGR input. */
export const vitTrackOptions = {
  outputs: { score: 'output1', size: 'output2', offset: 'output3' },
  channelOrder: 'bgr',
  boxMapping: 'opencv',
} as const;
