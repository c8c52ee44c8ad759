/**
 * The API fuzz harness: random calls on Engine, Tracker, TrackerGroup, streams and sources with random, mostly
 * broken, arguments (numbers at every edge, wrong types, shared, detached and short buffers, huge
 * and tiny boxes, null everywhere). Every call must either succeed or fail with a CtEdgeError;
 * anything else (an untyped error, a hang past the call's deadline) is a finding. A crash kills
 * this process, which is why test/fuzz.test.ts runs it as a child.
 *
 *   node --import tsx test/helpers/fuzz-api.ts [--calls N] [--seed S]
 *
 * Prints one JSON line: { calls, ok, typed, findings: [{ call, what }] }; exits 1 with findings.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CtEdgeError, Engine, Tracker, TrackerGroup, openSource, type Frame } from '../../ts/index.js';
import { repoRoot } from './data.js';

const { values } = parseArgs({ options: { calls: { type: 'string', default: '2000' }, seed: { type: 'string', default: '1' } } });
const calls = Number(values.calls);
let state = Number(values.seed) >>> 0 || 1;
/** xorshift32: the same seed gives the same calls. */
function random(): number {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state / 2 ** 32;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
const chance = (p: number) => random() < p;

const EDGE_NUMBERS = [0, -0, 1, -1, 2, 3, 7, 0.5, 1.5, -1.5, 255, 256, 1e-3, 1e-300, -1e-300, 1e300, -1e300, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), 2 ** 32, 2 ** 53, Number.NaN, Infinity, -Infinity, Number.EPSILON, Number.MAX_VALUE, Number.MIN_VALUE];
const FORMATS = ['rgb', 'bgr', 'rgba', 'bgra', 'gray', 'nv12'] as const;
const BPP: Record<string, number> = { rgb: 3, bgr: 3, rgba: 4, bgra: 4, gray: 1, nv12: 1 };

function detach(b: ArrayBuffer): void {
  structuredClone(b, { transfer: [b] });
}

/** What a caller's own getter throws: not ct-edge's to type, so it must come out unchanged. */
const GETTER_ERROR = new Error('a getter of the caller that throws');

function junk(): unknown {
  return pick<() => unknown>([
    () => pick(EDGE_NUMBERS),
    () => null,
    () => undefined,
    () => '',
    () => 'rgb',
    () => String(pick(EDGE_NUMBERS)),
    () => ({}),
    () => [],
    () => [1, 2, 3],
    () => Symbol('x'),
    () => 10n,
    () => () => 1,
    () => new Uint8Array(3),
    () => new Float32Array(3),
    () => new ArrayBuffer(4),
    () => new SharedArrayBuffer(4),
    () => new Proxy({}, { get: () => { throw GETTER_ERROR; } }),
  ])();
}

function dimension(): number {
  return chance(0.7) ? 1 + Math.floor(random() * 96) : (pick(EDGE_NUMBERS) as number);
}

function pixels(bytes: number): unknown {
  const n = Math.max(0, Math.min(bytes, 4_000_000));
  return pick<() => unknown>([
    () => new Uint8Array(n),
    () => Buffer.alloc(n),
    () => new Uint8ClampedArray(n),
    () => new ArrayBuffer(n),
    () => new Uint8Array(new SharedArrayBuffer(Math.max(n, 1))),
    () => new Uint8Array(new ArrayBuffer(n + 16), 16),
    () => new Uint8Array(Math.max(0, n - 1 - Math.floor(random() * 8))),
    () => {
      const a = new Uint8Array(n);
      detach(a.buffer);
      return a;
    },
    () => {
      const b = new ArrayBuffer(n);
      detach(b);
      return b;
    },
    () => new Int8Array(n),
    () => new Float32Array(Math.ceil(n / 4)),
    () => new DataView(new ArrayBuffer(n)),
    () => new SharedArrayBuffer(Math.max(n, 1)),
    junk,
  ])();
}

function frame(): Frame {
  if (chance(0.1)) return junk() as Frame;
  const format = chance(0.9) ? pick(FORMATS) : (junk() as Frame['format']);
  const width = chance(0.85) ? 2 * (1 + Math.floor(random() * 160)) : dimension();
  const height = chance(0.85) ? 2 * (1 + Math.floor(random() * 120)) : dimension();
  const bpp = BPP[format as string] ?? 3;
  const stride = chance(0.8) ? undefined : chance(0.5) ? width * bpp + Math.floor(random() * 8) : (junk() as number);
  const rows = format === 'nv12' ? height * 1.5 : height;
  const rowBytes = typeof stride === 'number' ? stride : width * bpp;
  const bytes = Number.isFinite(rowBytes * rows) && rowBytes * rows > 0 ? Math.ceil(rowBytes * rows) : 16;
  const f: Record<string, unknown> = { data: pixels(Number.isFinite(bytes) ? bytes : 16), width, height, format };
  if (stride !== undefined) f.stride = stride;
  if (chance(0.05)) delete f[pick(['data', 'width', 'height', 'format'])];
  return f as unknown as Frame;
}

function box(): unknown {
  if (chance(0.1)) return junk();
  const coordinate = () => (chance(0.75) ? random() * 200 - 20 : pick(EDGE_NUMBERS));
  const size = () => (chance(0.75) ? 1 + random() * 100 : pick(EDGE_NUMBERS));
  const b: Record<string, unknown> = { x: coordinate(), y: coordinate(), width: size(), height: size() };
  if (chance(0.05)) b[pick(['x', 'y', 'width', 'height'])] = junk();
  return b;
}

