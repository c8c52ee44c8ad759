/**
 * --data composite:OBJECTS,BACKGROUNDS (ts/train/data/composite.ts): labelled pairs of cut-out
 * objects over photographs; the spec's errors.
 */
import test from 'ava';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { CtEdgeError } from '../ts/index.js';
import { compositeSource } from '../ts/train/data/composite.js';
import { parseDataSource } from '../ts/train/data/data-spec.js';
import { Rng } from '../ts/train/data/random.js';

let dir = '';
const MAGENTA = [255, 0, 255];
/** A w x h PNG: a solid `rgb` object with a transparent margin of `margin` px. */
async function cutOut(path: string, w: number, h: number, rgb: number[], margin: number): Promise<void> {
  const data = Buffer.alloc(w * h * 4);
  for (let y = margin; y < h - margin; y++) for (let x = margin; x < w - margin; x++) data.set([...rgb, 255], (y * w + x) * 4);
  await sharp(data, { raw: { width: w, height: h, channels: 4 } }).png().toFile(path);
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-composite-'));
  await mkdir(join(dir, 'objects', 'nested'), { recursive: true });
  await mkdir(join(dir, 'backgrounds'));
  await mkdir(join(dir, 'empty'));
  await cutOut(join(dir, 'objects', 'magenta.png'), 60, 40, MAGENTA, 6);
  await cutOut(join(dir, 'objects', 'nested', 'cyan.png'), 30, 50, [0, 255, 255], 3);
  await cutOut(join(dir, 'empty', 'clear.png'), 20, 20, [0, 0, 0], 10); // nothing opaque
  for (const k of [0, 1]) {
    const noise = Buffer.alloc(400 * 300 * 3);
    for (let i = 0; i < noise.length; i++) noise[i] = 40 + ((i * 7919 + k * 104729) % 120); // greys and greens, never magenta
    await sharp(noise, { raw: { width: 400, height: 300, channels: 3 } }).jpeg().toFile(join(dir, 'backgrounds', `bg${k}.jpg`));
  }
});
test.after.always(async () => rm(dir, { recursive: true, force: true }));

test('the spec finds PNG objects in nested folders and the backgrounds, with a share', async (t) => {
  const spec = await parseDataSource(`composite:${join(dir, 'objects')},${join(dir, 'backgrounds')}@2`);
  t.like(spec, { kind: 'composite', weight: 2 });
  if (spec.kind !== 'composite') return;
  t.deepEqual(spec.objects, [join(dir, 'objects', 'magenta.png'), join(dir, 'objects', 'nested', 'cyan.png')]);
  t.is(spec.backgrounds.length, 2);
});

test('a pair: the object pasted where the box says, moved and rescaled a little in the search frame, labelled; the same seed gives the same pair', async (t) => {
  const source = compositeSource('test', [join(dir, 'objects', 'magenta.png')], [join(dir, 'backgrounds', 'bg0.jpg'), join(dir, 'backgrounds', 'bg1.jpg')]);
  for (let seed = 0; seed < 8; seed++) {
    const pair = await source.drawPair(new Rng(seed), seed);
    t.true(pair.labelled);
    for (const [frame, box] of [[pair.template, pair.templateBox], [pair.search, pair.searchBox]] as const) {
      t.true(box.x >= 0 && box.y >= 0 && box.x + box.width <= frame.width && box.y + box.height <= frame.height, JSON.stringify(box));
    }
    // the template frame holds only the target: its box's centre is the object's colour, outside it none is
    const { templateBox: b, template } = pair;
    const px = (x: number, y: number) => [...(template.data as Uint8Array).subarray((y * template.width + x) * 3, (y * template.width + x) * 3 + 3)];
    t.deepEqual(px(Math.floor(b.x + b.width / 2), Math.floor(b.y + b.height / 2)), MAGENTA);
    t.notDeepEqual(px(b.x > 2 ? 0 : template.width - 1, b.y > 2 ? 0 : template.height - 1), MAGENTA);
    t.true(Math.abs(b.width / b.height - 48 / 28) < 0.15, `the cut-out keeps its aspect (48x28 opaque): ${b.width}x${b.height}`);
    const scale = pair.searchBox.width / b.width;
    t.true(scale > 0.7 && scale < 1.4, `scale change ${scale}`);
  }
  const [a, b] = [await source.drawPair(new Rng(3), 3), await source.drawPair(new Rng(3), 3)];
  t.deepEqual([a.templateBox, a.searchBox], [b.templateBox, b.searchBox]);
  t.deepEqual(a.search.data, b.search.data);
});

const bad: [string, () => string, RegExp][] = [
  ['one folder', () => `composite:${join(dir, 'objects')}`, /composite: takes two folders/],
  ['a missing objects folder of a Debian package', () => `composite:/usr/share/tuxpaint/stamps-none,${join(dir, 'backgrounds')}`, /no such folder/],
  ['a file as the objects folder', () => `composite:${join(dir, 'objects', 'magenta.png')},${join(dir, 'backgrounds')}`, /magenta\.png is not a folder of object images/],
  ['no PNGs under the objects folder', () => `composite:${join(dir, 'backgrounds')},${join(dir, 'backgrounds')}`, /no PNG object images .* anywhere under/],
];
for (const [what, text, message] of bad) {
  test(`--data composite: with ${what} is a typed error`, async (t) => {
    await t.throwsAsync(parseDataSource(text()), { instanceOf: CtEdgeError, message });
  });
}

test('an object image with nothing opaque is a typed error naming it', async (t) => {
  const source = compositeSource('test', [join(dir, 'empty', 'clear.png')], [join(dir, 'backgrounds', 'bg0.jpg')]);
  await t.throwsAsync(source.drawPair(new Rng(1), 1), { instanceOf: CtEdgeError, code: 'ERR_DATASET', message: /clear\.png has no opaque object/ });
});
