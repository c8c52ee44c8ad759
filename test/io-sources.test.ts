/**
 * Frame sources and writers on synthetic media made by ffmpeg (a red square moving over a flat
 * background): frame counts, sizes and layouts, and a clear CtEdgeError for each kind of bad input.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CtEdgeError, type ErrorCode, type Frame } from '../ts/index.js';
import { ffmpegPath, ffprobePath, locateFfmpegTool, nv12Colour, openCamera, openVideo, resolveFfmpegTool } from '../ts/deploy/io/ffmpeg.js';
import { csiCameraPipeline, openGStreamer, parsePipelineCaps, usbCameraPipeline } from '../ts/deploy/io/gstreamer.js';
import { writeImage } from '../ts/deploy/io/images.js';
import { toRgb } from '../ts/deploy/io/convert.js';
import { openSource } from '../ts/deploy/io/open.js';
import { ResultWriter } from '../ts/deploy/io/results.js';
import type { FrameSource, SourceFrame } from '../ts/deploy/io/source.js';
import { VideoWriter } from '../ts/deploy/io/video-writer.js';
import { squareFrame } from './helpers/frames.js';
import { makeMovingSquareVideo } from './helpers/video.js';

const code = (c: ErrorCode, message?: RegExp) => ({ instanceOf: CtEdgeError, code: c, ...(message ? { message } : {}) });

let dir = '';
let video = '';


async function collect(source: FrameSource): Promise<SourceFrame[]> {
  const frames: SourceFrame[] = [];
  for await (const f of source) frames.push(f);
  return frames;
}

/** Mean x of the red pixels of an RGB frame. */
function redCentreX(frame: Frame): number {
  const d = frame.data as Uint8Array;
  let sum = 0;
  let n = 0;
  for (let i = 0; i < frame.width * frame.height; i++) {
    if (d[3 * i] > 180 && d[3 * i + 1] < 80) {
      sum += i % frame.width;
      n += 1;
    }
  }
  return sum / n;
}

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-io-'));
  video = join(dir, 'square.mp4');
  makeMovingSquareVideo(video);
});
test.after.always(async () => rm(dir, { recursive: true, force: true }));

test('a video file gives every frame, RGB at its size, timestamped by its frame rate', async (t) => {
  const source = await openVideo(video);
  t.like(source.info, { kind: 'video', width: 160, height: 120, format: 'rgb', fps: 25, frameCount: 50, live: false });
  const frames = await collect(source);
  t.is(frames.length, 50);
  t.true(frames.every((f, i) => f.index === i && f.timestampMs === i * 40 && f.frame.width === 160 && f.frame.height === 120 && (f.frame.data as Uint8Array).length === 160 * 120 * 3));
  // The square moves right by 1.2 px a frame.
  t.true(Math.abs(redCentreX(frames[49].frame) - redCentreX(frames[0].frame) - 49 * 1.2) < 3);
});

test('nv12 frames hold a luma plane and a half-height plane of interleaved U, V: values of the known picture', async (t) => {
  const frames = await collect(await openVideo(video, { pixelFormat: 'nv12' }));
  t.is(frames.length, 50);
  t.true(frames.every((f) => f.frame.format === 'nv12' && (f.frame.data as Uint8Array).length === 160 * 120 * 1.5));
  // Frame 0: background 0x203040, a red 24 px square at (20, 30). BT.601 limited range, worked out by hand:
  // background Y 55, U 137, V 120; red Y 82, U 90, V 240 (NV21 would swap U and V, I420 would put a U plane first).
  const data = frames[0].frame.data as Uint8Array;
  const luma = (x: number, y: number) => data[y * 160 + x];
  const chroma = (x: number, y: number) => [data[160 * 120 + (y >> 1) * 160 + (x & ~1)], data[160 * 120 + (y >> 1) * 160 + (x & ~1) + 1]];
  const near = (got: number[], want: number[], what: string) => t.true(got.every((v, i) => Math.abs(v - want[i]) <= 4), `${what}: ${got} vs ${want}`);
  near([luma(100, 90)], [55], 'background luma');
  near([luma(32, 42)], [82], 'square luma');
  near(chroma(100, 90), [137, 120], 'background U, V');
  near(chroma(32, 42), [90, 240], 'square U, V');
  // And the whole frame: NV12 converted to RGB agrees with ffmpeg's own RGB decode.
  const [rgb] = await collect(await openVideo(video));
  const converted = toRgb(frames[0].frame).data as Uint8Array;
  const reference = rgb.frame.data as Uint8Array;
  let diff = 0;
  for (let i = 0; i < reference.length; i++) diff += Math.abs(converted[i] - reference[i]);
  t.true(diff / reference.length < 4, `mean |RGB difference| ${(diff / reference.length).toFixed(2)}`);
});

