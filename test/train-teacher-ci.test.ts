/**
 * Teacher training at CI size: a 2-block tiny tracker trained for a minute on easy generated clips
 * lowers its loss and tracks held-out clips better (success AUC, exported to ONNX and run by the
 * runtime's Tracker) than the same network with random weights.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDataset } from '../ts/deploy/datasets/dataset.js';
import { evaluate } from '../ts/deploy/eval/evaluate.js';
import { initBackend } from '../ts/train/model/backend.js';
import { netConfig } from '../ts/train/model/config.js';
import { TrackerNet } from '../ts/train/model/network.js';
import { writeTrackerOnnx } from '../ts/train/export-onnx.js';
import { Engine } from '../ts/deploy/engine.js';
import { heldOutClips } from '../ts/train/data/generator.js';
import { writeGot10k } from '../ts/train/data/writer.js';
import { trainingPairs } from '../ts/train/data-source.js';
import { trainLoop } from '../ts/train/loop.js';
import { teacherObjective } from '../ts/train/objectives.js';

test('a minute of training lowers the loss and lifts held-out AUC above random weights', async (t) => {
  t.timeout(15 * 60_000); // about a minute on an idle 2-core machine; far longer when it is shared
  await initBackend(['wasm', 'cpu']);
  const dir = await mkdtemp(join(tmpdir(), 'ct-teacher-ci-'));
  const config = netConfig('tiny', { depth: 2 });
  const clip = { width: 160, height: 120, difficulty: 'easy' as const };
  const random = TrackerNet.random(config, 1);
  await writeTrackerOnnx(join(dir, 'random.onnx'), config, random.weights());
  const net = TrackerNet.random(config, 1);
  const objective = teacherObjective(net, trainingPairs(config, { seed: 1, clip }), 8);
  const log = await trainLoop(objective, {
    steps: 250, learningRate: 1e-3, weightDecay: 1e-4, clipNorm: 0.1, lrDropAt: 0.8, lrDropFactor: 0.1, checkpointEvery: 250,
    checkpointPath: join(dir, 'ckpt.safetensors'), logPath: join(dir, 'log.jsonl'), plotPath: join(dir, 'curves.png'), resume: false, label: 'ci-train',
  });
  await writeTrackerOnnx(join(dir, 'trained.onnx'), config, net.weights());
  const mean = (from: number, to: number) => log.slice(from, to).reduce((a, e) => a + e.losses.total, 0) / (to - from);
  t.log(`loss ${mean(0, 25).toFixed(2)} -> ${mean(225, 250).toFixed(2)}`);
  t.true(mean(225, 250) < 0.7 * mean(0, 25));

  await writeGot10k(join(dir, 'heldout'), heldOutClips(6, 3, { ...clip, length: 40 }));
  const engines = [await Engine.load(join(dir, 'random.onnx')), await Engine.load(join(dir, 'trained.onnx'))];
  const result = await evaluate([{ label: 'random', engine: engines[0] }, { label: 'trained', engine: engines[1] }], await openDataset(join(dir, 'heldout'), 'got10k'));
  const [before, after] = result.models.map((m) => m.auc);
  t.log(`held-out AUC: random weights ${(100 * before).toFixed(1)}, trained ${(100 * after).toFixed(1)}`);
  t.true(after > before + 0.03, 'training lifts AUC by more than 3 points');
  for (const e of engines) await e.dispose();
  objective.dispose();
  await rm(dir, { recursive: true });
});
