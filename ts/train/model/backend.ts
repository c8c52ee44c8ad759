/**
 * Chooses the TensorFlow.js backend at run time. The first that loads wins: tfjs-node-gpu (CUDA),
 * tfjs-node (native TensorFlow), wasm, then the plain JavaScript cpu backend. tfjs-node and
 * tfjs-node-gpu are optional dependencies that often fail to install, so they are imported
 * dynamically and a failure only moves on to the next candidate.
 *
 * The wasm backend lacks some gradient kernels (Conv2DBackpropFilter among them), which is why the
 * convolutions in ./layers.ts carry their own gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { CtEdgeError } from '../../contract/errors.js';

export type BackendChoice = 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendChoice[] = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];

let chosen: { choice: BackendChoice; reasons: string[] } | undefined;

/** Imports a package whose name TypeScript must not resolve (it may not be installed). */
function importOptional(name: string): Promise<unknown> {
  return import(name);
}

async function tryBackend(choice: BackendChoice): Promise<void> {
  switch (choice) {
    case 'tfjs-node-gpu':
    case 'tfjs-node':
      // Both register the native backend under the name 'tensorflow'.
      await importOptional(`@tensorflow/${choice}`);
      if (!(await tf.setBackend('tensorflow'))) throw new Error('the tensorflow backend did not initialise');
      return;
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
      return;
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
      return;
  }
}

/** Calls run one after another, in call order: never two backend set-ups at once. */
let queue: Promise<unknown> = Promise.resolve();

/**
 * Activates the first backend of `order` that loads and returns its name. Later calls return the
 * backend chosen first, unless `order` is given (tests pin 'cpu' or 'wasm' this way).
 */
export function initBackend(order?: readonly BackendChoice[]): Promise<BackendChoice> {
  const run = queue.then(() => chooseBackend(order));
  queue = run.catch(() => undefined);
  return run;
}

async function chooseBackend(order?: readonly BackendChoice[]): Promise<BackendChoice> {
  if (chosen && !order) return chosen.choice;
  const reasons: string[] = [];
  for (const choice of order ?? BACKEND_ORDER) {
    try {
      await tryBackend(choice);
      await tf.ready();
      chosen = { choice, reasons };
      return choice;
    } catch (error) {
      reasons.push(`${choice}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  throw new CtEdgeError('ERR_BACKEND_UNAVAILABLE', `no TensorFlow.js backend could start (${reasons.join('; ')})`);
}

/** Name of the backend initBackend() chose (undefined before it ran). */
export function backendName(): BackendChoice | undefined {
  return chosen?.choice;
}

/** The backend initBackend() chose, and why the ones before it were skipped. */
export function backendInfo(): { name: BackendChoice; skipped: string[] } | undefined {
  return chosen && { name: chosen.choice, skipped: [...chosen.reasons] };
}
