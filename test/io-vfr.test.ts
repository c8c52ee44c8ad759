/**
 * Variable-frame-rate video: every decoded frame comes once, with its own presentation time, and
 * frame numbers follow the decoding order. ffmpeg's default for raw output duplicates frames to a
 * constant rate, which gave more frames than the clip has and timestamps past its end.
 */
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSource } from '../ts/index.js';
import { ffmpegPath, ffprobePath, passthroughFlag } from '../ts/deploy/io/ffmpeg.js';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-vfr-'));
});
test.after.always(async () => rm(dir, { recursive: true, force: true }));

/** 20 frames whose presentation times jump: every 40 ms, with gaps of 160 ms and 320 ms after frames 4 and 11. */
async function makeVfrClip(path: string): Promise<void> {
  const setpts = `setpts='(N+3*gte(N,5)+7*gte(N,12))/25/TB'`;
  const keep = await passthroughFlag();
  execFileSync(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=25:duration=2', '-vf', setpts, ...keep, '-frames:v', '20', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', path]);
}

/** The clip's frames' presentation times in ms, as ffprobe decodes them (the reference). */
function probedTimes(path: string): number[] {
  const out = execFileSync(ffprobePath(), ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=best_effort_timestamp_time', '-of', 'csv=p=0', path], { encoding: 'utf8' });
  const seconds = out.split('\n').map((l) => Number.parseFloat(l)).filter(Number.isFinite);
  return seconds.map((s) => (s - seconds[0]) * 1000);
}

for (const container of ['mp4', 'mkv']) {
  test(`a variable-frame-rate ${container}: each frame once, with its own timestamp`, async (t) => {
    const path = join(dir, `vfr.${container}`);
    await makeVfrClip(path);
    const source = await openSource(path);
    const seen: { index: number; timestampMs: number }[] = [];
    for await (const { index, timestampMs } of source) seen.push({ index, timestampMs });
    const want = probedTimes(path);
    t.is(want.length, 20);
    // The clip really is irregular: its gaps after frames 4 and 11.
    t.true(Math.abs(want[5] - want[4] - 160) < 1.5 && Math.abs(want[12] - want[11] - 320) < 1.5, `clip times: ${want.join(' ')}`);
    t.is(seen.length, 20, `frames: ${seen.map((s) => s.timestampMs.toFixed(0)).join(' ')}`);
    t.deepEqual(seen.map((s) => s.index), want.map((_, i) => i));
    for (const [i, s] of seen.entries()) t.true(Math.abs(s.timestampMs - want[i]) < 1.5, `frame ${i}: ${s.timestampMs} ms, want ${want[i]}`);
    await source.close();
  });
}

test('a constant-rate video still gets index / fps timestamps from its own clock', async (t) => {
  const path = join(dir, 'cfr.mp4');
  execFileSync(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10:duration=1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', path]);
  const source = await openSource(path, { pixelFormat: 'nv12' });
  const stamps = [];
  for await (const f of source) stamps.push(Math.round(f.timestampMs));
  t.deepEqual(stamps, Array.from({ length: 10 }, (_, i) => i * 100));
});

test('a stream URL is a live source whose timestamps are the stream\'s own, not arrival times', async (t) => {
  // A network camera stand-in: each TCP client gets a live 10 fps MPEG-TS stream from its own ffmpeg.
  const senders = new Set<ReturnType<typeof spawn>>();
  const server = createServer((socket) => {
    const sender = spawn(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-c:v', 'libx264', '-g', '5', '-pix_fmt', 'yuv420p', '-f', 'mpegts', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    senders.add(sender);
    sender.stdout!.pipe(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sender.kill('SIGKILL'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const source = await openSource(`tcp://127.0.0.1:${port}`);
    t.deepEqual([source.info.width, source.info.height], [160, 120]);
    t.is(source.info.live, true);
    const stamps: number[] = [];
    for await (const f of source) {
      stamps.push(f.timestampMs);
      if (stamps.length === 15) break;
    }
    await source.close();
    // 10 fps: 100 ms apart by the stream's clock, exactly (arrival times jitter by milliseconds).
    const steps = stamps.slice(1).map((s, i) => s - stamps[i]);
    t.true(steps.every((d) => Math.abs(d - 100) < 0.5), `steps: ${steps.map((d) => d.toFixed(2)).join(' ')}`);
  } finally {
    for (const s of senders) s.kill('SIGKILL');
    server.close();
  }
});
