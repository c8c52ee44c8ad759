/** Models the maintainer tools run by default, and the options they load with. */
import { join } from 'node:path';
import type { EngineOptions } from '../../ts/index.js';
import { modelOptionsFor } from '../../ts/cli/model-options.js';

const shared = join(import.meta.dirname, '..', '..', '..', 'shared', 'data');
const models = join(import.meta.dirname, '..', '..', 'models');
export const SHARED_SEQUENCES = join(shared, 'sequences');
/** Real footage without labels; training keeps out the last 20% of each video (the agreement checks use it). */
export const SHARED_UNLABELED = join(shared, 'unlabeled');
/** VitTrack as shipped, its conventions (output names, BGR, OpenCV's box mapping) in the sidecar beside it. */
export const VITTRACK_PATH = join(models, 'vittrack.onnx');
export const VITTRACK_STUDENT_2_PATH = join(models, 'vittrack-student-2.onnx');

/** What `ct-edge track --model PATH` would load it with (a sidecar's conventions included), on `threads` threads. */
export async function loadOptions(path: string, threads: number): Promise<EngineOptions> {
  return { ...(await modelOptionsFor(path, {})), threads };
}
