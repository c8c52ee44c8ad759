import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import sharp from 'sharp';
import { openCoco } from '../ts/deploy/datasets/coco.js';
import { openDataset } from '../ts/deploy/datasets/dataset.js';
import { writeImage } from '../ts/deploy/io/images.js';
import { CtEdgeError, type ErrorCode } from '../ts/contract/errors.js';
import { createClip, trainingClipSeed } from '../ts/train/data/generator.js';
import { PairSampler } from '../ts/train/data/sampler.js';
import { cocoSource, sequenceSource } from '../ts/train/data/sources.js';
import { writeContactSheet, writeGot10k } from '../ts/train/data/writer.js';
import { squareFrame } from './helpers/frames.js';

const code = (c: ErrorCode) => ({ instanceOf: CtEdgeError, code: c });
const smallCrops = { templateSize: 32, searchSize: 64 };

let dir: string;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-data-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('generated clips round-trip through the GOT-10k reader, and feed the sampler', async (t) => {
  const root = join(dir, 'got10k');
  // A clip whose target is fully occluded for a while, so that absence.label has ones.
  const size = { width: 96, height: 72, length: 40 };
  const occluded = Array.from({ length: 20 }, (_, k) => trainingClipSeed(3, k)).find((seed) => createClip(seed, size).visible.includes(false));
  t.not(occluded, undefined);
  const clips = [createClip(occluded!, size, 'a'), createClip(21, { ...size, length: 12 }, 'b')];
  await writeGot10k(root, clips);
  t.is(await readFile(join(root, 'list.txt'), 'utf8'), 'a\nb\n');
  const dataset = await openDataset(root, 'got10k');
  t.deepEqual(dataset.skipped, []);
  t.deepEqual(
    dataset.sequences.map((s) => [s.name, s.framePaths.length]),
    [['a', 40], ['b', 12]],
  );
  dataset.sequences.forEach((sequence, k) => {
    sequence.groundTruth.forEach((box, i) => {
      if (!clips[k].visible[i]) return t.is(box, null);
      const want = clips[k].boxes[i];
      t.true(box !== null, `${sequence.name} frame ${i}`);
      for (const key of ['x', 'y', 'width', 'height'] as const) t.true(Math.abs(box![key] - want[key]) < 1e-3, `${sequence.name} frame ${i} ${key}: ${box![key]} vs ${want[key]}`);
    });
  });
  const sampler = new PairSampler([{ source: sequenceSource('got10k', dataset.sequences), weight: 1 }], { seed: 1, ...smallCrops });
  const sample = await sampler.sample(0);
  t.is(sample.search.length, 3 * 64 * 64);
  t.is(sample.source, 'got10k');
});

test('the contact sheet is a PNG grid of thumbnails', async (t) => {
  const path = join(dir, 'sheet.png');
  await writeContactSheet(path, [createClip(1, { width: 64, height: 48, length: 5 }), createClip(2, { width: 64, height: 48, length: 5 })], { columns: 3, thumbWidth: 40 });
  const meta = await sharp(path).metadata();
  t.is(meta.format, 'png');
  t.deepEqual([meta.width, meta.height], [3 * 44 + 4, 2 * 34 + 4]);
});

async function cocoFixture(name: string, json: unknown): Promise<string> {
  const root = join(dir, name);
  await mkdir(join(root, 'annotations'), { recursive: true });
  await mkdir(join(root, 'val2017'), { recursive: true });
  await writeImage(join(root, 'val2017', '1.png'), squareFrame(120, 90, 30, 20, 24));
  await writeImage(join(root, 'val2017', '2.png'), squareFrame(100, 80, 50, 40, 20));
  const file = join(root, 'annotations', 'instances_val2017.json');
  await writeFile(file, typeof json === 'string' ? json : JSON.stringify(json));
  return file;
}

const tinyCoco = {
  images: [
    { id: 1, file_name: '1.png', width: 120, height: 90 },
    { id: 2, file_name: '2.png', width: 100, height: 80 },
  ],
  annotations: [
    { id: 10, image_id: 1, bbox: [30, 20, 24, 24], iscrowd: 0, category_id: 3 },
    { id: 11, image_id: 2, bbox: [50, 40, 20, 20], iscrowd: 0, category_id: 5 },
    { id: 12, image_id: 2, bbox: [0, 0, 90, 70], iscrowd: 1, category_id: 5 },
  ],
};

test('COCO: non-crowd objects with their image paths, sampled as same-image pairs', async (t) => {
  const file = await cocoFixture('coco', tinyCoco);
  const coco = await openCoco(file);
  t.is(coco.imageDir, join(dir, 'coco', 'val2017'));
  t.is(coco.skipped, 1);
  t.deepEqual(coco.objects, [
    { imagePath: join(dir, 'coco', 'val2017', '1.png'), box: { x: 30, y: 20, width: 24, height: 24 }, categoryId: 3 },
    { imagePath: join(dir, 'coco', 'val2017', '2.png'), box: { x: 50, y: 40, width: 20, height: 20 }, categoryId: 5 },
  ]);
  const sampler = new PairSampler([{ source: cocoSource(coco), weight: 1 }], { seed: 1, ...smallCrops });
  const sample = await sampler.sample(0);
  t.is(sample.source, 'coco');
  t.true(Math.abs(sample.templateBox[0] - 0.5) < 0.05);
});

test('COCO: missing or malformed input is ERR_DATASET', async (t) => {
  await t.throwsAsync(openCoco(join(dir, 'nowhere.json')), code('ERR_DATASET'));
  const good = await cocoFixture('coco-dirs', tinyCoco);
  await t.throwsAsync(openCoco(good, join(dir, 'no-images')), code('ERR_DATASET'));
  const cases: [string, unknown][] = [
    ['not-json', '{"images": ['],
    ['no-arrays', { images: {} }],
    ['bad-image', { images: [{ id: 'x' }], annotations: [] }],
    ['bad-bbox', { ...tinyCoco, annotations: [{ image_id: 1, bbox: [1, 2, 3] }] }],
    ['unknown-image', { ...tinyCoco, annotations: [{ image_id: 9, bbox: [1, 2, 3, 4] }] }],
    ['only-crowd', { ...tinyCoco, annotations: [tinyCoco.annotations[2]] }],
  ];
  for (const [name, json] of cases) {
    const error = await t.throwsAsync(openCoco(await cocoFixture(name, json)), code('ERR_DATASET'));
    t.regex(error!.message, /instances_val2017\.json/, name);
  }
});

test('dataset sources need sequences with a visible target to pair', async (t) => {
  const sequence = { name: 's', framePaths: ['a.jpg', 'b.jpg'], groundTruth: [{ x: 1, y: 1, width: 5, height: 5 }, null] };
  t.throws(() => sequenceSource('empty', [sequence]), code('ERR_DATASET'));
  await t.throwsAsync(openDataset(join(dir, 'missing'), 'got10k'), code('ERR_DATASET'));
});
