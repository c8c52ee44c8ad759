/**
 * Training data from the command line (`--data`) and compression without labels: the teacher picks
 * targets in unlabeled footage, follows them, and its own boxes become the targets.
 */
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CtEdgeError, Engine } from '../ts/index.js';
import { writeImage } from '../ts/deploy/io/images.js';
import { parseDataSource } from '../ts/train/data/data-spec.js';
import { createClip } from '../ts/train/data/generator.js';
import { pseudoLabel, readTracks } from '../ts/train/data/pseudo-label.js';
import { proposeTargets } from '../ts/deploy/eval/targets.js';
import { iou } from '../ts/deploy/eval/metrics.js';
import { writeGot10k } from '../ts/train/data/writer.js';
import { compressionObjective, DEFAULT_SCHEDULE } from '../ts/train/compress.js';
import { initBackend } from '../ts/train/model/backend.js';
import { netConfig } from '../ts/train/model/config.js';
import { TrackerNet } from '../ts/train/model/network.js';
import { teacherObjective, type PairBatchSource } from '../ts/train/objectives.js';
import { command as train } from '../ts/cli/commands/train.js';
import { runCommand } from './helpers/cli.js';
import { randomBatch } from './helpers/batches.js';
import { hasSharedData, repoRoot, sharedData, sharedDataSkipReason, vitTrackOptions, vitTrackPath } from './helpers/data.js';

let dir: string;
/** The tracks files in this file's footage cache. */
async function cachedTracks(): Promise<string[]> {
  const root = join(dir, 'cache', 'footage');
  return (await readdir(root)).map((entry) => join(root, entry, 'tracks.json')).filter((f) => existsSync(f));
}

test.before(async () => {
  await initBackend(['wasm', 'cpu']);
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-footage-'));
  process.env.CT_EDGE_CACHE = join(dir, 'cache'); // compressions here share this cache, as runs on one machine do
  // "Footage": the frames of a generated clip as an image folder, its labels thrown away.
  const clip = createClip(11, { length: 40, width: 320, height: 240 });
  await mkdir(join(dir, 'footage'));
  for (let i = 0; i < clip.length; i++) await writeImage(join(dir, 'footage', `${String(i + 1).padStart(4, '0')}.png`), clip.renderFrame(i));
  await writeGot10k(join(dir, 'labelled'), [createClip(12, { length: 10 })]);
  // "Stills": one frame from each of five unrelated generated clips.
  await mkdir(join(dir, 'stills'));
  for (let k = 0; k < 5; k++) await writeImage(join(dir, 'stills', `still-${k}.png`), createClip(20 + k, { length: 2, width: 320, height: 240 }).renderFrame(0));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('--data names generated clips, labelled datasets, COCO files and footage, each with a share', async (t) => {
  t.deepEqual(await parseDataSource('synthetic'), { kind: 'synthetic', weight: 1 });
  t.deepEqual(await parseDataSource('synthetic:easy=1,moderate=2@0.5'), { kind: 'synthetic', weight: 0.5, mix: { easy: 1, moderate: 2 } });
  t.like(await parseDataSource(join(dir, 'labelled')), { kind: 'dataset', format: 'got10k', weight: 1 });
  t.deepEqual(await parseDataSource(`${join(dir, 'footage')}@3`), { kind: 'footage', weight: 3, inputs: [join(dir, 'footage')] });
  const glob = await parseDataSource(join(dir, 'footage', '000*.png'));
  t.is(glob.kind === 'footage' && glob.inputs.length, 9);
  await writeFile(join(dir, 'clip.mp4'), '');
  t.deepEqual(await parseDataSource(join(dir, 'clip.mp4')), { kind: 'footage', weight: 1, inputs: [join(dir, 'clip.mp4')] });
  await t.throwsAsync(parseDataSource(join(dir, 'missing')), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /no such file or folder/ });
  await t.throwsAsync(parseDataSource('synthetic@0'), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /share after @ must be a positive number/ });
  await t.throwsAsync(parseDataSource('synthetic:wild=1'), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /easy, moderate, hard/ });
  await t.throwsAsync(parseDataSource(join(dir, 'footage', '*.mov')), { instanceOf: CtEdgeError, message: /matches no file/ });
  await mkdir(join(dir, 'empty'), { recursive: true });
  await t.throwsAsync(parseDataSource(join(dir, 'empty')), { instanceOf: CtEdgeError, message: /no labelled dataset .* and no images/ });
});

