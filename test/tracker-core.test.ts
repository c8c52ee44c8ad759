/** The native tracking loop without a network: hand-made head outputs, hand-computed boxes. */
import test from 'ava';
import { loadNative, type NativeTrackerConfig } from '../ts/deploy/native.js';
import { squareFrame } from './helpers/frames.js';

const addon = loadNative();
const F = 4;
const config = (overrides: Partial<NativeTrackerConfig> = {}): NativeTrackerConfig => ({
  templateSize: 16,
  searchSize: 32,
  featureSize: F,
  templateFactor: 2,
  searchFactor: 4,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  channelOrder: 'rgb',
  boxMapping: 'ostrack',
  lostThreshold: 0.2,
  ...overrides,
});
const make = (overrides: Partial<NativeTrackerConfig> = {}) =>
  new addon.NativeTracker(config(overrides), new Float32Array(3 * 16 * 16), new Float32Array(3 * 32 * 32));

/** Head outputs with a single peak at cell (px, py). */
function maps(px: number, py: number, peak: number, offset: [number, number], size: [number, number], floor = 0.01) {
  const score = new Float32Array(F * F).fill(floor);
  const sizes = new Float32Array(2 * F * F).fill(0.1);
  const offsets = new Float32Array(2 * F * F);
  const i = py * F + px;
  score[i] = peak;
  [offsets[i], offsets[F * F + i]] = offset;
  [sizes[i], sizes[F * F + i]] = size;
  return [score, sizes, offsets] as const;
}

const hann = (k: number) => 0.5 * (1 - Math.cos((2 * Math.PI * k) / (F + 1)));
const frame = squareFrame(200, 200, 90, 90, 20);

test('Hann window is outer(hann, hann) with hann(k) = 0.5(1 - cos(2 pi k / (F+1))), k = 1..F', (t) => {
  const w = addon.hannWindow(F);
  for (let y = 0; y < F; y++) for (let x = 0; x < F; x++) t.true(Math.abs(w[y * F + x] - hann(y + 1) * hann(x + 1)) < 1e-6);
});

test('OSTrack mapping: decode at the windowed peak and shift by the previous centre', (t) => {
  const tracker = make();
  tracker.init(frame, { x: 90, y: 90, width: 20, height: 20 });
  tracker.prepareSearch(frame); // search side ceil(20*4) = 80, centred on (100, 100)
  const r = tracker.update(...maps(2, 1, 0.9, [0.5, 0.25], [0.25, 0.125]));
  // cx = (2+0.5)/4*80 + (100-40) = 110, cy = (1+0.25)/4*80 + 60 = 85, w = 20, h = 10
  t.like(r, { x: 100, y: 80, width: 20, height: 10, lost: false, peakX: 2, peakY: 1 });
  t.true(Math.abs(r.score - 0.9 * hann(2) * hann(3)) < 1e-6);
  t.true(Math.abs(r.rawScore - 0.9) < 1e-6);
});

test('the window decides between equal raw peaks: the one nearer the centre wins', (t) => {
  const tracker = make();
  tracker.init(frame, { x: 90, y: 90, width: 20, height: 20 });
  tracker.prepareSearch(frame);
  const [score, size, offset] = maps(1, 1, 0.8, [0, 0], [0.25, 0.25]);
  score[0] = 0.8; // corner cell, same raw score
  t.like(tracker.update(score, size, offset), { peakX: 1, peakY: 1 });
});

test('OSTrack mapping clips to the frame with a 10 px margin', (t) => {
  const tracker = make({ lostThreshold: 0 }); // the corner cell's window weight is small
  tracker.init(frame, { x: 170, y: 170, width: 20, height: 20 });
  tracker.prepareSearch(frame); // centred on (180, 180), side 80
  // peak at the far corner: cx = (3+1)/4*80 + 140 = 220 > 200
  const r = tracker.update(...maps(3, 3, 0.9, [1, 1], [0.5, 0.5]));
  t.like(r, { x: 200 - 10, y: 200 - 10, width: 10, height: 10 });
});

test('OpenCV mapping: integer box, inverse of the integer crop window, floored', (t) => {
  const tracker = make({ boxMapping: 'opencv' });
  tracker.init(frame, { x: 90.7, y: 90.2, width: 20.9, height: 20.5 }); // floored to 90,90,20,20
  tracker.prepareSearch(frame); // side 80, x0 = 90 + (20-80)/2 = 60
  const r = tracker.update(...maps(2, 1, 0.9, [0.3, 0.7], [0.26, 0.13]));
  // x = floor(60 + ((2.3)/4 - 0.13)*80) = floor(95.6) = 95; y = floor(60 + (1.7/4 - 0.065)*80) = floor(88.8) = 88
  t.like(r, { x: 95, y: 88, width: 20, height: 10 });
});

test('below the threshold the target is lost, the box is kept, and tracking resumes when the score returns', (t) => {
  const tracker = make();
  tracker.init(frame, { x: 90, y: 90, width: 20, height: 20 });
  tracker.prepareSearch(frame);
  const lost = tracker.update(...maps(2, 1, 0.2, [0.5, 0.25], [0.25, 0.125])); // windowed 0.2*0.82 < 0.2
  t.like(lost, { lost: true, x: 90, y: 90, width: 20, height: 20 });
  tracker.prepareSearch(frame); // keeps searching around the last box
  t.like(tracker.update(...maps(2, 1, 0.9, [0.5, 0.25], [0.25, 0.125])), { lost: false, x: 100, y: 80 });
});

test('a head output of NaN is a lost frame, not a NaN box', (t) => {
  const tracker = make();
  tracker.init(frame, { x: 90, y: 90, width: 20, height: 20 });
  tracker.prepareSearch(frame);
  const [score, size, offset] = maps(2, 1, 0.9, [0.5, 0.25], [0.25, 0.125]);
  size.fill(Number.NaN);
  t.like(tracker.update(score, size, offset), { lost: true, x: 90, y: 90 });
});

test('update rejects maps of the wrong size and update before a search crop', (t) => {
  const tracker = make();
  tracker.init(frame, { x: 90, y: 90, width: 20, height: 20 });
  t.throws(() => tracker.update(...maps(0, 0, 1, [0, 0], [0.1, 0.1])), { code: 'ERR_NOT_INITIALIZED' });
  tracker.prepareSearch(frame);
  t.throws(() => tracker.update(new Float32Array(5), new Float32Array(32), new Float32Array(32)), { code: 'ERR_MODEL_OUTPUT' });
});
