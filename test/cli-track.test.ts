/**
 * `ct-edge track` end to end, run in-process: a synthetic video (a red square moving over a flat
 * background) to JSON lines, CSV and an annotated MP4; an OTB folder to a mean IoU; bad input to
 * CtEdgeErrors. Serial: the tests read what the command prints.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { makeMovingSquareVideo } from './helpers/video.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command as frameCommand } from '../ts/cli/commands/frame.js';
import { command } from '../ts/cli/commands/track.js';
import { readImage } from '../ts/deploy/io/images.js';
import { runCommand } from './helpers/cli.js';
import { ffprobePath } from '../ts/deploy/io/ffmpeg.js';
import { iou } from '../ts/deploy/eval/metrics.js';
import { CtEdgeError, type ErrorCode } from '../ts/index.js';
import { hasSharedData, repoRoot, sequencesDir, sharedDataSkipReason, vitTrackPath } from './helpers/data.js';

const real = hasSharedData ? test.serial : test.serial.skip;
const suffix = hasSharedData ? '' : ` (${sharedDataSkipReason})`;
const vitTrackFlags = ['--model', vitTrackPath, '--outputs', 'score=output1,size=output2,offset=output3', '--channel-order', 'bgr', '--box-mapping', 'opencv', '--threads', '1'];
const code = (c: ErrorCode, message?: RegExp) => ({ instanceOf: CtEdgeError, code: c, ...(message ? { message } : {}) });

let dir = '';
let video = '';

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-cli-'));
  video = join(dir, 'square.mp4');
  makeMovingSquareVideo(video);
});
test.after.always(async () => rm(dir, { recursive: true, force: true }));

/** Runs the command, returning its exit code and what it printed to stdout. */
async function track(args: string[]): Promise<{ exitCode: number; stdout: string }> {
  const log = console.log;
  const stderr = console.error;
  let stdout = '';
  console.log = (...v: unknown[]) => void (stdout += `${v.join(' ')}\n`);
  console.error = () => undefined;
  try {
    return { exitCode: await command.run(args), stdout };
  } finally {
    console.log = log;
    console.error = stderr;
  }
}