test('--data stills: names a folder or a pattern of unrelated images; anything else is refused', async (t) => {
  const stills = await parseDataSource(`stills:${join(dir, 'stills')}@2`);
  t.deepEqual(stills, { kind: 'footage', weight: 2, inputs: [0, 1, 2, 3, 4].map((k) => join(dir, 'stills', `still-${k}.png`)), stills: true });
  t.like(await parseDataSource(`stills:${join(dir, 'stills', 'still-*.png')}`), { kind: 'footage', stills: true, inputs: stills.kind === 'footage' ? stills.inputs : [] });
  t.is(((await parseDataSource(`stills:${join(dir, 'stills', '*-3.png')}`)) as { inputs: string[] }).inputs.length, 1);
  await t.throwsAsync(parseDataSource(`stills:${join(dir, 'no-such-folder')}`), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /stills:.*no such folder/ });
  await t.throwsAsync(parseDataSource(`stills:${join(dir, 'stills', 'still-0.png')}`), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /takes a folder of images or a pattern/ });
  await mkdir(join(dir, 'no-images'), { recursive: true });
  await t.throwsAsync(parseDataSource(`stills:${join(dir, 'no-images')}`), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /stills:.*no-images: no images \(jpg, png/ });
  await t.throwsAsync(parseDataSource(`stills:${join(dir, 'no-such-folder', '*.jpg')}`), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /^--data stills:.*no-such-folder.*: no folder / });
  await t.throwsAsync(parseDataSource(`stills:${join(dir, 'stills', '*.mov')}`), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /matches no image/ });
});

test('the target rule picks what stands out: a textured square on a flat background', (t) => {
  const width = 200;
  const height = 150;
  const data = new Uint8Array(width * height * 3).fill(90);
  for (let y = 60; y < 90; y++) for (let x = 120; x < 150; x++) data.fill((x + y) % 2 ? 250 : 10, 3 * (y * width + x), 3 * (y * width + x) + 3);
  const [best] = proposeTargets({ data, width, height, format: 'rgb' }, 2);
  t.true(best.x < 150 && best.x + best.width > 120 && best.y < 90 && best.y + best.height > 60, JSON.stringify(best));
});

