/** Paths to the shared real data (../shared/data); tests that need it skip when it is absent. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelOptions } from '../../ts/contract/model-config.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sharedData = join(repoRoot, '..', 'shared', 'data');
export const vitTrackPath = join(sharedData, 'models', 'vittrack', 'vitTracker.onnx');
export const sequencesDir = join(sharedData, 'sequences');
export const hasSharedData = existsSync(vitTrackPath) && existsSync(sequencesDir);
export const sharedDataSkipReason = `shared real data not found at ${sharedData}`;

/** VitTrack's conventions (OpenCV TrackerVit: outputs output1/2/3, BGR input), from the sidecar shipped beside models/vittrack.onnx. */
export const vitTrackOptions = JSON.parse(readFileSync(join(repoRoot, 'models', 'vittrack.onnx.json'), 'utf8')) as Pick<ModelOptions, 'outputs' | 'channelOrder' | 'boxMapping'>;
