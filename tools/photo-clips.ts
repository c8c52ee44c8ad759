/**
 * Validation clips of scenes no training run has seen: each photograph in --photos becomes a short
 * image-folder clip, a camera window panning and zooming smoothly across it. `ct-edge compare` then
 * measures how closely a student follows its teacher on them (docs/BENCHMARKS.md, "Validation"):
 *
 *   npx tsx tools/photo-clips.ts --photos ../traindata/photos-val --out ../traindata/val-clips
 *   npx ct-edge compare --model models/vittrack.onnx --model student.onnx --held-out 1 --targets 2 ../traindata/val-clips/*
 *
 * The held-out tails of the training videos are the same scenes as the training frames; these are
 * not, so they say more about footage nobody trained on. Nothing here is shipped.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { hashSeed, Rng } from '../ts/train/data/random.js';

const { values } = parseArgs({ options: { photos: { type: 'string' }, out: { type: 'string' }, frames: { type: 'string', default: '40' }, size: { type: 'string', default: '480x360' } } });
if (!values.photos || !values.out) {
  console.error('usage: npx tsx tools/photo-clips.ts --photos DIR --out DIR [--frames 40] [--size 480x360]');
  process.exit(2);
}
const frames = Number(values.frames);
const [width, height] = values.size!.split('x').map(Number);
if (!(frames >= 2) || !(width >= 64 && height >= 64)) {
  console.error('photo-clips: --frames must be at least 2 and --size WxH at least 64x64');
  process.exit(2);
}

const photos = readdirSync(values.photos).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
if (photos.length === 0) {
  console.error(`photo-clips: no .jpg or .png in ${values.photos}`);
  process.exit(1);
}
for (const file of photos) {
  const path = join(values.photos, file);
  const meta = await sharp(path).metadata();
  const [pw, ph] = [meta.width!, meta.height!];
  const rng = new Rng(hashSeed(...[...file].map((c) => c.charCodeAt(0)))); // the same photo always gives the same clip
  const random = () => rng.next();
  // A window of the output's aspect, 55-70% of the photo at the start, zooming in or out by up to 20%,
  // its centre moving in a straight line between two points that keep it inside the photo.
  const start = 0.55 + 0.15 * random();
  const end = start * (0.8 + 0.4 * random());
  const windowAt = (k: number) => {
    const s = start + (end - start) * k;
    const w = Math.min(pw, ph * (width / height)) * s;
    return { w, h: w * (height / width) };
  };
  const centre = (w: number, h: number) => ({ x: w / 2 + random() * (pw - w), y: h / 2 + random() * (ph - h) });
  const largest = windowAt(end > start ? 1 : 0);
  const [from, to] = [centre(largest.w, largest.h), centre(largest.w, largest.h)];
  const dir = join(values.out, basename(file, extname(file)));
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < frames; i++) {
    const k = i / (frames - 1);
    const { w, h } = windowAt(k);
    const cx = from.x + (to.x - from.x) * k;
    const cy = from.y + (to.y - from.y) * k;
    const left = Math.max(0, Math.min(pw - Math.round(w), Math.round(cx - w / 2)));
    const top = Math.max(0, Math.min(ph - Math.round(h), Math.round(cy - h / 2)));
    await sharp(path)
      .extract({ left, top, width: Math.round(w), height: Math.round(h) })
      .resize(width, height)
      .jpeg({ quality: 92 })
      .toFile(join(dir, `${String(i + 1).padStart(4, '0')}.jpg`));
  }
}
console.log(`wrote ${photos.length} clips of ${frames} frames (${width}x${height}) into ${values.out}`);