test.serial('the teacher tracks footage into pseudo-labelled tracks, never past the held-out tail; nothing held is an error', async (t) => {
  const engine = await Engine.load(join(repoRoot, 'models', 'teacher.onnx'), { threads: 1 });
  try {
    const progress: [number, number, number][] = [];
    const file = await pseudoLabel([join(dir, 'footage')], engine, join(dir, 'tracks'), { every: 10, span: 20, minScore: 0.2, onProgress: (_, done, total, kept) => progress.push([done, total, kept]) });
    const tracks = await readTracks(file);
    t.true(tracks.length > 0);
    t.deepEqual(progress.map(([done]) => done), [10, 20, 32], 'progress after every start, up to the training frames');
    t.is(progress.at(-1)![2], tracks.length, 'with the targets kept so far');
    const held = (JSON.parse(await readFile(file, 'utf8')) as { videos: { trainFrames: number }[] }).videos[0].trainFrames;
    t.is(held, 32); // 80% of 40
    for (const track of tracks) {
      t.true(track.frames.every((f) => Number(/(\d+)\.jpg$/.exec(f)![1]) <= held), 'a track reaches into the held-out 20%');
      t.true(track.scores.slice(1).every((s) => s >= 0.2));
    }
    await t.throwsAsync(pseudoLabel([join(dir, 'footage')], engine, join(dir, 'none'), { minScore: 1.01 }), { instanceOf: CtEdgeError, code: 'ERR_DATASET', message: /the teacher held no target/ });
    // Ctrl-C while the teacher labels: it stops at the next start, and leaves no tracks to reuse
    let polls = 0;
    await t.throwsAsync(pseudoLabel([join(dir, 'footage')], engine, join(dir, 'stopped'), { every: 10, stopRequested: () => ++polls > 2 }), {
      instanceOf: CtEdgeError,
      code: 'ERR_STOPPED',
      message: /stopped while the teacher labelled .*footage \(before any training step\): rerun the same command/,
    });
    t.is(polls, 3, 'it stopped at the third start');
    t.false(existsSync(join(dir, 'stopped', 'tracks.json')));
    await t.throwsAsync(pseudoLabel([join(dir, 'empty')], engine, join(dir, 'none2')), { instanceOf: CtEdgeError, code: 'ERR_DATASET' });
    // A tracks file cut short or of another kind is refused, naming how to make it again.
    const text = await readFile(file, 'utf8');
    await writeFile(join(dir, 'cut.json'), text.slice(0, text.length / 2));
    await t.throwsAsync(readTracks(join(dir, 'cut.json')), { instanceOf: CtEdgeError, code: 'ERR_DATASET', message: /cannot read the tracks file/ });
    await writeFile(join(dir, 'other.json'), JSON.stringify({ format: 'something/1', tracks: [] }));
    await t.throwsAsync(readTracks(join(dir, 'other.json')), { instanceOf: CtEdgeError, code: 'ERR_DATASET', message: /not a ct-edge tracks file .*rerunning the compression/ });
  } finally {
    await engine.dispose();
  }
});

test.serial("unlabeled pairs train on the teacher's boxes, not on the boxes that placed their crops", async (t) => {
  // No BatchNorm in the head (as an imported VitTrack): the student computes exactly what the teacher does.
  const config = netConfig('tiny', { depth: 2, headNorm: 'none' });
  const teacher = TrackerNet.random(config, 5);
  // Boxes far from anything the teacher predicts: as labels they cost a lot, as crop placement nothing.
  const source = (labelled: number): PairBatchSource => ({
    async batch(_step, count) {
      const b = randomBatch(config, count, 3);
      b.boxes.forEach((_, i) => (b.boxes[i] = i % 4 < 2 ? 0.01 : 0.02));
      return { ...b, labelled: new Uint8Array(count).fill(labelled) };
    },
    describe: () => ({ kind: 'test' }),
  });
  // The student starts as an exact copy (2 blocks from 2 stages of one), so on the teacher's own
  // boxes its box terms vanish; on the crop-placing boxes they do not.
  const boxTerms = async (labelled: number) => {
    const objective = compressionObjective(teacher, source(labelled), { studentBlocks: 2, init: 'last', schedule: DEFAULT_SCHEDULE, guidance: true, mimic: true, replacement: true, batchSize: 2, steps: 10, seed: 1 });
    await objective.prepare(1);
    const value = tf.tidy(() => {
      const l = objective.losses(1);
      return l.giou.dataSync()[0] + l.l1.dataSync()[0];
    });
    objective.dispose();
    return value;
  };
  const [asLabels, asPlacement] = [await boxTerms(1), await boxTerms(0)];
  t.log(`GIoU + L1: boxes as labels ${asLabels.toFixed(4)}, teacher's boxes as targets ${asPlacement.toExponential(2)}`);
  t.true(asLabels > 0.1);
  t.true(asPlacement < 1e-4);
  // Training a tracker from scratch needs labels.
  const net = TrackerNet.random(config, 6);
  const objective = teacherObjective(net, source(0), 2);
  await t.throwsAsync(objective.prepare(1), { instanceOf: CtEdgeError, code: 'ERR_DATASET', message: /needs labelled pairs/ });
  objective.dispose();
  net.dispose();
  teacher.dispose();
});

