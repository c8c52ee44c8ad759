import test from 'ava';
import { createClip, heldOutClips, heldOutClipSeed, MIN_VISIBLE, trainingClipSeed } from '../ts/train/data/generator.js';
import { CtEdgeError, type ErrorCode } from '../ts/contract/errors.js';

const code = (c: ErrorCode) => ({ instanceOf: CtEdgeError, code: c });

const small = { width: 96, height: 72, length: 40 };

test('a clip is a pure function of its seed', (t) => {
  const a = createClip(11, small);
  const b = createClip(11, small);
  const c = createClip(12, small);
  t.deepEqual(a.boxes, b.boxes);
  t.deepEqual(a.visible, b.visible);
  for (const i of [0, 17, 39]) t.deepEqual(a.renderFrame(i).data, b.renderFrame(i).data);
  // Rendering in another order (frames are drawn on demand) gives the same pixels.
  t.deepEqual(a.renderFrame(3).data, createClip(11, small).renderFrame(3).data);
  t.notDeepEqual(a.renderFrame(0).data, c.renderFrame(0).data);
  const frame = a.renderFrame(5);
  t.is(frame.format, 'rgb');
  t.is((frame.data as Uint8Array).length, 96 * 72 * 3);
});

test('held-out clips never share a seed with training clips', (t) => {
  for (let i = 0; i < 1000; i++) {
    t.true(trainingClipSeed(7, i) < 0x80000000);
    t.true(heldOutClipSeed(7, i) >= 0x80000000);
  }
  const [a, b] = heldOutClips(2, 7, small);
  t.is(a.seed, heldOutClipSeed(7, 0));
  t.not(a.name, b.name);
  t.deepEqual(heldOutClips(1, 7, small)[0].boxes, a.boxes);
});

test('the target is drawn inside its box, and absent frames show (almost) none of it', (t) => {
  let absentFrames = 0;
  for (let k = 0; k < 12; k++) {
    const clip = createClip(trainingClipSeed(3, k), small);
    t.true(clip.visible[0], 'the first frame always shows the target');
    for (let i = 0; i < clip.length; i += 3) {
      const mask = clip.targetMask(i);
      const box = clip.boxes[i];
      let count = 0;
      let outside = 0;
      for (let y = 0; y < clip.height; y++) {
        for (let x = 0; x < clip.width; x++) {
          if (!mask[y * clip.width + x]) continue;
          count++;
          // Pixel centres within the box, give or take the anti-aliased edge.
          if (x + 0.5 < box.x - 1 || x + 0.5 > box.x + box.width + 1 || y + 0.5 < box.y - 1 || y + 0.5 > box.y + box.height + 1) outside++;
        }
      }
      t.is(outside, 0, `clip ${k} frame ${i}: target pixels outside its box`);
      const area = box.width * box.height;
      if (!clip.visible[i]) {
        absentFrames++;
        t.true(count <= 0.15 * area, `clip ${k} frame ${i} is marked absent but shows ${count} target pixels`);
      } else if (clip.visibleFraction[i] === 1 && area >= 100) {
        t.true(count >= 0.2 * area, `clip ${k} frame ${i} is fully visible but shows only ${count} target pixels`);
      }
      t.is(clip.visible[i], clip.visibleFraction[i] >= MIN_VISIBLE);
    }
  }
  t.true(absentFrames > 0, 'some clips occlude the target fully');
});

test('the rendered target lies inside its box: the pixels it changes, found by rendering the frame without it', (t) => {
  let changedTotal = 0;
  for (let k = 0; k < 8; k++) {
    const clip = createClip(trainingClipSeed(5, k), small);
    for (let i = 0; i < clip.length; i += 5) {
      const [withTarget, without] = [clip.renderFrame(i).data as Uint8Array, clip.renderFrame(i, { withoutTarget: true }).data as Uint8Array];
      const box = clip.boxes[i];
      let outside = 0;
      for (let y = 0; y < clip.height; y++) {
        for (let x = 0; x < clip.width; x++) {
          const o = (y * clip.width + x) * 3;
          // a change of a level or two is the faint tail of an anti-aliased, blurred edge, not the target
          if (Math.max(...[0, 1, 2].map((c) => Math.abs(withTarget[o + c] - without[o + c]))) <= 2) continue;
          changedTotal++;
          // within the box, give or take the anti-aliased edge and the 3x3 blur some frames get
          if (x + 0.5 < box.x - 2 || x + 0.5 > box.x + box.width + 2 || y + 0.5 < box.y - 2 || y + 0.5 > box.y + box.height + 2) outside++;
        }
      }
      t.is(outside, 0, `clip ${k} frame ${i}: the target changed ${outside} pixels outside its box`);
    }
  }
  t.true(changedTotal > 0, 'the target changes some pixels');
});

test('bad clip options are CtEdgeErrors', (t) => {
  t.throws(() => createClip(1, { width: 10 }), code('ERR_INVALID_ARGUMENT'));
  t.throws(() => createClip(1, { length: 1 }), code('ERR_INVALID_ARGUMENT'));
  t.throws(() => createClip(1, small).renderFrame(40), code('ERR_INVALID_ARGUMENT'));
});

test('difficulty: easy clips have large, never occluded targets; hard ones have smaller targets on average', (t) => {
  const sizes = (difficulty: 'easy' | 'moderate' | 'hard') =>
    Array.from({ length: 12 }, (_, i) => createClip(1000 + i, { length: 10, difficulty })).map((clip) => {
      if (difficulty === 'easy') t.true(clip.visible.every(Boolean), `${clip.name} occludes its target`);
      return Math.sqrt(clip.boxes[0].width * clip.boxes[0].height);
    });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const [easy, hard] = [sizes('easy'), sizes('hard')];
  // base size >= 36 px; zoom, aspect and clipping at the frame edge shrink the first box somewhat
  t.true(Math.min(...easy) >= 20, `smallest easy target ${Math.min(...easy).toFixed(1)} px`);
  t.true(mean(hard) < mean(easy));
});
