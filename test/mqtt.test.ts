/**
 * Publishing and control over MQTT against a real Mosquitto broker (test/helpers/mosquitto.ts):
 * `ct-edge track --publish` end to end in a child process, commands on the control topic, a broker
 * killed and restarted mid-stream, a broker that never answers, credentials and TLS. No mocks.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { CtEdgeError, Engine, Tracker, TrackTransform, type Frame, type StreamResult } from '../ts/index.js';
import { MqttLink, parseCommand } from '../ts/deploy/mqtt.js';
import { openSource } from '../ts/deploy/io/open.js';
import { repoRoot } from './helpers/data.js';
import { makeCertificates, mosquittoPath, mosquittoSkipReason, passwordFile, startBroker, type Broker } from './helpers/mosquitto.js';
import { makeMovingSquareVideo } from './helpers/video.js';

// CI installs Mosquitto (.ci/run): there a missing broker fails the suite instead of skipping it.
const brokerTest = mosquittoPath || process.env.CI ? test.serial : test.serial.skip;
const suffix = mosquittoPath ? '' : ` (${mosquittoSkipReason})`;
const student = join(repoRoot, 'models', 'vittrack-student.onnx');
const squareBox = '20,30,24,24';

let dir = '';
let video = '';
let longVideo = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-mqtt-'));
  video = join(dir, 'square.mp4');
  longVideo = join(dir, 'square-20s.mp4');
  makeMovingSquareVideo(video);
  makeMovingSquareVideo(longVideo, 20);
});
test.after.always(async () => rm(dir, { recursive: true, force: true }));

interface Message {
  topic: string;
  body: Record<string, unknown>;
}

/** A client that records every message under `filter`, and waits for the one a test expects. */
class Subscriber {
  readonly messages: Message[] = [];
  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(payload.toString()) as Record<string, unknown>;
      } catch {
        body = { raw: payload.toString() }; // a malformed command the test itself sent
      }
      this.messages.push({ topic, body });
    });
  }

  static async connect(url: string, filter: string, options: mqtt.IClientOptions = {}): Promise<Subscriber> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 100, ...options });
    await client.subscribeAsync(filter, { qos: 1 });
    return new Subscriber(client);
  }

  on(topicEnd: string): Record<string, unknown>[] {
    return this.messages.filter((m) => m.topic.endsWith(`/${topicEnd}`)).map((m) => m.body);
  }

  /** The first message (from `from` on) on a topic ending in `topicEnd` that `match` accepts. */
  async waitFor(topicEnd: string, match: (body: Record<string, unknown>) => boolean, what: string, from = 0, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find((m) => m.topic.endsWith(`/${topicEnd}`) && match(m.body));
      if (found) return found.body;
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.messages.slice(-5))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): Promise<void> {
    return this.client.endAsync(true);
  }
}