test.serial('stills: the teacher keeps a target where it finds its own template again in the same image; each track is that image twice', async (t) => {
  const engine = await Engine.load(join(repoRoot, 'models', 'teacher.onnx'), { threads: 1 });
  try {
    const images = [0, 1, 2, 3, 4].map((k) => join(dir, 'stills', `still-${k}.png`));
    const file = await pseudoLabel(images, engine, join(dir, 'stills-tracks'), { stills: true, minScore: 0.2 });
    const tracks = await readTracks(file);
    t.true(tracks.length > 0);
    for (const track of tracks) {
      t.is(track.frames.length, 2);
      t.is(track.frames[0], track.frames[1]);
      t.true(iou(track.boxes[0], track.boxes[1]) >= 0.5, JSON.stringify(track.boxes));
      t.true(track.scores[1] >= 0.2);
    }
    const written = JSON.parse(await readFile(file, 'utf8')) as { settings: { stills: boolean }; videos: { video: string; frames: number }[] };
    t.true(written.settings.stills);
    t.deepEqual(written.videos.map((v) => [v.video, v.frames]), images.map((v) => [v, 1]), 'every image is used, none held out');
    await t.throwsAsync(pseudoLabel(images, engine, join(dir, 'stills-none'), { stills: true, minScore: 1.01 }), { instanceOf: CtEdgeError, code: 'ERR_DATASET', message: /the teacher held no target/ });
    // An unreadable image stops the run by name, and leaves no tracks file beside the frames it overwrote.
    await writeFile(join(dir, 'broken.jpg'), 'not a JPEG');
    await t.throwsAsync(pseudoLabel([images[1], join(dir, 'broken.jpg')], engine, join(dir, 'stills-tracks'), { stills: true }), { instanceOf: CtEdgeError, code: 'ERR_DATASET', message: /^--data stills: cannot read image .*broken\.jpg.*; remove it or convert it/ });
    await t.throwsAsync(readFile(file), { code: 'ENOENT' });
  } finally {
    await engine.dispose();
  }
});

test.serial('ct-edge compress trains on stills alone, and reuses their tracks on a second run', async (t) => {
  const { command: compress } = await import('../ts/cli/commands/compress.js');
  const output = join(dir, 'stills-student.safetensors');
  const args = ['--teacher', join(repoRoot, 'models', 'teacher.safetensors'), '--blocks', '1', '--steps', '1', '--batch', '2', '--workers', '1', '--data', `stills:${join(dir, 'stills')}`, '-o', output];
  const first = await runCommand(compress, args);
  t.is(first.code, 0, first.stdout);
  const [tracks] = await cachedTracks();
  const made = (await stat(tracks)).mtimeMs;
  const second = await runCommand(compress, [...args.slice(0, -1), join(dir, 'another-student.safetensors')]);
  t.is(second.code, 0, second.stdout);
  t.is((await stat(tracks)).mtimeMs, made, 'the stills were labelled again for another output');
});

test('ct-edge train refuses unlabeled footage and stills before any work, naming compress', async (t) => {
  await t.throwsAsync(runCommand(train, ['--steps', '1', '--data', join(dir, 'footage'), '-o', join(dir, 'x.safetensors')]), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /needs labelled data.*ct-edge compress/ });
  await t.throwsAsync(runCommand(train, ['--steps', '1', '--data', `stills:${join(dir, 'stills')}`, '-o', join(dir, 'x.safetensors')]), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /needs labelled data; unlabeled still images \(5, .*still-0\.png first\).*ct-edge compress/ });
});

