/**
 * What publishing over MQTT costs per tracked frame: Tracker.track() alone against Tracker.track()
 * followed by MqttLink.publish() to a broker on this machine, interleaved in one run: two trackers
 * on the same frames of models/tree.avi, in blocks of 20 frames, the arms alternating block by block
 * and the order of each pair alternating too. A block's time ends after one more turn of the event
 * loop, so the serialising and the socket write that publish() defers are counted. Without
 * --broker it starts its own Mosquitto on a free loopback port (the `mosquitto` package).
 *
 *   npx tsx tools/bench-publish.ts [--model models/vittrack-student.onnx] [--frames 600] [--threads 1] [--qos 0] [--broker mqtt://HOST:PORT]
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Engine, Tracker, openSource, type Frame } from '../ts/index.js';
import { MqttLink } from '../ts/deploy/mqtt.js';
import { median } from '../ts/deploy/eval/bench.js';
import { loadOptions } from './lib/models.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: join(import.meta.dirname, '..', 'models', 'vittrack-student.onnx') },
    frames: { type: 'string', default: '600' },
    threads: { type: 'string', default: '1' },
    qos: { type: 'string', default: '0' },
    broker: { type: 'string' },
  },
});
const frameCount = Number(values.frames);
const threads = Number(values.threads);
const qos = Number(values.qos);
if (!(Number.isInteger(frameCount) && frameCount > 1 && Number.isInteger(threads) && threads > 0 && (qos === 0 || qos === 1))) {
  console.error('usage: npx tsx tools/bench-publish.ts [--model PATH] [--frames N] [--threads N] [--qos 0|1] [--broker mqtt://HOST:PORT]');
  process.exit(2);
}

/** Mosquitto on a free loopback port (2.x without a config: loopback only, anonymous). */
async function startMosquitto(): Promise<{ url: string; stop(): void }> {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const child = spawn('mosquitto', ['-p', String(port)], { stdio: 'ignore' });
  await new Promise((resolve, reject) => {
    child.once('error', () => reject(new Error('mosquitto not found: apt-get install mosquitto, or give --broker mqtt://HOST:PORT')));
    setTimeout(resolve, 300);
  });
  return { url: `mqtt://127.0.0.1:${port}`, stop: () => void child.kill() };
}

/** Frames per timed block. */
const BLOCK = 20;
const broker = values.broker ? { url: values.broker, stop: () => undefined } : await startMosquitto();
const engine = await Engine.load(values.model, await loadOptions(values.model, threads));
try {
  const frames: Frame[] = [];
  const source = await openSource(join(import.meta.dirname, '..', 'models', 'tree.avi'));
  for await (const f of source) frames.push(f.frame);
  await source.close();
  const box = { x: frames[0].width * 0.4, y: frames[0].height * 0.35, width: frames[0].width * 0.2, height: frames[0].height * 0.25 };
  const alone = new Tracker(engine);
  const publishing = new Tracker(engine);
  const link = await MqttLink.open({ url: `${broker.url}/bench`, model: 'bench', deviceId: 'bench', qos: qos as 0 | 1 });
  if (!link.connected) throw new Error(`the broker at ${broker.url} did not answer`);
  const turn = () => new Promise((resolve) => setImmediate(resolve));
  // Blocks of frames, the arms alternating block by block: publishing defers its socket write to
  // the event loop's next turn (while the next inference runs), so a block measures the loop as an
  // application runs it, and the drain between blocks keeps one arm's work out of the other's time.
  const perFrame = { alone: [] as number[], publishing: [] as number[] };
  let next = { alone: 0, publishing: 0 };
  const runBlock = async (arm: 'alone' | 'publishing') => {
    const tracker = arm === 'alone' ? alone : publishing;
    const t0 = performance.now();
    for (let j = 0; j < BLOCK; j++) {
      const k = next[arm]++ % frames.length;
      if (k === 0) {
        tracker.init(frames[0], box);
        continue;
      }
      const r = await tracker.track(frames[k]);
      if (arm === 'publishing') link.publish({ index: k, timestampMs: k * 33.3, ...r });
    }
    await turn();
    perFrame[arm].push((performance.now() - t0) / BLOCK);
    while (link.stats.queued > 0) await turn();
  };
  for (let b = 0; b < Math.ceil(frameCount / BLOCK); b++) {
    const order = b % 2 === 0 ? (['alone', 'publishing'] as const) : (['publishing', 'alone'] as const);
    for (const arm of order) await runBlock(arm);
  }
  const stats = await link.close();
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const { alone: a, publishing: p } = perFrame;
  console.log(`model ${values.model}, ${threads} thread(s), ${a.length} blocks of ${BLOCK} frames each, QoS ${qos}, broker ${broker.url}`);
  console.log('| ms per frame | mean | median block |');
  console.log('|---|---:|---:|');
  console.log(`| track() | ${mean(a).toFixed(3)} | ${median(a).toFixed(3)} |`);
  console.log(`| track() + publish() | ${mean(p).toFixed(3)} | ${median(p).toFixed(3)} |`);
  console.log(`publishing costs ${(100 * (mean(p) / mean(a) - 1)).toFixed(2)}% per frame (mean), ${(100 * (median(p) / median(a) - 1)).toFixed(2)}% (median block); goal at most 3% at QoS 0`);
  console.log(`messages published ${stats.published}, dropped ${stats.dropped}`);
} finally {
  engine.dispose();
  broker.stop();
}