test('openSource reads an image folder, or the img/ folder of an OTB sequence', async (t) => {
  const seq = join(dir, 'seq');
  await mkdir(join(seq, 'img'), { recursive: true });
  for (let i = 1; i <= 3; i++) await writeImage(join(seq, 'img', `${String(i).padStart(4, '0')}.png`), squareFrame(64, 48, 10 + i, 10, 8));
  for (const input of [seq, join(seq, 'img')]) {
    const source = await openSource(input);
    t.like(source.info, { kind: 'images', width: 64, height: 48, frameCount: 3 });
    const frames = await collect(source);
    t.deepEqual(
      frames.map((f) => f.index),
      [0, 1, 2],
    );
    t.true(Buffer.from(frames[2].frame.data as Uint8Array).equals(squareFrame(64, 48, 13, 10, 8).data as Uint8Array));
  }
});

test('a GStreamer pipeline is read from fd 3 in the format its caps end with', async (t) => {
  // A stand-in gst-launch-1.0: records its arguments and writes 30 NV12 frames to fd 3, as fdsink fd=3 would.
  const fake = join(dir, 'gst-launch-1.0');
  const argsFile = join(dir, 'gst-args');
  await writeFile(
    fake,
    `#!/bin/sh\nprintf '%s\\n' "$@" > ${argsFile}\necho "GST_ARGUS: chatter on stdout"\nexec '${ffmpegPath()}' -hide_banner -loglevel error -f lavfi -i testsrc=s=64x48:r=30:d=1 -f rawvideo -pix_fmt nv12 pipe:3\n`,
  );
  await chmod(fake, 0o755);
  const pipeline = 'videotestsrc ! video/x-raw,format=NV12,width=64,height=48,framerate=30/1,colorimetry=bt709';
  const source = await openGStreamer(pipeline, { gstLaunchPath: fake });
  t.like(source.info, { kind: 'gstreamer', width: 64, height: 48, format: 'nv12', fps: 30, live: true });
  const frames = await collect(source);
  t.is(frames.length, 30);
  t.true(frames.every((f) => (f.frame.data as Uint8Array).length === 64 * 48 * 1.5));
  t.true(frames.every((f) => f.frame.colorMatrix === 'bt709' && f.frame.colorRange === 'limited'), "the caps' colorimetry on every frame");
  t.deepEqual((await readFile(argsFile, 'utf8')).trim().split('\n'), ['-q', '-e', `${pipeline} ! fdsink fd=3 sync=false`]);
});

test('pipeline caps give the frame layout, with GStreamer strides', (t) => {
  t.deepEqual(parsePipelineCaps(csiCameraPipeline()), {
    layout: { width: 1280, height: 720, format: 'nv12', stride: 1280 },
    gstFormat: 'NV12',
    fps: 30,
    colour: { colorMatrix: 'bt601', colorRange: 'limited' },
  });
  t.is(parsePipelineCaps(usbCameraPipeline({ width: 640, height: 480 })).layout.format, 'nv12');
  t.is(parsePipelineCaps('videotestsrc ! video/x-raw,format=RGB,width=30,height=20').layout.stride, 92, 'RGB rows round up to 4 bytes');
  t.is(parsePipelineCaps('v4l2src ! videoconvert ! video/x-raw,format=(string)BGRx,width=(int)640,height=(int)480').layout.format, 'bgra');
  t.throws(() => parsePipelineCaps('v4l2src ! video/x-raw,format=YUY2,width=640,height=480'), code('ERR_FRAME_FORMAT', /unknown pixel format 'YUY2'/));
  t.throws(() => parsePipelineCaps('v4l2src ! video/x-raw,format=NV12'), code('ERR_INVALID_ARGUMENT', /width and height/));
  // NV12's colorimetry, named or as RANGE:MATRIX:TRANSFER:PRIMARIES; none set reads as BT.601 limited.
  const nv12 = (c: string) => parsePipelineCaps(`nvvidconv ! video/x-raw,format=NV12,width=64,height=48${c}`).colour;
  t.deepEqual(nv12(''), { colorMatrix: 'bt601', colorRange: 'limited' });
  t.deepEqual(nv12(',colorimetry=(string)bt709'), { colorMatrix: 'bt709', colorRange: 'limited' });
  t.deepEqual(nv12(',colorimetry=1:3:5:1'), { colorMatrix: 'bt709', colorRange: 'full' });
  t.deepEqual(nv12(',colorimetry=2:4:7:1'), { colorMatrix: 'bt601', colorRange: 'limited' });
  t.throws(() => nv12(',colorimetry=bt2020'), code('ERR_FRAME_FORMAT', /colorimetry=bt2020 .*set colorimetry=bt601 or bt709/));
  t.deepEqual(parsePipelineCaps('videotestsrc ! video/x-raw,format=RGB,width=30,height=20,colorimetry=sRGB').colour, {}, 'RGB needs no colour matrix');
});

