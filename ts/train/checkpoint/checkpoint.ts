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

/**
 * A run's resume checkpoint (ts/train/loop.ts): its step and run description in the metadata, and
 * tensors prefixed by what they are: the objective's state, the optimiser's moments, the moving average.
 */
export const RESUME_CHECKPOINT = { step: 'ct_edge.train.step', run: 'ct_edge.train.run', inputs: 'ct_edge.train.inputs', state: 'state.', optim: 'optim.', ema: 'ema.' } as const;

/** The network a resume checkpoint's run trains (the student of a compression, else the network). */
function resumedNetwork(path: string, run: string): TrackerNetConfig {
  try {
    const objective = (JSON.parse(run) as { objective?: { student?: unknown; net?: unknown } }).objective;
    return validateNetConfig(objective?.student ?? objective?.net);
  } catch (error) {
    throw new CtEdgeError('ERR_CHECKPOINT', `${path} is a resume checkpoint whose run description names no usable network (${(error as Error).message})`, { cause: error });
  }
}

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
  if (metadata[CHECKPOINT_METADATA.config] === undefined && metadata[RESUME_CHECKPOINT.run] !== undefined) {
    // A run's resume checkpoint: its network at that step, the moving average where the run keeps one.
    const network = resumedNetwork(path, metadata[RESUME_CHECKPOINT.run]);
    const weights: WeightMap = new Map();
    for (const [name, t] of tensors) {
      if (name.startsWith(RESUME_CHECKPOINT.state)) weights.set(name.slice(RESUME_CHECKPOINT.state.length), t);
    }
    for (const [name, t] of tensors) {
      if (name.startsWith(RESUME_CHECKPOINT.ema)) weights.set(name.slice(RESUME_CHECKPOINT.ema.length), t);
    }
    const own = new Map([...weights].filter(([name]) => !name.startsWith('proj.'))); // a narrow student's projections live only in training
    if (config && JSON.stringify(network) !== JSON.stringify(validateNetConfig(config))) {
      throw new CtEdgeError('ERR_CHECKPOINT', `${path} holds a network ${JSON.stringify(network)}, not the requested ${JSON.stringify(config)}`);
    }
    return { config: network, weights: checkWeights(network, own, path) };
  }
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
