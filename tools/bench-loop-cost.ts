/**
 * Does the runtime eat what compression gains? For VitTrack and each shipped VitTrack student: the
 * model alone (a bare onnxruntime session.run on the first frame's crops, as the tracker makes them;
 * a two-part model: its per-frame part, the template part's outputs cached) against
 * Tracker.track() per frame, with the frames in ordinary memory and in shared memory (as ct-edge's
 * sources give them), and with the network on the calling thread (Engine.load's
 * inferenceThread: false; shared-memory frames). Frame-interleaved in one run: on each frame every
 * model runs every arm, the order of the models and of the arms rotating.
 *
 * Prints each model's times, its speed-up over VitTrack model-only and per tracked frame, and the
 * ratio of the two (goal: at least 0.95, issue 24: the loop must not eat the speed-up).
 *
 *   npx tsx tools/bench-loop-cost.ts [--sequence DIR] [--rounds 2] [--threads 1] [--model PATH ...]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { Engine, Tracker, type Frame } from '../ts/index.js';
import { readOtbSequence } from '../ts/deploy/datasets/otb.js';
import { readImage } from '../ts/deploy/io/images.js';
import { TWO_PART_METADATA } from '../ts/contract/model-config.js';
import { readOnnxMetadata } from '../ts/contract/onnx-reader.js';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadOptions, SHARED_SEQUENCES, VITTRACK_PATH } from './lib/models.js';

const models = join(import.meta.dirname, '..', 'models');
const { values } = parseArgs({
  options: {
    sequence: { type: 'string', default: join(SHARED_SEQUENCES, 'bag') },
    rounds: { type: 'string', default: '2' },
    threads: { type: 'string', default: '1' },
    model: { type: 'string', multiple: true },
    help: { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const threads = Number(values.threads);
if (values.help || !(Number.isInteger(rounds) && rounds > 0 && Number.isInteger(threads) && threads > 0)) {
  console.error('usage: npx tsx tools/bench-loop-cost.ts [--sequence DIR] [--rounds N] [--threads N] [--model PATH ...]');
  process.exit(values.help ? 0 : 2);
}
const paths = [VITTRACK_PATH, ...(values.model ?? ['vittrack-student', 'vittrack-student-narrow', 'vittrack-student-1', 'vittrack-student-2'].map((m) => join(models, `${m}.onnx`)))];

const sequence = await readOtbSequence(values.sequence!);
const ordinary: Frame[] = [];
for (const path of sequence.framePaths) ordinary.push(await readImage(path));
const shared = ordinary.map((f) => {
  const data = new Uint8Array(new SharedArrayBuffer((f.data as Uint8Array).length));
  data.set(f.data as Uint8Array);
  return { ...f, data };
});
const first = sequence.groundTruth[0]!;

const sessionOptions: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1 };

/** One model: its engine, two trackers (ordinary and shared frames) and the bare session with feeds from the tracker's crops. */
async function setUp(path: string) {
  const engine = await Engine.load(path, await loadOptions(path, threads));
  const inlineEngine = await Engine.load(path, { ...(await loadOptions(path, threads)), inferenceThread: false });
  const session = await ort.InferenceSession.create(path, sessionOptions);
  const templateFile = readOnnxMetadata(readFileSync(path))[TWO_PART_METADATA.templatePart];
  const templatePart = templateFile ? await ort.InferenceSession.create(join(dirname(path), templateFile), sessionOptions) : undefined;
  const trackers = { ordinary: new Tracker(engine), shared: new Tracker(engine), inline: new Tracker(inlineEngine) };
  const { config } = engine;
  const tensor = (data: Float32Array, side: number) => new ort.Tensor('float32', data, [1, 3, side, side]);
  let feeds: Record<string, ort.Tensor> = {};
  return {
    label: path.split('/').pop()!.replace(/\.onnx$/, ''),
    ms: { bare: 0, ordinary: 0, shared: 0, inline: 0 },
    async init(): Promise<void> {
      for (const t of Object.values(trackers)) t.init(ordinary[0], first);
      // The crops from a throwaway tracker: reading a tracker's inputs makes it copy each crop back.
      const crops = new Tracker(engine);
      crops.init(ordinary[0], first);
      await crops.track(ordinary[0]);
      const { template, search } = crops.inputs;
      await crops.track(ordinary[0]);
      const z = tensor(Float32Array.from(template), config.templateSize);
      const cached = templatePart ? await templatePart.run({ [config.inputs.template]: z }) : { [config.inputs.template]: z };
      feeds = { ...cached, [config.inputs.search]: tensor(Float32Array.from(search), config.searchSize) };
      crops.dispose();
    },
    /**
     * One frame of every arm, their order rotating frame by frame (the first arm after another
     * model finds its weights out of cache); the bare run's time does not depend on its crops.
     */
    async step(i: number, timed: boolean): Promise<void> {
      const run = {
        ordinary: () => trackers.ordinary.track(ordinary[i]),
        shared: () => trackers.shared.track(shared[i]),
        inline: () => trackers.inline.track(shared[i]),
        bare: () => session.run(feeds),
      };
      const order = (['ordinary', 'shared', 'inline', 'bare'] as const).map((_, k, all) => all[(i + k) % all.length]);
      for (const arm of order) {
        const t0 = performance.now();
        await run[arm]();
        if (timed) this.ms[arm] += performance.now() - t0;
      }
    },
    async dispose(): Promise<void> {
      for (const t of Object.values(trackers)) t.dispose();
      await engine.dispose();
      await inlineEngine.dispose();
      await session.release();
      await templatePart?.release();
    },
  };
}

const arms = [];
for (const path of paths) arms.push(await setUp(path));
let frames = 0;
for (let round = 0; round <= rounds; round++) {
  for (const arm of arms) await arm.init();
  for (let i = 1; i < ordinary.length; i++) {
    for (let k = 0; k < arms.length; k++) await arms[(i + k) % arms.length].step(i, round > 0); // round 0 warms up
    if (round > 0) frames += 1;
  }
}
console.log(`${sequence.name} (${ordinary[0].width}x${ordinary[0].height}), ${frames} frames per arm, onnxruntime ${threads} thread(s)`);
console.log('\n| model | model only, ms | track(), ms (ordinary / shared / calling thread) | speed-up model only | per tracked frame (ordinary / shared / calling thread) | ratio (ordinary / shared / calling thread) |');
console.log('|---|---:|---:|---:|---:|---:|');
const base = arms[0].ms;
for (const arm of arms) {
  const per = (v: number) => (v / frames).toFixed(3);
  const model = base.bare / arm.ms.bare;
  const modes = ['ordinary', 'shared', 'inline'] as const;
  const speedUps = modes.map((m) => base[m] / arm.ms[m]);
  console.log(
    `| ${arm.label} | ${per(arm.ms.bare)} | ${modes.map((m) => per(arm.ms[m])).join(' / ')} | ${model.toFixed(2)}x | ${speedUps.map((v) => `${v.toFixed(2)}x`).join(' / ')} | ${speedUps.map((v) => (v / model).toFixed(3)).join(' / ')} |`,
  );
}
for (const arm of arms) await arm.dispose();
