/**
 * Teacher training throughput on this machine: one training step (batch sampling, forward,
 * backward, gradient clipping, AdamW) with the batch on this thread and split over 2..N worker
 * threads (ts/train/parallel.ts), for each batch size given, side by side. Rounds are interleaved
 * (a few steps of each setting per round, the order rotating) so that background load hits every
 * setting alike. Speed-up is in pairs per second against the first setting.
 *
 *   npx tsx tools/bench-training.ts [--preset tiny] [--batch 8,16] [--workers 1,2] [--rounds 6] [--steps 5]
 */
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../ts/train/model/backend.js';
import { netConfig, PRESETS, type PresetName } from '../ts/train/model/config.js';
import { TrackerNet } from '../ts/train/model/network.js';
import { AdamW, clipGradNorm } from '../ts/train/adamw.js';
import { trainingPairs } from '../ts/train/data-source.js';
import { localGradients, type StepGradients } from '../ts/train/loop.js';
import { teacherObjective } from '../ts/train/objectives.js';
import { parallelObjective } from '../ts/train/parallel.js';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'tiny' },
    batch: { type: 'string', default: '8' },
    workers: { type: 'string', default: `1,${Math.min(availableParallelism(), 4)}` },
    rounds: { type: 'string', default: '6' },
    steps: { type: 'string', default: '5' },
  },
});
if (!(values.preset! in PRESETS)) throw new Error(`unknown --preset ${values.preset}; presets are ${Object.keys(PRESETS).join(', ')}`);
const [rounds, stepsPerRound] = [values.rounds, values.steps].map(Number);
const [batchSizes, workerCounts] = [values.batch, values.workers].map((list) => list!.split(',').map(Number));
if (![rounds, stepsPerRound, ...batchSizes, ...workerCounts].every((n) => Number.isInteger(n) && n >= 1)) throw new Error('--batch, --rounds, --steps and --workers take whole numbers >= 1');

const backend = await initBackend();
const config = netConfig(values.preset as PresetName);
const data = { seed: 1, clip: {}, mix: { easy: 1, moderate: 1 } };

interface Setting {
  batchSize: number;
  workers: number;
  net: TrackerNet;
  optimizer: AdamW;
  gradients(step: number): Promise<StepGradients>;
  params: Record<string, tf.Variable>;
  dispose(): Promise<void>;
  times: number[];
  step: number;
}

const settings: Setting[] = [];
for (const batchSize of batchSizes) for (const workers of workerCounts) {
  const net = TrackerNet.random(config, 1);
  const params = Object.fromEntries([...net.variables].filter(([, v]) => v.trainable));
  const optimizer = new AdamW({ learningRate: 1e-3, weightDecay: 1e-4 });
  const local = teacherObjective(net, trainingPairs(config, data), batchSize);
  const parallel = workers > 1 ? await parallelObjective(local, { kind: 'teacher', config, batchSize }, { data, workers, backend }) : undefined;
  settings.push({
    batchSize, workers, net, optimizer, params,
    gradients: (s) => (parallel ? parallel.gradients(s) : localGradients(local, s)),
    dispose: async () => {
      await parallel?.dispose();
      local.dispose();
    },
    times: [],
    step: 0,
  });
}

async function trainStep(s: Setting): Promise<number> {
  const t0 = performance.now();
  const { grads } = await s.gradients(++s.step);
  clipGradNorm(grads, 0.1);
  s.optimizer.apply(s.params, grads);
  tf.dispose(Object.values(grads));
  return performance.now() - t0;
}

try {
  for (const s of settings) for (let i = 0; i < 2; i++) await trainStep(s); // warm-up: kernels, first batches
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < settings.length; k++) {
      const s = settings[(k + r) % settings.length];
      for (let i = 0; i < stepsPerRound; i++) s.times.push(await trainStep(s));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const pairsPerSecond = (s: Setting) => (1000 * s.batchSize) / median(s.times);
  const base = pairsPerSecond(settings[0]);
  console.log(`TensorFlow.js ${backend}, ${cpus().length} x ${cpus()[0]?.model.trim()}; preset ${values.preset}; ${rounds} interleaved rounds of ${stepsPerRound} steps`);
  console.log('batch | workers | median ms/step | pairs/s | speed-up');
  console.log('----- | ------- | -------------- | ------- | --------');
  for (const s of settings) {
    const cells = [String(s.batchSize).padStart(5), String(s.workers).padStart(7), median(s.times).toFixed(0).padStart(14), pairsPerSecond(s).toFixed(1).padStart(7)];
    console.log([...cells, `${(pairsPerSecond(s) / base).toFixed(2)}x`.padStart(8)].join(' | '));
  }
} finally {
  for (const s of settings) {
    await s.dispose();
    s.optimizer.dispose();
    s.net.dispose();
  }
}