real(`a video to JSON lines, CSV and an annotated MP4${suffix}`, async (t) => {
  const [jsonl, csv, out] = ['boxes.jsonl', 'boxes.csv', 'annotated.mp4'].map((f) => join(dir, f));
  const { exitCode, stdout } = await track([video, ...vitTrackFlags, '--box', '20,30,24,24', '--jsonl', jsonl, '--csv', csv, '--out', out]);
  t.is(exitCode, 0);
  t.regex(stdout, /tracked 50 frames/);
  const records = (await readFile(jsonl, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>);
  t.deepEqual(
    records.map((r) => r.frame),
    [...Array(50).keys()],
  );
  t.deepEqual(Object.keys(records[0]), ['frame', 'timestampMs', 'x', 'y', 'w', 'h', 'score', 'state']);
  t.like(records[0], { timestampMs: 0, x: 20, y: 30, w: 24, h: 24, score: 1, state: 'tracking' });
  const ious = records.map((r, i) => iou({ x: +r.x, y: +r.y, width: +r.w, height: +r.h }, { x: 20 + 1.2 * i, y: 30 + 0.4 * i, width: 24, height: 24 }));
  t.log(`mean IoU with the square ${(ious.reduce((a, b) => a + b) / ious.length).toFixed(3)}, min ${Math.min(...ious).toFixed(3)}`);
  t.true(ious.every((v) => v > 0.5));
  const rows = (await readFile(csv, 'utf8')).trim().split('\n');
  t.is(rows[0], 'frame,timestamp_ms,x,y,w,h,score,state');
  t.is(rows.length, 51);
  t.is(rows[11], `10,400,${records[10].x},${records[10].y},${records[10].w},${records[10].h},${records[10].score},${records[10].state}`);
  const probe = execFileSync(ffprobePath(), ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,width,height,nb_read_frames', '-of', 'csv=p=0', out], { encoding: 'utf8' });
  t.is(probe.trim(), 'h264,160,120,50');
});

real(`an OTB folder starts from its first ground-truth box and reports the mean IoU${suffix}`, async (t) => {
  const { exitCode, stdout } = await track([join(sequencesDir, 'bag'), ...vitTrackFlags, '--frames', '40']);
  t.is(exitCode, 0);
  const meanIou = Number(/mean IoU ([\d.]+) over 39 frames/.exec(stdout)?.[1]);
  t.true(meanIou > 0.6, stdout);
});

real(`a box outside the first frame is rejected${suffix}`, async (t) => {
  await t.throwsAsync(track([video, ...vitTrackFlags, '--box', '500,20,30,30']), code('ERR_BOX_OUTSIDE', /outside/));
});

test.serial('bad inputs are rejected before any model is loaded', async (t) => {
  const model = ['--model', join(dir, 'never-loaded.onnx')];
  await t.throwsAsync(track([join(dir, 'missing.mp4'), ...model, '--box', '1,1,5,5']), code('ERR_SOURCE', /video not found/));
  await t.throwsAsync(track(['/dev/video99', ...model, '--box', '1,1,5,5']), code('ERR_SOURCE', /camera \/dev\/video99 does not exist/));
  await t.throwsAsync(track([video, ...model, '--box', '1,1,5,5', '--pixel-format', 'yuyv']), code('ERR_FRAME_FORMAT', /unknown pixel format/));
  await t.throwsAsync(track([video, ...model]), code('ERR_INVALID_ARGUMENT', /--box/));
  await t.throwsAsync(track([video, ...model, '--box', '1,1,0,5']), code('ERR_INVALID_ARGUMENT', /--box must be/));
  await t.throwsAsync(track([video, '--box', '1,1,5,5']), code('ERR_INVALID_ARGUMENT', /--model/));
});

test.serial('--from starts at a later frame; -o writes the annotated video in the container its extension names (AVI: MPEG-4 Part 2); the summary spells out what it counts', async (t) => {
  const [jsonl, avi] = ['from.jsonl', 'from.avi'].map((f) => join(dir, f));
  const student = ['--model', join(repoRoot, 'models', 'student-2.onnx'), '--threads', '1'];
  const { exitCode, stdout } = await track([video, ...student, '--from', '10', '--box', '32,34,24,24', '--jsonl', jsonl, '-o', avi]);
  t.is(exitCode, 0);
  const frames = (await readFile(jsonl, 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { frame: number }).frame);
  t.deepEqual(frames, Array.from({ length: 40 }, (_, i) => 10 + i), 'from frame 10 to the end, by the source index');
  t.regex(stdout, /tracked 40 frames in [\d.]+ s \([\d.]+ fps overall; tracker [\d.]+ ms a frame, [\d.]+ fps without decoding and encoding\), target reported lost in \d+ of 39 frames/);
  t.is((await readFile(avi)).subarray(8, 12).toString('latin1'), 'AVI ');
  const probe = execFileSync(ffprobePath(), ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,nb_read_frames', '-of', 'csv=p=0', avi], { encoding: 'utf8' });
  t.is(probe.trim(), 'mpeg4,40');
});

test.serial('--from past the end of the video is a typed error that says how many frames it has', async (t) => {
  const student = ['--model', join(repoRoot, 'models', 'student-2.onnx'), '--threads', '1'];
  await t.throwsAsync(track([video, ...student, '--from', '60', '--box', '32,34,24,24']), code('ERR_SOURCE', /--from 60: .*square\.mp4 has 50 frames \(0 to 49\); start within them/));
});

test.serial('ct-edge frame writes one frame with a pixel grid (and a box to check); a frame past the end or an image type it cannot write is an error', async (t) => {
  const png = join(dir, 'frame.png');
  const out = await runCommand(frameCommand, [video, '--at', '49', '--box', '20,30,24,24', '-o', png]);
  t.is(out.code, 0);
  t.regex(out.stdout, /wrote .*frame\.png: frame 49 of .*square\.mp4, 160x120, grid every 50 px, with the box/);
  const image = await readImage(png);
  t.is(`${image.width}x${image.height}`, '160x120');
  const pixels = image.data as Uint8Array;
  const at = (x: number, y: number) => [...pixels.subarray(3 * (y * 160 + x), 3 * (y * 160 + x) + 3)];
  t.deepEqual(at(50, 110), [255, 220, 0], 'a grid line at x = 50');
  t.deepEqual(at(20, 40), [40, 220, 60], 'the box outline');
  await t.throwsAsync(runCommand(frameCommand, [video, '--at', '50', '-o', png]), code('ERR_SOURCE', /has 50 frame\(s\); --at takes 0 to 49/));
  await t.throwsAsync(runCommand(frameCommand, [video, '-o', join(dir, 'frame.gif')]), code('ERR_OUTPUT', /write a \.png or \.jpg/));
});

test.serial('an annotated video of an unknown type, and --from with --realtime, are refused before any model is loaded', async (t) => {
  const model = ['--model', join(dir, 'never-loaded.onnx'), '--box', '1,1,5,5'];
  await t.throwsAsync(track([video, ...model, '--out', join(dir, 'x.webm')]), code('ERR_OUTPUT', /cannot write a '\.webm' video; name it \.mp4, \.m4v, \.mov, \.mkv, \.avi/));
  await t.throwsAsync(track([video, ...model, '--from', '3', '--realtime']), code('ERR_INVALID_ARGUMENT', /--from skips frames of a file/));
});