test('ct-edge calibrate measures on --data labelled folders and refuses footage', async (t) => {
  const { command: calibrate } = await import('../ts/cli/commands/calibrate.js');
  const out = join(dir, 'calibrated.safetensors');
  await t.throwsAsync(runCommand(calibrate, [join(repoRoot, 'models', 'teacher.safetensors'), '--data', join(dir, 'footage'), '-o', out]), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /^calibrate needs labelled data.*needs no calibration/ });
  const { code, stdout } = await runCommand(calibrate, [join(repoRoot, 'models', 'teacher.safetensors'), '--data', join(dir, 'labelled'), '--pairs', '16', '-o', out]);
  t.is(code, 0);
  t.regex(stdout, /wrote .*calibrated\.safetensors: on \d+ of 16 pairs/);
});

(hasSharedData ? test.serial : test.skip)(`compressTracker on real footage alone: the teacher tracks it once, a second run reuses the tracks without running the teacher${hasSharedData ? '' : ` (${sharedDataSkipReason})`}`, async (t) => {
  const { compressTracker, RUN_DEFAULTS, COMPRESS_DEFAULTS } = await import('../ts/train/train-tracker.js');
  const { importTrackerOnnx } = await import('../ts/train/import-onnx.js');
  const { writeCheckpoint } = await import('../ts/train/checkpoint/checkpoint.js');
  const { stat } = await import('node:fs/promises');
  const teacher = join(dir, 'vittrack.safetensors');
  await writeCheckpoint(teacher, await importTrackerOnnx(vitTrackPath, vitTrackOptions));
  const output = join(dir, 'footage-student.safetensors');
  const run = () =>
    compressTracker({
      ...RUN_DEFAULTS,
      learningRate: 1e-4,
      steps: 1,
      batchSize: 2,
      workers: 1,
      resume: false,
      teacher,
      output,
      compress: { ...COMPRESS_DEFAULTS, studentBlocks: 1 },
      data: { seed: 1, sources: [{ kind: 'footage', weight: 1, inputs: [join(sharedData, 'unlabeled', 'tree.avi')] }] },
    });
  const first = await run();
  t.like(first.config, { depth: 1, channelOrder: 'bgr', stem: [6, 12, 24, 48] });
  const tracks = (await cachedTracks()).find((f) => readFileSync(f, 'utf8').includes('tree.avi'))!;
  const made = (await stat(tracks)).mtimeMs;
  const teacherOnnx = (await readdir(join(dir, 'cache', 'footage'))).filter((f) => f === `teacher-${createHash('sha256').update(readFileSync(teacher)).digest('hex').slice(0, 16)}.onnx`);
  t.is(teacherOnnx.length, 1, 'the teacher in the cache, named by its content');
  await rm(join(dir, 'cache', 'footage', teacherOnnx[0]));
  await run();
  t.is((await stat(tracks)).mtimeMs, made, 'the tracks were made again');
  t.false(existsSync(join(dir, 'cache', 'footage', teacherOnnx[0])), 'the teacher ran although every track was reusable');
});

test.serial('a run resumes from another footage cache: its description names the footage, not where frames are kept', async (t) => {
  const { command: compress } = await import('../ts/cli/commands/compress.js');
  const output = join(dir, 'moved-cache-student.safetensors');
  const args = (steps: string) => ['--teacher', join(repoRoot, 'models', 'teacher.safetensors'), '--blocks', '1', '--steps', steps, '--batch', '2', '--workers', '1', '--checkpoint-every', '1', '--data', `regions:${join(dir, 'footage')}@1`, '--data', 'synthetic@1', '-o', output];
  t.is((await runCommand(compress, args('1'))).code, 0);
  const cache = process.env.CT_EDGE_CACHE;
  process.env.CT_EDGE_CACHE = join(dir, 'another-cache');
  try {
    const resumed = await runCommand(compress, [...args('2'), '--resume']);
    t.is(resumed.code, 0);
    t.true(existsSync(join(dir, 'another-cache', 'footage')), 'the footage decoded again into the new cache');
  } finally {
    process.env.CT_EDGE_CACHE = cache;
  }
});
