/** Dataset readers on tiny fake datasets, one per layout, written to a temp folder. */
import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import sharp from 'sharp';
import { openDataset, parseDatasetFormat } from '../ts/deploy/datasets/dataset.js';
import { readOtbSequence } from '../ts/deploy/datasets/otb.js';
import { CtEdgeError } from '../ts/index.js';

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-datasets-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function write(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

/** Small grey PNG frames named by `name(i)` in `dir`. */
async function frames(dir: string, count: number, name: (i: number) => string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const png = await sharp({ create: { width: 32, height: 24, channels: 3, background: { r: 90, g: 90, b: 90 } } }).png().toBuffer();
  for (let i = 0; i < count; i++) await writeFile(join(dir, name(i)), png);
}

const boxLines = (n: number, sep = ',') => Array.from({ length: n }, (_, i) => [2 + i, 3, 10, 8].join(sep)).join('\n') + '\n';

test('OTB: sequences in natural order; malformed or missing ground truth is skipped by name', async (t) => {
  const root = await tempDir(t);
  await frames(join(root, 'seq10', 'img'), 2, (i) => `${String(i + 1).padStart(4, '0')}.png`);
  await write(join(root, 'seq10', 'groundtruth_rect.txt'), boxLines(2, '\t'));
  await frames(join(root, 'seq2', 'img'), 3, (i) => `${String(i + 1).padStart(4, '0')}.png`);
  await write(join(root, 'seq2', 'groundtruth_rect.txt'), boxLines(3));
  await frames(join(root, 'broken', 'img'), 2, (i) => `${i + 1}.png`);
  await write(join(root, 'broken', 'groundtruth_rect.txt'), '1,2,3,4\n1,2,3\n');
  await frames(join(root, 'nogt', 'img'), 2, (i) => `${i + 1}.png`);

  const ds = await openDataset(root, 'otb');
  t.deepEqual(ds.sequences.map((s) => s.name), ['seq2', 'seq10']);
  t.is(ds.sequences[0].framePaths.length, 3);
  t.deepEqual(ds.sequences[1].groundTruth[1], { x: 3, y: 3, width: 10, height: 8 });
  t.deepEqual(ds.skipped.map((s) => s.name), ['broken', 'nogt']);
  t.regex(ds.skipped[0].reason, /groundtruth_rect\.txt:2: expected x,y,w,h/);
  t.regex(ds.skipped[1].reason, /missing ground truth/);

  const one = await openDataset(join(root, 'seq2'), 'otb');
  t.deepEqual(one.sequences.map((s) => s.name), ['seq2'], 'a single sequence folder works as a dataset');
  t.is((await readOtbSequence(join(root, 'seq10'))).framePaths.length, 2);

  const picked = await openDataset(root, 'otb', ['seq10']);
  t.deepEqual(picked.sequences.map((s) => s.name), ['seq10']);
  await t.throwsAsync(openDataset(root, 'otb', ['nope']), { instanceOf: CtEdgeError, message: /no sequence named nope/ });
});

test('GOT-10k: frames beside groundtruth.txt, absence.label frames unscored', async (t) => {
  const root = await tempDir(t);
  const seq = join(root, 'GOT-10k_Val_000001');
  await frames(seq, 3, (i) => `${String(i + 1).padStart(8, '0')}.png`);
  await write(join(seq, 'groundtruth.txt'), boxLines(3));
  await write(join(seq, 'absence.label'), '0\n1\n0\n');
  await write(join(root, 'list.txt'), 'GOT-10k_Val_000001\n');
  // The test split ships only the first box: not scorable, skipped.
  const testSeq = join(root, 'GOT-10k_Test_000001');
  await frames(testSeq, 3, (i) => `${String(i + 1).padStart(8, '0')}.png`);
  await write(join(testSeq, 'groundtruth.txt'), boxLines(1));

  const ds = await openDataset(root, 'got10k');
  t.deepEqual(ds.sequences.map((s) => s.name), ['GOT-10k_Val_000001']);
  const s = ds.sequences[0];
  t.is(s.framePaths.length, 3);
  t.true(s.framePaths.every((p) => basename(dirname(p)) === 'GOT-10k_Val_000001'));
  t.deepEqual(s.groundTruth.map((b) => b !== null), [true, false, true]);
  t.deepEqual(ds.skipped.map((x) => x.name), ['GOT-10k_Test_000001']);
  t.regex(ds.skipped[0].reason, /has 1 boxes for 3 frames/);
});

test('LaSOT: <class>/<class>-N/img, occluded and out-of-view frames unscored', async (t) => {
  const root = await tempDir(t);
  const seq = join(root, 'cat', 'cat-1');
  await frames(join(seq, 'img'), 4, (i) => `${String(i + 1).padStart(8, '0')}.png`);
  await write(join(seq, 'groundtruth.txt'), boxLines(4));
  await write(join(seq, 'full_occlusion.txt'), '0,0,1,0');
  await write(join(seq, 'out_of_view.txt'), '0,1,0,0');
  await write(join(seq, 'nlp.txt'), 'a cat');
  const bad = join(root, 'cat', 'cat-2');
  await frames(join(bad, 'img'), 2, (i) => `${String(i + 1).padStart(8, '0')}.png`);
  await write(join(bad, 'groundtruth.txt'), '0,0,0,0\n1,1,5,5\n');

  const ds = await openDataset(root, 'lasot');
  t.deepEqual(ds.sequences.map((s) => s.name), ['cat-1']);
  t.deepEqual(ds.sequences[0].groundTruth.map((b) => b !== null), [true, false, false, true]);
  t.deepEqual(ds.skipped, [{ name: 'cat-2', reason: `${join(bad, 'groundtruth.txt')}: the first frame has no valid box to start the tracker from` }]);
  t.deepEqual((await openDataset(join(root, 'cat'), 'lasot')).sequences.map((s) => s.name), ['cat-1'], 'a class folder works too');
});

test('TrackingNet: chunks of frames/<seq>/N.jpg and anno/<seq>.txt, frames in numeric order', async (t) => {
  const root = await tempDir(t);
  await frames(join(root, 'TRAIN_0', 'frames', 'abc_1'), 12, (i) => `${i}.png`);
  await write(join(root, 'TRAIN_0', 'anno', 'abc_1.txt'), boxLines(12));
  await frames(join(root, 'TEST', 'frames', 'xyz_2'), 3, (i) => `${i}.png`);
  await write(join(root, 'TEST', 'anno', 'xyz_2.txt'), boxLines(1));

  const ds = await openDataset(root, 'trackingnet');
  t.deepEqual(ds.sequences.map((s) => s.name), ['abc_1']);
  t.deepEqual(ds.sequences[0].framePaths.slice(0, 3).map((p) => basename(p)), ['0.png', '1.png', '2.png']);
  t.is(basename(ds.sequences[0].framePaths[11]), '11.png');
  t.deepEqual(ds.skipped.map((s) => s.name), ['xyz_2']);
  t.deepEqual((await openDataset(join(root, 'TRAIN_0'), 'trackingnet')).sequences.map((s) => s.name), ['abc_1'], 'one chunk works too');
});

test('bad dataset input: missing folder, unknown format, nothing readable', async (t) => {
  const root = await tempDir(t);
  await t.throwsAsync(openDataset(join(root, 'missing'), 'otb'), { instanceOf: CtEdgeError, message: /dataset folder not found: .*missing/ });
  t.throws(() => parseDatasetFormat('vot'), { instanceOf: CtEdgeError, message: "unknown dataset format 'vot'; use one of otb, got10k, lasot, trackingnet" });
  await mkdir(join(root, 'empty-seq'));
  const error = await t.throwsAsync(openDataset(root, 'lasot'), { instanceOf: CtEdgeError });
  t.is(error?.code, 'ERR_DATASET');
  t.regex(error!.message, /no readable lasot sequences .*Expected layout: <class>\/<class>-N\/img/);
});
