/**
 * A data-parallel training worker (started by ts/train/parallel.ts): a replica of the objective
 * that, for each step it is sent, takes the current weights from the shared buffer, samples its
 * part of the batch and writes that part's gradients (and updated BatchNorm statistics) back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './model/backend.js';
import { TrackerNet } from './model/network.js';
import { CtEdgeError } from '../contract/errors.js';
import { trainingPairs } from './data-source.js';
import { compressionObjective } from './compress.js';
import { localGradients } from './loop.js';
import { teacherObjective } from './objectives.js';
import type { GradientWorkerInit, GradientWorkerReply } from './parallel.js';

const port = parentPort!;
const init = workerData as GradientWorkerInit;
const reply = (message: GradientWorkerReply) => port.postMessage(message);
const errorOf = (error: unknown) => ({
  code: error instanceof CtEdgeError ? error.code : ('ERR_INTERNAL' as const),
  message: (error as Error).message ?? String(error),
});

try {
  await initBackend([init.backend]);
  const { recipe } = init;
  const config = recipe.kind === 'teacher' ? recipe.config : recipe.teacher.config;
  const data = trainingPairs(config, init.data);
  // This worker's part of each batch; the next step's is sampled while the main thread runs the
  // optimiser, so that data preparation leaves the critical path.
  let ahead: { step: number; batch: ReturnType<typeof data.batch> } | undefined;
  const fetch = (step: number) => {
    const batch = ahead?.step === step ? ahead.batch : data.batch(step, init.batchSize, init.part);
    ahead = undefined;
    return batch;
  };
  const part = { batch: (step: number) => fetch(step), describe: data.describe };
  // Start weights do not matter: the shared buffer overwrites them before every step.
  const objective = recipe.kind === 'teacher'
    ? teacherObjective(TrackerNet.random(recipe.config, 0), part, recipe.batchSize)
    : compressionObjective(TrackerNet.fromWeights(recipe.teacher.config, recipe.teacher.weights, recipe.teacher.source), part, recipe.options);
  const weights = new Float32Array(init.weights);
  const output = new Float32Array(init.output);
  const slots = init.layout.map((slot) => {
    const variable = objective.state.get(slot.name);
    if (!variable) throw new CtEdgeError('ERR_INTERNAL', `the replica has no variable '${slot.name}'`);
    return { ...slot, variable, size: slot.shape.reduce((a, b) => a * b, 1) };
  });

  port.on('message', async ({ step }: { step: number }) => {
    try {
      for (const s of slots) tf.tidy(() => s.variable.assign(tf.tensor(weights.subarray(s.offset, s.offset + s.size), s.shape)));
      const { terms, grads } = await localGradients(objective, step);
      // A variable the step did not use (a student block replaced by its teacher stage) has no
      // gradient: it is reported, and its slot zeroed.
      const unused: string[] = [];
      for (const s of slots) {
        const value = s.trainable ? grads[s.name] : s.variable;
        if (value) output.set(value.dataSync() as Float32Array, s.offset);
        else {
          output.fill(0, s.offset, s.offset + s.size);
          unused.push(s.name);
        }
      }
      tf.dispose(Object.values(grads));
      reply({ step, terms, unused, info: objective.stepInfo?.(step) });
      ahead = { step: step + 1, batch: data.batch(step + 1, init.batchSize, init.part) };
      ahead.batch.catch(() => undefined); // a failure surfaces when step + 1 asks for it
    } catch (error) {
      reply({ step, error: errorOf(error) });
    }
  });
  reply({ ready: true });
} catch (error) {
  reply({ error: errorOf(error) });
}