/** `ct-edge ARGS` as a child process; `done` settles with its exit and output. */
function startCli(args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'ts', 'cli', 'main.ts'), ...args], { cwd: repoRoot, env: { ...process.env, CT_EDGE_DEBUG: '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done };
}

async function withBroker(t: ExecutionContext, listener?: (port: number) => string): Promise<Broker> {
  const broker = await startBroker(dir, listener);
  t.teardown(() => broker.kill());
  return broker;
}

async function decodedFrames(count: number): Promise<Frame[]> {
  const frames: Frame[] = [];
  const source = await openSource(video);
  for await (const f of source) {
    frames.push(f.frame);
    if (frames.length === count) break;
  }
  await source.close();
  return frames;
}

const errorOf = (code: CtEdgeError['code'], message?: RegExp) => ({ instanceOf: CtEdgeError, code, ...(message ? { message } : {}) });

test('a malformed command is a typed error, never a command', (t) => {
  const parse = (text: string) => parseCommand(Buffer.from(text));
  const codeOf = (text: string) => {
    const p = parse(text);
    return 'error' in p ? p.error.code : p.command.command;
  };
  t.is(codeOf('{"command":"init","box":[1,2,3,4]}'), 'init');
  t.deepEqual(parse('{"command":"init","box":{"x":1,"y":2,"width":3,"height":4},"request":"r1"}'), { request: 'r1', command: { command: 'init', box: { x: 1, y: 2, width: 3, height: 4 } } });
  t.is(codeOf('{"command":"stop"}'), 'stop');
  t.is(codeOf('{"command":"reset","target":0}'), 'reset');
  // A target id passes to the stream, which knows its targets (a lone tracker's refuses all but 0).
  t.deepEqual(parse('{"command":"stop","target":3}'), { request: undefined, command: { command: 'stop', target: 3 } });
  for (const bad of ['', 'init', '[1,2]', 'null', '{"command":"jump"}', '{}', '{"command":"stop","target":-1}', '{"command":"stop","target":"3"}', '{"command":"stop","target":1.5}', `{"command":"stop","pad":"${'x'.repeat(5000)}"}`]) {
    t.is(codeOf(bad), 'ERR_COMMAND', bad.slice(0, 40));
  }
  for (const bad of ['{"command":"init"}', '{"command":"init","box":[1,2,3]}', '{"command":"init","box":[1,2,0,4]}', '{"command":"init","box":[1,"2",3,4]}', '{"command":"init","box":[1e999,2,3,4]}']) {
    t.is(codeOf(bad), 'ERR_BOX_INVALID', bad);
  }
  const p = parse('{"command":"jump","request":7}');
  t.is(p.request, 7, 'the request id is echoed even when the command is refused');
});

test('bad link options are typed errors that name the fix', async (t) => {
  const open = (o: Record<string, unknown>) => MqttLink.open({ url: 'mqtt://127.0.0.1:1/x', model: 'm', connectTimeoutMs: 1, ...o } as never);
  await t.throwsAsync(open({ url: 'http://broker/x' }), errorOf('ERR_INVALID_ARGUMENT', /mqtt:\/\/ or mqtts:\/\//));
  await t.throwsAsync(open({ url: 'not a url' }), errorOf('ERR_INVALID_ARGUMENT', /not a URL/));
  await t.throwsAsync(open({ url: 'mqtt://user:secret@broker/x' }), errorOf('ERR_INVALID_ARGUMENT', /CT_EDGE_MQTT_USERNAME/));
  await t.throwsAsync(open({ url: 'mqtt://broker/a/#' }), errorOf('ERR_INVALID_ARGUMENT', /wildcards/));
  await t.throwsAsync(open({ deviceId: 'cam/1' }), errorOf('ERR_INVALID_ARGUMENT', /device id/));
  await t.throwsAsync(open({ qos: 2 }), errorOf('ERR_INVALID_ARGUMENT', /qos must be 0 or 1/));
  await t.throwsAsync(open({ caFile: join(dir, 'ca.pem') }), errorOf('ERR_INVALID_ARGUMENT', /use mqtts:\/\//));
  await t.throwsAsync(open({ url: 'mqtts://127.0.0.1:1/x', caFile: join(dir, 'missing.pem') }), errorOf('ERR_INVALID_ARGUMENT', /cannot read the CA file/));
  await t.throwsAsync(open({ url: 'mqtts://127.0.0.1:1/x', certFile: join(dir, 'c.pem') }), errorOf('ERR_INVALID_ARGUMENT', /both its certificate and its key/));
  await t.throwsAsync(open({ model: '' }), errorOf('ERR_INVALID_ARGUMENT', /model/));
  await t.throwsAsync(open({ queueLimit: 0 }), errorOf('ERR_INVALID_ARGUMENT', /queueLimit/));
  const cli = startCli(['track', video, '--model', student, '--box', squareBox, '--qos', '1']);
  const r = await cli.done;
  t.is(r.code, 1);
  t.regex(r.stderr, /--qos is an option of --publish.*\[ERR_INVALID_ARGUMENT\]/);
});

brokerTest(`ct-edge track --publish: one message per frame, the same boxes as --jsonl, and a retained status${suffix}`, async (t) => {
  const broker = await withBroker(t);
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const sub = await Subscriber.connect(url, 'fleet/cam1/#');
  t.teardown(() => sub.close());
  const jsonl = join(dir, 'published.jsonl');
  const r = await startCli(['track', video, '--model', student, '--threads', '1', '--box', squareBox, '--jsonl', jsonl, '--publish', `${url}/fleet`, '--device-id', 'cam1']).done;
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /published 50 messages to mqtt:\/\/127\.0\.0\.1:\d+\/fleet/);
  const lines = (await readFile(jsonl, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  await sub.waitFor('status', (s) => s.state === 'offline' && s.reason === 'stopped', 'the offline status');
  const track = sub.on('track');
  t.is(track.length, 50);
  t.deepEqual(
    track.map(({ device, model, ...line }) => line),
    lines,
  );
  t.true(track.every((m) => m.device === 'cam1' && m.model === 'vittrack-student'));
  const status = sub.on('status');
  t.true(status.some((s) => s.state === 'tracking' && /^onnxruntime/.test(String(s.backend))), JSON.stringify(status));
  // The retained status is what a subscriber that comes later sees first.
  const late = await Subscriber.connect(url, 'fleet/+/status');
  t.teardown(() => late.close());
  const retained = await late.waitFor('status', () => true, 'the retained status');
  t.like(retained, { device: 'cam1', model: 'vittrack-student', state: 'offline', published: 50, dropped: 0 });
});

brokerTest(`commands on the control topic start, refuse, stop and reset the tracker of a running ct-edge track${suffix}`, async (t) => {
  const broker = await withBroker(t);
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const sub = await Subscriber.connect(url, 'ops/cam2/#');
  t.teardown(() => sub.close());
  const cli = startCli(['track', longVideo, '--model', student, '--threads', '1', '--realtime', '--publish', `${url}/ops`, '--device-id', 'cam2']);
  t.teardown(() => void cli.child.kill('SIGKILL'));
  await sub.waitFor('status', (s) => s.state === 'idle', 'the idle status of a tracker waiting for init');
  t.is(sub.on('track').length, 0, 'nothing is tracked before an init');
  const send = (body: unknown) => sub.client.publishAsync('ops/cam2/control', typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 });
  const reply = (request: string) => sub.waitFor('reply', (m) => m.request === request, `the reply to ${request}`);

  await send({ command: 'init', box: [20, 30, 24, 24], request: 'start' });
  const started = await reply('start');
  t.like(started, { ok: true, command: 'init', device: 'cam2' });
  const first = await sub.waitFor('track', (m) => m.frame === started.frame, 'the init frame');
  t.like(first, { x: 20, y: 30, w: 24, h: 24, score: 1, state: 'tracking' });

  await send('{"command":');
  const malformed = await sub.waitFor('reply', (m) => m.ok === false && (m.error as { code: string }).code === 'ERR_COMMAND', 'the answer to a malformed command');
  t.regex((malformed.error as { message: string }).message, /not JSON/);
  await send({ command: 'init', box: [900, 900, 20, 20], request: 'outside' });
  t.like(await reply('outside'), { ok: false, error: { code: 'ERR_BOX_OUTSIDE' } });
  const afterRefusal = sub.messages.length;
  await sub.waitFor('track', (m) => m.state !== 'idle', 'tracking going on after a refused command', afterRefusal);

  await send({ command: 'stop', request: 'stop' });
  t.like(await reply('stop'), { ok: true });
  const stoppedAt = sub.messages.length;
  await sub.waitFor('status', (s) => s.state === 'idle', 'the idle status after stop', stoppedAt - 5);
  await send({ command: 'reset', request: 'reset' });
  const reset = await reply('reset');
  t.like(reset, { ok: true, command: 'reset' });
  t.like(await sub.waitFor('track', (m) => m.frame === reset.frame, 'the reset frame'), { x: 20, y: 30, w: 24, h: 24, score: 1 });
  t.false(
    sub.on('track').some((m) => (m.frame as number) > (sub.on('reply').find((r) => r.request === 'stop')!.frame as number) && (m.frame as number) < (reset.frame as number)),
    'no track messages between stop and reset',
  );

  cli.child.kill('SIGINT');
  const r = await cli.done;
  t.is(r.code, 130, r.stderr);
  t.regex(r.stdout, /published \d+ messages/);
  t.regex(r.stdout, /frames without a target/);
  await sub.waitFor('status', (s) => s.state === 'offline', 'the offline status after Ctrl-C');
});

for (const qos of [0, 1] as const) {
  brokerTest(`a broker killed and restarted mid-stream at QoS ${qos}: tracking goes on, then publishing resumes${suffix}`, async (t) => {
    const broker = await withBroker(t);
    const url = `mqtt://127.0.0.1:${broker.port}`;
    const sub = await Subscriber.connect(url, 'fleet/cam3/track');
    t.teardown(() => sub.close());
    const frames = await decodedFrames(50);
    const engine = await Engine.load(student, { threads: 1 });
    t.teardown(() => engine.dispose());
    const tracker = new Tracker(engine);
    const link = await MqttLink.open({ url: `${url}/fleet`, model: 'student', deviceId: 'cam3', reconnectPeriodMs: 100, qos });
    let killedWhileConnected = false;
    async function* paced() {
      for (let i = 0; i < 150; i++) {
        if (i === 40) {
          killedWhileConnected = link.connected;
          await broker.kill();
        }
        if (i === 80) await broker.start();
        await new Promise((r) => setTimeout(r, 15));
        yield frames[i % 50];
      }
    }
    const results: StreamResult[] = [];
    for await (const r of tracker.stream(paced(), { initBox: { x: 20, y: 30, width: 24, height: 24 } })) {
      results.push(r);
      link.publish(r);
    }
    const stats = await link.close();
    t.is(results.length, 150, 'every frame was tracked');
    t.true(killedWhileConnected);
    t.true(stats.reconnects >= 1, JSON.stringify(stats));
    const seen = sub.on('track').map((m) => m.frame as number);
    t.true(seen.some((f) => f < 40), 'messages before the kill arrived');
    t.true(seen.some((f) => f >= 120), `messages after the restart arrived: ${seen.length} frames seen`);
    t.true(stats.published >= 100, JSON.stringify(stats));
    // QoS 1: every message is acknowledged or counted as dropped, resends after the restart included.
    // QoS 0: a write whose connection died before it drained may be neither.
    if (qos === 1) t.is(stats.published + stats.dropped, 150, JSON.stringify(stats));
    else t.true(stats.published + stats.dropped <= 150, JSON.stringify(stats));
  });
}

brokerTest(`results published while the broker is down wait in the outbox, the oldest dropped past its limit, and go out on connecting${suffix}`, async (t) => {
  const broker = await withBroker(t);
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const sub = await Subscriber.connect(url, 'fleet/cam5/track');
  t.teardown(() => sub.close());
  await broker.kill();
  // The link retries after 1.5 s; the subscriber after 0.1 s, so it is back before the outbox is sent.
  const link = await MqttLink.open({ url: `${url}/fleet`, model: 'm', deviceId: 'cam5', connectTimeoutMs: 100, reconnectPeriodMs: 1500, queueLimit: 20 });
  t.false(link.connected);
  for (let i = 0; i < 50; i++) link.publish({ index: i, timestampMs: i * 40, box: { x: i, y: 0, width: 10, height: 10 }, score: 0.9, state: 'tracking' });
  t.like(link.stats, { dropped: 30, queued: 20 });
  await broker.start();
  await sub.waitFor('track', (m) => m.frame === 49, 'the newest result after the broker came back');
  t.deepEqual(
    sub.on('track').map((m) => m.frame),
    [...Array(20).keys()].map((i) => 30 + i),
    'the newest 20 in order, the oldest 30 dropped',
  );
  t.like(await link.close(), { published: 20, dropped: 30, queued: 0 });
});

brokerTest(`a TrackTransform pipeline ending in the link's writable publishes every result${suffix}`, async (t) => {
  const broker = await withBroker(t);
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const sub = await Subscriber.connect(url, 'fleet/cam6/track');
  t.teardown(() => sub.close());
  const engine = await Engine.load(student, { threads: 1 });
  t.teardown(() => engine.dispose());
  const link = await MqttLink.open({ url: `${url}/fleet`, model: 'student', deviceId: 'cam6' });
  const frames = (await decodedFrames(20)).map((frame, index) => ({ frame, index, timestampMs: index * 40 }));
  await pipeline(Readable.from(frames), new TrackTransform(new Tracker(engine), { initBox: { x: 20, y: 30, width: 24, height: 24 } }), link.writable());
  t.like(await link.close(), { published: 20, dropped: 0 });
  await sub.waitFor('track', (m) => m.frame === 19, 'the last frame');
  t.deepEqual(
    sub.on('track').map((m) => m.frame),
    [...Array(20).keys()],
  );
});

brokerTest(`a broker that accepts connections and never answers: tracking runs through, and the drops are counted${suffix}`, async (t) => {
  const sockets: Socket[] = [];
  const silent = createServer((s) => void sockets.push(s));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const port = (silent.address() as { port: number }).port;
  const link = await MqttLink.open({ url: `mqtt://127.0.0.1:${port}/fleet`, model: 'student', connectTimeoutMs: 200, queueLimit: 20 });
  t.false(link.connected);
  t.true(sockets.length >= 1, 'the link did reach the silent broker');
  const engine = await Engine.load(student, { threads: 1 });
  t.teardown(() => engine.dispose());
  const tracker = new Tracker(engine);
  let tracked = 0;
  for await (const r of tracker.stream(await decodedFrames(50), { initBox: { x: 20, y: 30, width: 24, height: 24 } })) {
    link.publish(r);
    tracked += 1;
  }
  t.is(tracked, 50);
  t.like(link.stats, { published: 0, dropped: 30, queued: 20, connected: false });
  const stats = await link.close(200);
  t.like(stats, { published: 0, dropped: 50, queued: 0 }, 'what still waited at close is counted as dropped');
  // The command line: it says the broker has not answered, tracks every frame, and reports the drops.
  const cli = await startCli(['track', video, '--model', student, '--threads', '1', '--box', squareBox, '--publish', `mqtt://127.0.0.1:${port}/fleet`]).done;
  t.is(cli.code, 0, cli.stderr);
  t.regex(cli.stderr, /has not answered yet: tracking goes on/);
  t.regex(cli.stdout, /tracked 50 frames/);
  t.regex(cli.stdout, /published 0 messages to .*; 50 dropped/);
});

brokerTest(`wrong credentials are a typed error at start that says what to set; the right ones from the environment work${suffix}`, async (t) => {
  const passwords = passwordFile(dir, 'device', 'right-password');
  const broker = await withBroker(t, (port) => `listener ${port} 127.0.0.1\nallow_anonymous false\npassword_file ${passwords}\n`);
  const url = `mqtt://127.0.0.1:${broker.port}/fleet`;
  await t.throwsAsync(MqttLink.open({ url, model: 'm', username: 'device', password: 'wrong' }), errorOf('ERR_MQTT_AUTH', /CT_EDGE_MQTT_USERNAME and CT_EDGE_MQTT_PASSWORD/));
  await t.throwsAsync(MqttLink.open({ url, model: 'm', username: '', password: '' }), errorOf('ERR_MQTT_AUTH'));
  const wrong = await startCli(['track', video, '--model', student, '--box', squareBox, '--publish', url], { CT_EDGE_MQTT_USERNAME: 'device', CT_EDGE_MQTT_PASSWORD: 'wrong' }).done;
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /refused the credentials.*set CT_EDGE_MQTT_USERNAME and CT_EDGE_MQTT_PASSWORD.*\[ERR_MQTT_AUTH\]/);
  t.notRegex(wrong.stderr, /\n\s+at /, 'no stack trace');
  const right = await startCli(['track', video, '--model', student, '--threads', '1', '--box', squareBox, '--frames', '5', '--publish', url], { CT_EDGE_MQTT_USERNAME: 'device', CT_EDGE_MQTT_PASSWORD: 'right-password' }).done;
  t.is(right.code, 0, right.stderr);
  t.regex(right.stdout, /published 5 messages/);
});

brokerTest(`commands beyond 64 waiting for frames are refused with ERR_COMMAND, in order, the earlier ones kept${suffix}`, async (t) => {
  const broker = await withBroker(t);
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const sub = await Subscriber.connect(url, 'fleet/cam7/reply');
  t.teardown(() => sub.close());
  const link = await MqttLink.open({ url: `${url}/fleet`, model: 'm', deviceId: 'cam7' });
  t.teardown(() => void link.close(200));
  // Nobody takes commands (a source that delivers no frames): the 65th finds the queue full.
  for (let i = 0; i < 65; i++) await sub.client.publishAsync('fleet/cam7/control', JSON.stringify({ command: 'stop', request: i }), { qos: 1 });
  const refused = await sub.waitFor('reply', (m) => m.request === 64, 'the answer to the 65th command');
  t.like(refused, { ok: false, command: 'stop', error: { code: 'ERR_COMMAND' } });
  t.is(sub.on('reply').length, 1, 'the first 64 wait for frames, unanswered');
  const taken = [...Array(64)].map(() => link.nextCommand());
  t.true(taken.every((c) => c?.command === 'stop'));
  t.is(link.nextCommand(), undefined);
});

brokerTest(`credentials refused on a reconnect stop publishing with ERR_MQTT_AUTH, and results are counted as dropped${suffix}`, async (t) => {
  const passwords = passwordFile(dir, 'device', 'first-password');
  const broker = await withBroker(t, (port) => `listener ${port} 127.0.0.1\nallow_anonymous false\npassword_file ${passwords}\n`);
  const link = await MqttLink.open({ url: `mqtt://127.0.0.1:${broker.port}/fleet`, model: 'm', username: 'device', password: 'first-password', reconnectPeriodMs: 100 });
  t.true(link.connected);
  const record = (index: number) => ({ index, timestampMs: index * 40, box: { x: 1, y: 2, width: 3, height: 4 }, score: 0.9, state: 'tracking' as const });
  // The broker comes back with another password: the link's reconnect is refused.
  await broker.kill();
  passwordFile(dir, 'device', 'rotated-password');
  await broker.start();
  for (let i = 0; i < 100 && !link.error; i++) await new Promise((r) => setTimeout(r, 50));
  t.like(link.error, { code: 'ERR_MQTT_AUTH' });
  t.regex(link.error!.message, /CT_EDGE_MQTT_USERNAME and CT_EDGE_MQTT_PASSWORD/);
  for (let i = 0; i < 5; i++) link.publish(record(i));
  t.like(await link.close(200), { published: 0, dropped: 5, connected: false });
});

brokerTest(`TLS: the broker's certificate checked against the CA given, and a client certificate where the broker asks for one${suffix}`, async (t) => {
  const certs = makeCertificates(dir);
  const tlsListener = (clientCertificates: boolean) => (port: number) =>
    `listener ${port} 127.0.0.1\nallow_anonymous true\ncafile ${certs.ca}\ncertfile ${certs.serverCert}\nkeyfile ${certs.serverKey}\nrequire_certificate ${clientCertificates}\n`;
  const broker = await withBroker(t, tlsListener(false));
  const url = `mqtts://localhost:${broker.port}/secure`;
  const sub = await Subscriber.connect(`mqtts://localhost:${broker.port}`, 'secure/+/track', { ca: await readFile(certs.ca) });
  t.teardown(() => sub.close());
  const link = await MqttLink.open({ url, model: 'm', deviceId: 'tls1', caFile: certs.ca });
  t.true(link.connected);
  link.publish({ index: 0, timestampMs: 0, box: { x: 1, y: 2, width: 3, height: 4 }, score: 0.5, state: 'tracking' });
  t.like(await sub.waitFor('track', () => true, 'a message over TLS'), { frame: 0, device: 'tls1', x: 1 });
  await link.close();
  await t.throwsAsync(MqttLink.open({ url, model: 'm' }), errorOf('ERR_MQTT_TLS', /--mqtt-ca/), 'without the CA the broker is not trusted');

  const strict = await withBroker(t, tlsListener(true));
  const strictUrl = `mqtts://localhost:${strict.port}/secure`;
  const withCert = await MqttLink.open({ url: strictUrl, model: 'm', caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey });
  t.true(withCert.connected);
  await withCert.close();
  await t.throwsAsync(MqttLink.open({ url: strictUrl, model: 'm', caFile: certs.ca, connectTimeoutMs: 5000 }), errorOf('ERR_MQTT_TLS', /--mqtt-cert/));
});

brokerTest(`a ct-edge track group publishes every target by id and takes commands by target: init adds one, stop removes it${suffix}`, async (t) => {
  const broker = await withBroker(t);
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const sub = await Subscriber.connect(url, 'ops/cam3/#');
  t.teardown(() => sub.close());
  const cli = startCli(['track', longVideo, '--model', student, '--threads', '1', '--realtime', '--publish', `${url}/ops`, '--device-id', 'cam3', '--box', squareBox, '--box', '60,60,30,30']);
  t.teardown(() => void cli.child.kill('SIGKILL'));
  const send = (body: unknown) => sub.client.publishAsync('ops/cam3/control', JSON.stringify(body), { qos: 1 });
  const reply = (request: string) => sub.waitFor('reply', (m) => m.request === request, `the reply to ${request}`);
  await sub.waitFor('track', (m) => m.target === 2 && m.score !== 1, 'target 2 tracked');
  t.like(sub.on('track').find((m) => m.target === 1 && m.score === 1), { x: 20, y: 30, w: 24, h: 24, state: 'tracking' }, 'target 1 starts at its --box');

  await send({ command: 'init', box: [100, 40, 30, 30], request: 'add' });
  const added = await reply('add');
  t.like(added, { ok: true, command: 'init', target: 3 });
  t.like(await sub.waitFor('track', (m) => m.target === 3 && m.frame === added.frame, 'the new target on its init frame'), { x: 100, y: 40, w: 30, h: 30, score: 1 });

  await send({ command: 'stop', target: 1, request: 'drop' });
  const dropped = await reply('drop');
  t.like(dropped, { ok: true, command: 'stop', target: 1 });
  await send({ command: 'reset', target: 7, request: 'nobody' });
  t.like(await reply('nobody'), { ok: false, target: 7, error: { code: 'ERR_TARGET_UNKNOWN' } });
  const later = await sub.waitFor('track', (m) => (m.frame as number) > (dropped.frame as number) + 2 && m.target === 3, 'tracking after the stop');
  const framesAfter = sub.on('track').filter((m) => (m.frame as number) > (dropped.frame as number) && (m.frame as number) <= (later.frame as number));
  t.true(framesAfter.length > 0 && framesAfter.every((m) => m.target === 2 || m.target === 3), 'target 1 is gone after its stop');

  cli.child.kill('SIGINT');
  const r = await cli.done;
  t.is(r.code, 130, r.stderr);
  t.regex(r.stdout, /targets reported lost: 1 in \d+, 2 in \d+, 3 in \d+/);
});