function trackerOptions(): unknown {
  if (chance(0.3)) return undefined;
  if (chance(0.15)) return junk();
  return {
    ...(chance(0.5) && { lostThreshold: chance(0.5) ? random() : junk() }),
    ...(chance(0.5) && { inlinePreprocessing: chance(0.7) ? chance(0.5) : junk() }),
    ...(chance(0.2) && { boxMapping: chance(0.5) ? pick(['ostrack', 'opencv']) : junk() }),
  };
}

const engine = await Engine.load(join(repoRoot, 'models', 'student-2.onnx'), { threads: 1 });
const trackers: Tracker[] = [new Tracker(engine), new Tracker(engine, { inlinePreprocessing: true })];
const groups: TrackerGroup[] = [new TrackerGroup(engine), new TrackerGroup(engine, { maxBatch: 2 })];
/** An id a group holds, one it held, or junk. */
const targetId = (g: TrackerGroup) => (chance(0.6) && g.ids.length > 0 ? pick(g.ids) : chance(0.5) ? Math.floor(random() * 10) : junk()) as number;
const validFrame = (): Frame => ({ data: new Uint8Array(64 * 48 * 3), width: 64, height: 48, format: 'rgb' });

/** The random calls, each returning what the API returned (a value or a promise). */
const CALLS: Record<string, () => unknown> = {
  init: () => pick(trackers).init(frame(), box() as never),
  initValid: () => pick(trackers).init({ data: new Uint8Array(64 * 48 * 3), width: 64, height: 48, format: 'rgb' }, box() as never),
  track: () => pick(trackers).track(frame()),
  newTracker: () => {
    const t = new Tracker(chance(0.9) ? engine : (junk() as Engine), trackerOptions() as never);
    trackers.push(t);
    if (trackers.length > 6) trackers.splice(2, 1)[0].dispose();
  },
  dispose: () => {
    if (trackers.length > 2 && chance(0.5)) trackers.splice(2, 1)[0].dispose();
  },
  stream: async () => {
    const source = pick<() => unknown>([() => [frame(), frame(), frame()], () => junk(), () => (function* () { yield frame(); yield frame(); })(), () => [frame()]])();
    const options = chance(0.8) ? { initBox: box(), realtime: chance(0.3) } : junk();
    let n = 0;
    for await (const _ of pick(trackers).stream(source as never, options as never)) if (++n > 3) break;
  },
  groupAdd: () => pick(groups).add(chance(0.5) ? validFrame() : frame(), box() as never),
  groupTrack: () => pick(groups).track(chance(0.5) ? validFrame() : frame()),
  groupRemove: () => {
    const g = pick(groups);
    g.remove(targetId(g));
  },
  groupReinit: () => {
    const g = pick(groups);
    g.reinit(targetId(g), chance(0.5) ? validFrame() : frame(), box() as never);
  },
  groupStream: async () => {
    const g = new TrackerGroup(engine);
    try {
      const options = chance(0.8) ? { initBoxes: chance(0.8) ? [box(), box()] : junk(), realtime: chance(0.3) } : junk();
      let n = 0;
      for await (const _ of g.stream((chance(0.8) ? [validFrame(), validFrame(), frame()] : junk()) as never, options as never)) if (++n > 3) break;
    } finally {
      g.dispose();
    }
  },
  newGroup: () => {
    const g = new TrackerGroup(chance(0.9) ? engine : (junk() as Engine), (chance(0.5) ? { maxBatch: chance(0.5) ? pick(EDGE_NUMBERS) : junk() } : trackerOptions()) as never);
    groups.push(g);
    if (groups.length > 4) groups.splice(2, 1)[0].dispose();
  },
  load: () => {
    const path = pick([join(repoRoot, 'models', 'student-2.onnx'), join(repoRoot, 'models'), '/nonexistent/x.onnx', '', junk()]);
    const options = chance(0.3) ? junk() : { threads: chance(0.5) ? pick(EDGE_NUMBERS) : junk(), ...(chance(0.2) && { [pick(['channelOrder', 'boxMapping', 'searchSize', 'templateSize', 'featureSize', 'searchFactor', 'lostThreshold', 'mean', 'std', 'inputs', 'outputs'])]: junk() }) };
    // Only calls that fail before a thread starts: a valid load costs a thread per call.
    if (typeof path === 'string' && path.endsWith('.onnx') && (options as { threads?: unknown })?.threads === 1) return undefined;
    return Engine.load(path as string, options as never).then((e) => e.dispose());
  },
  source: () => openSource(pick(['/nonexistent/video.mp4', '/dev/video-none', 'gst:', '/nonexistent/folder/']), (chance(0.7) ? { pixelFormat: junk() } : junk()) as never).then((s) => s.close()),
};

const names = Object.keys(CALLS);
const findings: { call: number; what: string }[] = [];
let ok = 0;
let typed = 0;
for (let i = 0; i < calls; i++) {
  const name = pick(names);
  try {
    const out = CALLS[name]();
    if (out instanceof Promise) {
      let timer: NodeJS.Timeout | undefined;
      // Generous: a load starts a thread and an onnxruntime session, slow on a busy 2-core machine.
      const deadline = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${name} did not settle within 120 s`)), 120_000)));
      try {
        await Promise.race([out, deadline]);
      } finally {
        clearTimeout(timer);
      }
    }
    ok += 1;
  } catch (error) {
    if (error instanceof CtEdgeError || error === GETTER_ERROR) typed += 1;
    else findings.push({ call: i, what: `${name}: ${error instanceof Error ? `${error.stack?.split('\n').slice(0, 3).join(' | ')}` : String(error)}` });
  }
}
for (const t of trackers) t.dispose();
for (const g of groups) g.dispose();
await engine.dispose();
console.log(JSON.stringify({ calls, ok, typed, findings: findings.slice(0, 50), findingCount: findings.length }));
process.exitCode = findings.length ? 1 : 0;
