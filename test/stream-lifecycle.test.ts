/**
 * No ffmpeg outlives its source: stopping a stream midway in each way a program can (break, an
 * error, an AbortSignal, close(), Ctrl-C on the process) leaves no ffmpeg child behind. Linux only
 * (children are found in /proc). Serial: the tests count this process's ffmpeg children.
 */
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Box } from '../ts/index.js';
import { ffmpegPath, openVideo } from '../ts/deploy/io/ffmpeg.js';
import type { FrameSource } from '../ts/deploy/io/source.js';
import { trackStream, type StreamTracker } from '../ts/deploy/stream.js';
import { repoRoot } from './helpers/data.js';

const linux = process.platform === 'linux' ? test.serial : test.serial.skip;

const box: Box = { x: 10, y: 10, width: 20, height: 20 };
const tracker: StreamTracker = {
  init: () => undefined,
  track: async () => ({ box, score: 0.9, state: 'tracking', frameIndex: 0, timings: { preprocessMs: 0, inferenceMs: 0, postprocessMs: 0, totalMs: 0 } }),
};

let dir = '';
let video = '';

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-life-'));
  video = join(dir, 'long.mp4');
  // 10 s at 25 fps: far more than any test reads, so ffmpeg is still running when it is stopped.
  execFileSync(ffmpegPath(), ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=s=160x120:r=25:d=10', '-c:v', 'mpeg4', video]);
});
test.after.always(async () => rm(dir, { recursive: true, force: true }));


/** Pids of the ffmpeg processes whose parent is `parent`. */
function ffmpegChildren(parent = process.pid): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const end = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, end);
    const ppid = Number(stat.slice(end + 2).split(' ')[1]);
    if (comm === 'ffmpeg' && ppid === parent) pids.push(Number(name));
  }
  return pids;
}

/** True once the process is gone and reaped (a zombie still has its /proc entry). */
async function gone(pid: number, waitMs = 0): Promise<boolean> {
  for (const start = Date.now(); existsSync(`/proc/${pid}`); await sleep(20)) {
    if (Date.now() - start >= waitMs) return false;
  }
  return true;
}

/** Runs `body` over a fresh source, recording the ffmpeg children seen while frames flowed. */
async function watch(t: import('ava').ExecutionContext, body: (source: FrameSource, seen: () => void) => Promise<void>, options = {}): Promise<void> {
  const source = await openVideo(video, options);
  const pids = new Set<number>();
  await body(source, () => ffmpegChildren().forEach((p) => pids.add(p)));
  t.is(pids.size, 1, 'one ffmpeg ran while frames flowed');
  for (const pid of pids) t.true(await gone(pid), `ffmpeg ${pid} is still there`);
}

linux('break out of for-await over trackStream', async (t) => {
  await watch(t, async (source, seen) => {
    for await (const r of trackStream(tracker, source, { initBox: box })) {
      seen();
      if (r.index === 5) break;
    }
  });
});

linux('break out of for-await over the source itself, and over a real-time stream', async (t) => {
  await watch(t, async (source, seen) => {
    for await (const f of source) {
      seen();
      if (f.index === 5) break;
    }
  });
  await watch(t, async (source, seen) => {
    for await (const r of trackStream(tracker, source, { initBox: box, realtime: true })) {
      seen();
      if (r.index >= 5) break;
    }
  });
});

linux('an error thrown while consuming', async (t) => {
  await watch(t, async (source, seen) => {
    await t.throwsAsync(async () => {
      for await (const r of trackStream(tracker, source, { initBox: box })) {
        seen();
        if (r.index === 3) throw new Error('consumer failed');
      }
    });
  });
});

linux("an AbortSignal, the source's or the stream's", async (t) => {
  const controller = new AbortController();
  await watch(
    t,
    async (source, seen) => {
      const error = await t.throwsAsync(
        async () => {
          for await (const f of source) {
            seen();
            if (f.index === 4) controller.abort();
          }
        },
        { any: true },
      );
      t.is((error as Error | undefined)?.name, 'AbortError');
    },
    { signal: controller.signal },
  );
  const streamController = new AbortController();
  await watch(t, async (source, seen) => {
    const error = await t.throwsAsync(
      async () => {
        for await (const r of trackStream(tracker, source, { initBox: box, realtime: true, signal: streamController.signal })) {
          seen();
          if (r.index >= 4) streamController.abort();
        }
      },
      { any: true },
    );
    t.is((error as Error | undefined)?.name, 'AbortError');
  });
});

linux('a slow consumer holds ffmpeg back: what it has written stays a few frames ahead of what was read', async (t) => {
  const source = await openVideo(video);
  const frameBytes = 160 * 120 * 3;
  try {
    const it = source[Symbol.asyncIterator]();
    await it.next();
    await it.next();
    const [pid] = ffmpegChildren();
    // Give an unchecked decoder ample time to run ahead: 10 s of 160x120 video decodes in well under
    // a second, 14 MB of raw frames. Held back, it has written a pipe's and a stream buffer's worth.
    await sleep(1500);
    const written = Number(/wchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))![1]);
    t.log(`ffmpeg wrote ${(written / frameBytes).toFixed(1)} frames while 2 were read`);
    t.true(written < 40 * frameBytes, `ffmpeg wrote ${written} bytes (${(written / frameBytes).toFixed(1)} frames) ahead of a consumer that read 2`);
  } finally {
    await source.close();
  }
});

linux('close() while the consumer waits for a frame', async (t) => {
  await watch(
    t,
    async (source, seen) => {
      let frames = 0;
      for await (const f of source) {
        seen();
        frames = f.index + 1;
        // after the third frame, close while the loop awaits the fourth (paced: 40 ms away)
        if (f.index === 2) setImmediate(() => void source.close());
      }
      t.true(frames >= 3 && frames <= 4, `${frames} frames before close`);
    },
    { paced: true },
  );
});

linux('Ctrl-C on a process reading a source kills its ffmpeg', async (t) => {
  const script = join(dir, 'read.mts');
  const ffmpegModule = join(repoRoot, 'ts', 'deploy', 'io', 'ffmpeg.ts');
  await writeFile(script, `import { openVideo } from ${JSON.stringify(ffmpegModule)};\nfor await (const f of await openVideo(process.argv[2], { paced: true })) if (f.index === 2) console.log('reading');\n`);
  const child = spawn(process.execPath, ['--import', 'tsx', script, video], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout, 'data');
  const pids = ffmpegChildren(child.pid);
  t.is(pids.length, 1);
  child.kill('SIGINT');
  const [, signal] = await once(child, 'exit');
  t.is(signal, 'SIGINT', 'the process still dies of the signal');
  // Its ffmpeg is reaped by init once Node is gone: wait for that (bounded only against a hang; a
  // loaded machine may take long, an ffmpeg that survives never goes).
  t.true(await gone(pids[0], 60_000), `ffmpeg ${pids[0]} outlived its parent by a minute`);
});
