/**
 * SIGINT and SIGTERM during `ct-edge track --out`: the command stops the source, finishes the
 * annotated video (the encoder gets the end of its input, not SIGKILL, so the MP4 gets its index
 * and plays) and exits 130 or 143, never 0.
 */
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ffmpegPath, ffprobePath } from '../ts/deploy/io/ffmpeg.js';
import { repoRoot } from './helpers/data.js';

let dir = '';
let video = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-signals-'));
  video = join(dir, 'long.mp4');
  // 20 s at 25 fps: far longer than the test waits.
  execFileSync(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:duration=20', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', video]);
});
test.after.always(async () => rm(dir, { recursive: true, force: true }));

async function linesIn(path: string): Promise<number> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).length;
}

for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130]] as const) {
  test.serial(`${signal} during track --out: the MP4 so far plays, exit ${code}`, async (t) => {
    const out = join(dir, `${signal}.mp4`);
    const jsonl = join(dir, `${signal}.jsonl`);
    // --realtime reads the file at its own rate, as a camera would deliver it.
    const args = ['--import', 'tsx', join(repoRoot, 'ts', 'cli', 'main.ts'), 'track', video, '--model', join(repoRoot, 'models', 'student-2.onnx'), '--box', '100,80,60,60', '--realtime', '--out', out, '--jsonl', jsonl, '--threads', '1'];
    const child = spawn(process.execPath, args, { cwd: repoRoot });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
    for (let i = 0; i < 600 && (await linesIn(jsonl)) < 25; i++) await new Promise((r) => setTimeout(r, 100));
    t.true((await linesIn(jsonl)) >= 25, `tracking did not start: ${stderr}`);
    child.kill(signal);
    const [exitCode, bySignal] = await exited;
    t.is(bySignal, null, stderr);
    t.is(exitCode, code, stderr);
    t.regex(stdout, new RegExp(`stopped by ${signal === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM'} after \\d+ frames`));
    t.notRegex(stderr, /^\s+at /m);
    // The MP4 has its index and as many frames as were tracked.
    t.true((await stat(out)).size > 0);
    const probe = execFileSync(ffprobePath(), ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', out], { encoding: 'utf8' });
    const frames = Number(probe.trim());
    const tracked = await linesIn(jsonl);
    t.true(frames >= 25 && frames >= tracked - 1, `${frames} frames in the MP4, ${tracked} results`);
  });
}