test('bad inputs are CtEdgeErrors that say what is wrong', async (t) => {
  await t.throwsAsync(openVideo(join(dir, 'missing.mp4')), code('ERR_SOURCE', /video not found/));
  const text = join(dir, 'notes.mp4');
  await writeFile(text, 'not a video\n');
  await t.throwsAsync(openVideo(text), code('ERR_SOURCE', /cannot read video .*notes\.mp4/));
  await t.throwsAsync(openCamera('/dev/video99'), code('ERR_SOURCE', /camera \/dev\/video99 does not exist/));
  await t.throwsAsync(openSource('/dev/video99'), code('ERR_SOURCE', /does not exist/));
  await t.throwsAsync(openVideo(video, { pixelFormat: 'yuyv' as never }), code('ERR_FRAME_FORMAT', /unknown pixel format 'yuyv'/));
  await t.throwsAsync(openGStreamer('v4l2src ! video/x-raw,format=I420,width=64,height=48'), code('ERR_FRAME_FORMAT', /unknown pixel format 'I420'/));
  await t.throwsAsync(openVideo(video, { ffprobePath: join(dir, 'no-ffprobe') }), code('ERR_SOURCE', /not installed.*apt-get install ffmpeg/));
  const noFfmpeg = await openVideo(video, { ffmpegPath: join(dir, 'no-ffmpeg') });
  await t.throwsAsync(collect(noFfmpeg), code('ERR_SOURCE', /no-ffmpeg is not installed.*apt-get install ffmpeg/));
});

