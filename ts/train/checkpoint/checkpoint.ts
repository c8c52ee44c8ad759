/**
 * Tracker checkpoints: safetensors with OSTrack's tensor names, and the network config in
 * `__metadata__` so that a checkpoint says what network it holds. Weights converted from a PyTorch
 * OSTrack checkpoint carry no config; name it (e.g. the `ostrack-256` preset) when reading them.
 */
import { CtEdgeError } from '../../contract/errors.js';
import { validateNetConfig, type TrackerNetConfig } from '../model/config.js';
import type { WeightMap } from '../model/params.js';
import { checkWeights } from '../model/weights.js';
import { readSafetensors, writeSafetensors, type SafetensorsDtype } from './safetensors.js';

export const CHECKPOINT_METADATA = { format: 'ct_edge.format', config: 'ct_edge.config' } as const;
export const CHECKPOINT_FORMAT = 'tracker-net/1';

export interface Checkpoint {
  config: TrackerNetConfig;
  /** Exactly the tensors the network needs, by ct-edge name. */
  weights: WeightMap;
}

/**
 * Reads a checkpoint and checks every tensor against its config. `config` is used when the file
 * has none, and must agree with the file's when it has one.
 */
export async function readCheckpoint(path: string, config?: TrackerNetConfig): Promise<Checkpoint> {
  const { tensors, metadata } = await readSafetensors(path);
  let stored: TrackerNetConfig | undefined;
  const text = metadata[CHECKPOINT_METADATA.config];
  if (text !== undefined) {
    try {
      stored = validateNetConfig(JSON.parse(text));
    } catch (error) {
      throw new CtEdgeError('ERR_CHECKPOINT', `${path}: its stored network config is unusable (${(error as Error).message})`, { cause: error });
    }
  }
  if (stored && config && JSON.stringify(stored) !== JSON.stringify(validateNetConfig(config))) {
    throw new CtEdgeError('ERR_CHECKPOINT', `${path} holds a network ${JSON.stringify(stored)}, not the requested ${JSON.stringify(config)}`);
  }
  const chosen = stored ?? (config && validateNetConfig(config));
  if (!chosen) {
    throw new CtEdgeError(
      'ERR_CHECKPOINT',
      `${path} does not say which network it holds (no ${CHECKPOINT_METADATA.config} metadata); name its preset, e.g. --preset ostrack-256`,
    );
  }
  return { config: chosen, weights: checkWeights(chosen, tensors, path) };
}

/** Writes a checkpoint atomically (a crash mid-save leaves the previous file intact). */
export async function writeCheckpoint(path: string, checkpoint: Checkpoint, options: { dtype?: SafetensorsDtype } = {}): Promise<void> {
  const weights = checkWeights(checkpoint.config, checkpoint.weights, 'the weights to save');
  await writeSafetensors(path, weights, {
    dtype: options.dtype,
    metadata: { [CHECKPOINT_METADATA.format]: CHECKPOINT_FORMAT, [CHECKPOINT_METADATA.config]: JSON.stringify(checkpoint.config) },
  });
}