test('VideoWriter encodes frames ffprobe can decode; ResultWriter fails clearly on a bad path', async (t) => {
  const out = join(dir, 'out.mp4');
  const writer = await VideoWriter.open(out, { width: 63, height: 47, fps: 10 });
  for (let i = 0; i < 10; i++) await writer.write(squareFrame(63, 47, 5 + i, 10, 8));
  await t.throwsAsync(writer.write(squareFrame(64, 48, 0, 0, 8)), code('ERR_FRAME_SIZE'));
  await writer.close();
  const probe = execFileSync(ffprobePath(), ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,nb_read_frames', '-of', 'csv=p=0', out], { encoding: 'utf8' });
  t.is(probe.trim(), `${writer.codec === 'libx264' ? 'h264' : 'mpeg4'},10`);
  await t.throwsAsync(ResultWriter.open(join(dir, 'no', 'such', 'dir', 'boxes.csv')), code('ERR_OUTPUT', /cannot write/));
});

test('ffmpeg and ffprobe come from the option, else the environment, else PATH, else the npm packages', async (t) => {
  t.deepEqual(resolveFfmpegTool('ffmpeg', { ffmpegPath: '/opt/ff/ffmpeg' }), { path: '/opt/ff/ffmpeg', source: 'option' });
  // Synchronous, so that no other test of this file sees the variable.
  const saved = process.env.FFPROBE_PATH;
  process.env.FFPROBE_PATH = '/opt/ff/ffprobe';
  try {
    t.deepEqual(resolveFfmpegTool('ffprobe'), { path: '/opt/ff/ffprobe', source: 'env' });
    t.deepEqual(resolveFfmpegTool('ffprobe', { ffprobePath: '/usr/bin/ffprobe' }), { path: '/usr/bin/ffprobe', source: 'option' });
  } finally {
    if (saved === undefined) delete process.env.FFPROBE_PATH;
    else process.env.FFPROBE_PATH = saved;
  }
  const bin = join(dir, 'path-bin');
  const empty = join(dir, 'path-empty');
  await mkdir(bin, { recursive: true });
  await mkdir(empty, { recursive: true });
  await writeFile(join(bin, 'ffmpeg'), '#!/bin/sh\n');
  await chmod(join(bin, 'ffmpeg'), 0o755);
  await writeFile(join(bin, 'ffprobe'), 'not executable\n');
  t.deepEqual(locateFfmpegTool('ffmpeg', `${empty}:${bin}`), { path: join(bin, 'ffmpeg'), source: 'system' }, 'the system one wins');
  // package.json lists @ffmpeg-installer/ffmpeg and @ffprobe-installer/ffprobe as optional dependencies.
  t.like(locateFfmpegTool('ffprobe', bin), { source: 'npm' }, 'a file that is not executable is not a tool');
  t.regex(locateFfmpegTool('ffmpeg', empty)?.path ?? '', /node_modules\/@ffmpeg-installer\/[^/]+\/ffmpeg$/);
});

test("the npm packages' ffmpeg (4.1) and ffprobe do all that ct-edge asks of them", async (t) => {
  const tools = { ffmpegPath: locateFfmpegTool('ffmpeg', '')!.path, ffprobePath: locateFfmpegTool('ffprobe', '')!.path };
  const source = await openVideo(video, tools);
  t.like(source.info, { width: 160, height: 120, fps: 25, frameCount: 50 });
  t.is((await collect(source)).length, 50);
  t.is((await collect(await openVideo(video, { ...tools, pixelFormat: 'nv12' }))).length, 50);
  const out = join(dir, 'npm-ffmpeg.mp4');
  const writer = await VideoWriter.open(out, { ...tools, width: 63, height: 47, fps: 10 });
  t.is(writer.codec, 'libx264');
  for (let i = 0; i < 5; i++) await writer.write(squareFrame(63, 47, 5 + i, 10, 8));
  await writer.close();
  const back = await openVideo(out, tools);
  t.like(back.info, { width: 64, height: 48, fps: 10, frameCount: 5 });
  t.is((await collect(back)).length, 5);
});

test("nv12 frames from ffmpeg carry the stream's colour: BT.709 where the stream is tagged so, BT.601 limited otherwise", async (t) => {
  const tagged = join(dir, 'bt709.mkv');
  execFileSync(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=s=64x48:r=10:d=0.3', '-pix_fmt', 'yuv420p', '-colorspace', 'bt709', '-color_range', 'tv', '-c:v', 'ffv1', tagged]);
  const source = await openVideo(tagged, { pixelFormat: 'nv12' });
  t.deepEqual(source.info.colour, { colorMatrix: 'bt709', colorRange: 'limited' });
  const frames = await collect(source);
  t.true(frames.length > 0 && frames.every((f) => f.frame.colorMatrix === 'bt709' && f.frame.colorRange === 'limited'));
  t.deepEqual((await openVideo(video, { pixelFormat: 'nv12' })).info.colour, { colorMatrix: 'bt601', colorRange: 'limited' }, 'untagged: BT.601');
  t.is((await openVideo(video)).info.colour, undefined, 'RGB frames have no colour matrix');
  // What ffmpeg does per input: YUV is repacked (matrix and range kept), JPEG YUV and RGB go through swscale (BT.601 limited).
  t.deepEqual(nv12Colour({ pix_fmt: 'yuv420p', color_space: 'bt709', color_range: 'pc' }), { colorMatrix: 'bt709', colorRange: 'full' });
  t.deepEqual(nv12Colour({ pix_fmt: 'yuvj422p', color_space: 'bt709', color_range: 'pc' }), { colorMatrix: 'bt601', colorRange: 'limited' });
  t.deepEqual(nv12Colour({ pix_fmt: 'rgb24' }), { colorMatrix: 'bt601', colorRange: 'limited' });
  t.deepEqual(nv12Colour({ pix_fmt: 'yuv420p', color_space: 'smpte170m' }), { colorMatrix: 'bt601', colorRange: 'limited' });
  t.is(nv12Colour({ pix_fmt: 'yuv420p10le', color_space: 'bt2020nc' }), undefined, 'BT.2020: not decodable from NV12');
  // A BT.2020 file is refused as NV12 (naming --pixel-format rgb) and read as RGB.
  const hdr = join(dir, 'bt2020.mkv');
  execFileSync(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=s=64x48:r=10:d=0.2', '-pix_fmt', 'yuv420p', '-colorspace', 'bt2020nc', '-c:v', 'ffv1', hdr]);
  await t.throwsAsync(openVideo(hdr, { pixelFormat: 'nv12' }), code('ERR_FRAME_FORMAT', /bt2020nc colour matrix.*pixelFormat 'rgb'/));
  t.true((await collect(await openVideo(hdr))).length > 0);
});
