/**
 * A device's link to an MQTT broker: tracking results out, control commands in.
 *
 * Topics, under the URL's path (the prefix, default `ct-edge`) and the device's id:
 *   PREFIX/DEVICE/track    one message per tracked frame: the `--jsonl` line plus device and model
 *   PREFIX/DEVICE/status   retained: model, backend, state, fps; the last will sets it offline
 *   PREFIX/DEVICE/control  commands in: {"command":"init","box":[x,y,w,h]}, {"command":"stop"}, {"command":"reset"}
 *   PREFIX/DEVICE/reply    one answer per command: {"ok":true,"frame":N} or {"ok":false,"error":{code,message}}
 *
 * Publishing never waits for the broker. Messages go through a bounded outbox: while the broker is
 * unreachable or slow, up to `queueLimit` wait and the oldest are dropped first (counted in
 * `stats.dropped`); a reconnect sends what waits. QoS 0 messages already written to a connection
 * that then breaks are lost without being counted (the socket's buffer); QoS 1 ones are resent.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { Writable } from 'node:stream';
import type { IClientOptions, MqttClient } from 'mqtt';
import { CtEdgeError } from '../contract/errors.js';
import { recordFields, type BoxRecord } from './io/results.js';
import type { StreamCommand, StreamControl } from './stream.js';
import type { Box } from '../contract/types.js';

/** Where credentials come from: the environment, never a command line (`ps` shows those). */
export const MQTT_USERNAME_ENV = 'CT_EDGE_MQTT_USERNAME';
export const MQTT_PASSWORD_ENV = 'CT_EDGE_MQTT_PASSWORD';

export interface MqttLinkOptions {
  /** `mqtt://HOST[:PORT]/PREFIX` or `mqtts://...` (TLS). Default port 1883 (mqtts: 8883), prefix `ct-edge`. */
  url: string;
  /** The model's name, carried by every message and the status. */
  model: string;
  /** The engine's backend, for the status (e.g. `onnxruntime`). */
  backend?: string;
  /** This device's id in topics and messages (default: the host name). MQTT wildcards and `/` are refused. */
  deviceId?: string;
  /** Delivery of results: 0 at most once (default), 1 at least once. Status and replies use 1. */
  qos?: 0 | 1;
  /** PEM files for mqtts: the CA that signed the broker's certificate, and a client certificate and key. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Default: the environment's CT_EDGE_MQTT_USERNAME and CT_EDGE_MQTT_PASSWORD. */
  username?: string;
  password?: string;
  /** Result messages that wait while the broker is away or slow; beyond it the oldest go (default 1000). */
  queueLimit?: number;
  /** How long `open()` waits for the broker before tracking goes on without it (default 3000 ms). */
  connectTimeoutMs?: number;
  /** Wait between reconnection attempts (default 1000 ms). */
  reconnectPeriodMs?: number;
  /** The retained status is republished this often while tracking (default 5000 ms). */
  statusIntervalMs?: number;
}

export interface MqttLinkStats {
  /** Result messages handed to the connection (QoS 1: acknowledged by the broker). */
  published: number;
  /** Result messages dropped because the outbox was full: the oldest went first. */
  dropped: number;
  /** Result messages waiting now. */
  queued: number;
  /** Connections made after the first. */
  reconnects: number;
  connected: boolean;
}

export type DeviceState = 'idle' | 'tracking' | 'lost' | 'offline';

/** Result messages that wait for the broker by default (MqttLinkOptions.queueLimit). */
export const DEFAULT_QUEUE_LIMIT = 1000;
const ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const MAX_COMMAND_BYTES = 4096;
const MAX_PENDING_COMMANDS = 64;
/** QoS 0 writes (or QoS 1 publishes awaiting their acknowledgement) in flight at once. */
const MAX_IN_FLIGHT = 64;
/** CONNACK codes that mean the credentials (3.1.1: 4, 5; MQTT 5: 0x86, 0x87). */
const AUTH_CODES = new Set([4, 5, 0x86, 0x87]);
const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|ERR_SSL|ERR_TLS/;

interface Endpoint {
  brokerUrl: string;
  prefix: string;
  tls: boolean;
}

function parseUrl(url: unknown): Endpoint {
  if (typeof url !== 'string') throw new CtEdgeError('ERR_INVALID_ARGUMENT', `the broker must be a URL, mqtt://HOST[:PORT]/PREFIX, got ${typeof url}`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `'${url}' is not a URL: give mqtt://HOST[:PORT]/PREFIX (or mqtts:// for TLS)`);
  }
  if (u.protocol !== 'mqtt:' && u.protocol !== 'mqtts:') {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `'${url}': the scheme must be mqtt:// or mqtts://, got ${u.protocol}//`);
  }
  if (u.username || u.password) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `'${u.protocol}//${u.host}': leave credentials out of the URL (ps shows command lines); set ${MQTT_USERNAME_ENV} and ${MQTT_PASSWORD_ENV}`);
  }
  if (!u.hostname) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `'${url}' names no host: give mqtt://HOST[:PORT]/PREFIX`);
  const prefix = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, '')) || 'ct-edge';
  // A '#' in a URL starts its fragment (empty ones vanish from URL.hash): test the text itself.
  if (/[#+?]/.test(url) || prefix.split('/').some((level) => level === '')) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `'${url}': the topic prefix must be plain topic levels, without the wildcards + and #, a query or empty levels`);
  }
  const tls = u.protocol === 'mqtts:';
  return { brokerUrl: `${u.protocol}//${u.host}`, prefix, tls };
}

async function readPem(path: string | undefined, what: string): Promise<Buffer | undefined> {
  if (path === undefined) return undefined;
  try {
    return await readFile(path);
  } catch (error) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `cannot read the ${what} ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** One device's topics under the prefix: the single place they are named. */
function deviceTopics(prefix: string, deviceId: string): { track: string; status: string; control: string; reply: string } {
  const base = `${prefix}/${deviceId}`;
  return { track: `${base}/track`, status: `${base}/status`, control: `${base}/control`, reply: `${base}/reply` };
}

/** A command from the control topic, validated; `request` is echoed in its reply. */
type ParsedCommand = { command: StreamCommand; request?: string | number } | { error: CtEdgeError; request?: string | number };

function parseBox(value: unknown): Box | undefined {
  const v = Array.isArray(value)
    ? value
    : value !== null && typeof value === 'object'
      ? [(value as Box).x, (value as Box).y, (value as Box).width, (value as Box).height]
      : [];
  if (v.length !== 4 || !v.every((n) => typeof n === 'number' && Number.isFinite(n)) || v[2] <= 0 || v[3] <= 0) return undefined;
  const [x, y, width, height] = v as number[];
  return { x, y, width, height };
}

/** Reads one control message; everything that is not a well-formed command becomes a typed error. */
export function parseCommand(payload: Buffer): ParsedCommand {
  const usage = 'a command is a JSON object: {"command":"init","box":[x,y,w,h]}, {"command":"stop"} or {"command":"reset"}, with an optional "request" id to echo';
  if (payload.length > MAX_COMMAND_BYTES) return { error: new CtEdgeError('ERR_COMMAND', `a command of ${payload.length} bytes is over ${MAX_COMMAND_BYTES}: ${usage}`) };
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch {
    return { error: new CtEdgeError('ERR_COMMAND', `not JSON: ${usage}`) };
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { error: new CtEdgeError('ERR_COMMAND', `not a JSON object: ${usage}`) };
  const c = body as Record<string, unknown>;
  const request = (typeof c.request === 'string' && c.request.length <= 128) || (typeof c.request === 'number' && Number.isFinite(c.request)) ? (c.request as string | number) : undefined;
  // Which target (a group's id): checked against the targets where the command is applied.
  if (c.target !== undefined && !(typeof c.target === 'number' && Number.isInteger(c.target) && c.target >= 0)) {
    return { request, error: new CtEdgeError('ERR_COMMAND', `"target" must be a target id (a whole number), got ${JSON.stringify(c.target)}`) };
  }
  const target = c.target === undefined ? {} : { target: c.target as number };
  switch (c.command) {
    case 'init': {
      const box = parseBox(c.box);
      if (!box) return { request, error: new CtEdgeError('ERR_BOX_INVALID', `init needs "box": [x,y,w,h] (or {x,y,width,height}) in pixels, finite, with w,h > 0; got ${JSON.stringify(c.box) ?? 'none'}`) };
      return { request, command: { command: 'init', box, ...target } };
    }
    case 'stop':
    case 'reset':
      return { request, command: { command: c.command, ...target } };
    default:
      return { request, error: new CtEdgeError('ERR_COMMAND', `unknown command ${JSON.stringify(c.command) ?? '(none)'}: ${usage}`) };
  }
}

/** The frame rate of the results published over the last few seconds. */
class RateMeter {
  private readonly times: number[] = [];
  tick(now: number): void {
    this.times.push(now);
    while (this.times.length > 1 && now - this.times[0] > 3000) this.times.shift();
  }
  fps(now: number): number {
    while (this.times.length > 0 && now - this.times[0] > 3000) this.times.shift();
    const span = this.times.length > 1 ? this.times[this.times.length - 1] - this.times[0] : 0;
    return span > 0 ? Math.round(((this.times.length - 1) * 10000) / span) / 10 : 0;
  }
}

/**
 * One device's connection: `publish()` each result, pass the link as a stream's `control`, `close()`
 * at the end. Made by `MqttLink.open()`.
 */
export class MqttLink implements StreamControl {
  private readonly outbox: BoxRecord[] = [];
  private pumpScheduled = false;
  /** Writes in flight on the current connection (the window MAX_IN_FLIGHT bounds). */
  private inFlight = 0;
  /** QoS 1 messages the broker has not acknowledged yet, on any connection (mqtt.js resends them). */
  private awaitingAck = 0;
  /** One status publish at a time; a change meanwhile is sent after it, the latest state winning. */
  private statusBusy = false;
  private statusAgain = false;
  private countsFinal = false;
  /** Bumped on every disconnect: callbacks of writes on an older connection no longer count. */
  private connection = 0;
  private readonly commands: { command: StreamCommand; request?: string | number }[] = [];
  private readonly requests = new WeakMap<StreamCommand, string | number | undefined>();
  private readonly meter = new RateMeter();
  private state: DeviceState = 'idle';
  private statusTimer: NodeJS.Timeout | undefined;
  private failure: CtEdgeError | undefined;
  private closed = false;
  private counts = { published: 0, dropped: 0, reconnects: 0 };
  private connects = 0;
  readonly topics: ReturnType<typeof deviceTopics>;

  private constructor(
    private readonly client: MqttClient,
    readonly deviceId: string,
    private readonly options: Required<Pick<MqttLinkOptions, 'model' | 'qos' | 'queueLimit' | 'statusIntervalMs'>> & { backend?: string },
    prefix: string,
  ) {
    this.topics = deviceTopics(prefix, deviceId);
  }

  /**
   * Connects and subscribes to the control topic. Waits up to `connectTimeoutMs` for the broker:
   * a refusal of the credentials or of TLS is a typed error here; a broker that is down or silent
   * is not (tracking goes on, results queue, and `connected` says whether it came).
   */
  static async open(options: MqttLinkOptions): Promise<MqttLink> {
    if (options === null || typeof options !== 'object') throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'MqttLink.open(options) needs an options object with url and model');
    const endpoint = parseUrl(options.url);
    if (typeof options.model !== 'string' || options.model === '') throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'MqttLink options need model: the model\'s name, carried by every message');
    const deviceId = options.deviceId ?? hostname().replace(/[^A-Za-z0-9._-]/g, '-');
    if (typeof deviceId !== 'string' || !ID_PATTERN.test(deviceId)) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `device id ${JSON.stringify(deviceId)}: use 1 to 64 letters, digits, '.', '_' or '-' (it is a topic level)`);
    }
    const qos = options.qos ?? 0;
    if (qos !== 0 && qos !== 1) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `qos must be 0 or 1, got ${JSON.stringify(qos)}`);
    const positive = (v: number | undefined, name: string, fallback: number) => {
      if (v === undefined) return fallback;
      if (!Number.isInteger(v) || v < 1) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `${name} must be a whole number of at least 1, got ${JSON.stringify(v)}`);
      return v;
    };
    const queueLimit = positive(options.queueLimit, 'queueLimit', DEFAULT_QUEUE_LIMIT);
    const connectTimeoutMs = positive(options.connectTimeoutMs, 'connectTimeoutMs', 3000);
    const reconnectPeriodMs = positive(options.reconnectPeriodMs, 'reconnectPeriodMs', 1000);
    const statusIntervalMs = positive(options.statusIntervalMs, 'statusIntervalMs', 5000);
    const tlsFiles = options.caFile ?? options.certFile ?? options.keyFile;
    if (tlsFiles !== undefined && !endpoint.tls) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `certificate files are for TLS: use mqtts:// instead of ${options.url}`);
    if ((options.certFile === undefined) !== (options.keyFile === undefined)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'a client certificate needs both its certificate and its key file');
    const [ca, cert, key] = await Promise.all([readPem(options.caFile, 'CA file'), readPem(options.certFile, 'client certificate'), readPem(options.keyFile, 'client key')]);
    const username = options.username ?? process.env[MQTT_USERNAME_ENV] ?? undefined;
    const password = options.password ?? process.env[MQTT_PASSWORD_ENV] ?? undefined;

    const offline = JSON.stringify({ device: deviceId, model: options.model, state: 'offline', reason: 'connection lost' });
    const clientOptions: IClientOptions = {
      clientId: `ct-edge-${deviceId}-${process.pid}`,
      reconnectPeriod: reconnectPeriodMs,
      connectTimeout: Math.max(connectTimeoutMs, 5000),
      // The outbox queues (bounded) while offline; mqtt.js's own queue would grow without bound.
      queueQoSZero: false,
      will: { topic: deviceTopics(endpoint.prefix, deviceId).status, payload: Buffer.from(offline), qos: 1, retain: true },
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(ca ? { ca } : {}),
      ...(cert ? { cert, key } : {}),
    };
    // Loaded here: importing ct-edge does not load an MQTT client nobody uses.
    const { default: mqtt } = await import('mqtt');
    const client = mqtt.connect(endpoint.brokerUrl, clientOptions);
    const link = new MqttLink(client, deviceId, { model: options.model, backend: options.backend, qos, queueLimit, statusIntervalMs }, endpoint.prefix);
    await link.firstConnection(endpoint, connectTimeoutMs);
    return link;
  }

  /** Resolves when connected or when the wait is over; rejects on refused credentials or TLS. */
  private firstConnection(endpoint: Endpoint, timeoutMs: number): Promise<void> {
    const c = this.client;
    c.on('connect', () => this.onConnect());
    c.on('close', () => {
      this.connection += 1;
      this.inFlight = 0;
      this.statusBusy = false;
    });
    c.on('message', (topic, payload) => {
      if (topic === this.topics.control) this.onCommand(payload);
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, timeoutMs);
      c.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      c.on('error', (error: Error & { code?: unknown }) => {
        const fatal = this.fatalError(error, endpoint);
        if (!fatal) return; // down or refusing connections: reconnects go on
        this.failure ??= fatal;
        c.end(true);
        clearTimeout(timer);
        reject(fatal);
      });
    });
  }

  /** Errors that retrying cannot fix: credentials, certificates. */
  private fatalError(error: Error & { code?: unknown }, endpoint: Endpoint): CtEdgeError | undefined {
    if (typeof error.code === 'number' && AUTH_CODES.has(error.code)) {
      return new CtEdgeError(
        'ERR_MQTT_AUTH',
        `the broker at ${endpoint.brokerUrl} refused the credentials (${error.message}): set ${MQTT_USERNAME_ENV} and ${MQTT_PASSWORD_ENV} to a user it accepts`,
        { cause: error },
      );
    }
    if (typeof error.code === 'string' && TLS_CODES.test(error.code)) {
      return new CtEdgeError(
        'ERR_MQTT_TLS',
        `TLS with ${endpoint.brokerUrl} failed (${error.code}: ${error.message}): give the CA that signed the broker's certificate (--mqtt-ca, caFile), a host name the certificate names, and a client certificate and key if the broker asks for one (--mqtt-cert/--mqtt-key)`,
        { cause: error },
      );
    }
    return undefined;
  }

  private onConnect(): void {
    this.connects += 1;
    if (this.connects > 1) this.counts.reconnects += 1;
    this.client.subscribe(this.topics.control, { qos: 1 });
    this.publishStatus();
    this.statusTimer ??= setInterval(() => this.publishStatus(), this.options.statusIntervalMs).unref();
    this.pump();
  }

  /** A refusal that ended the link after open() (credentials or TLS on a reconnect), if one came. */
  get error(): CtEdgeError | undefined {
    return this.failure;
  }

  /** Whether the broker is connected now. */
  get connected(): boolean {
    return this.client.connected;
  }

  get stats(): MqttLinkStats {
    return { ...this.counts, queued: this.outbox.length, connected: this.client.connected };
  }

  /**
   * Publishes one tracking result (a StreamResult or any BoxRecord). Never waits: the message joins
   * the outbox, and the oldest waiting one is dropped when it is full. Idle results (no target)
   * are not published; they only update the status.
   */
  publish(result: BoxRecord): void {
    if (this.closed) throw new CtEdgeError('ERR_DISPOSED', 'this MqttLink was closed; open a new one');
    this.setState(result.state);
    if (result.state === 'idle') return;
    this.meter.tick(performance.now());
    this.enqueue(result);
  }

  /**
   * Publishes a TrackerGroup's frame: one message per target (each with its `target` id), the
   * status `tracking` while any target is, `lost` when all are, `idle` with none. Never waits.
   */
  publishTargets(results: readonly BoxRecord[]): void {
    if (this.closed) throw new CtEdgeError('ERR_DISPOSED', 'this MqttLink was closed; open a new one');
    this.setState(results.length === 0 ? 'idle' : results.some((r) => r.state === 'tracking') ? 'tracking' : 'lost');
    if (results.length === 0) return;
    this.meter.tick(performance.now());
    for (const r of results) this.enqueue(r);
  }

  /** Queues one message, dropping the oldest when the outbox is full, and schedules the pump. */
  private enqueue(result: BoxRecord): void {
    const { index, timestampMs, box, score, state, target } = result;
    this.outbox.push({ index, timestampMs, box: { ...box }, score, state, ...(target !== undefined && { target }) });
    if (this.outbox.length > this.options.queueLimit) {
      this.outbox.shift();
      this.counts.dropped += 1;
    }
    // Serialising and writing wait for the event loop's next turn: in a tracking loop that is
    // while the next frame's inference runs on its own thread, off the frame's critical path.
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
  }


  /** Sends waiting messages while connected, at most MAX_IN_FLIGHT at once. */
  private pump(): void {
    const connection = this.connection;
    while (this.client.connected && this.inFlight < MAX_IN_FLIGHT && this.outbox.length > 0) {
      const message = JSON.stringify({ ...recordFields(this.outbox.shift()!), device: this.deviceId, model: this.options.model });
      const qos = this.options.qos;
      this.inFlight += 1;
      if (qos === 1) this.awaitingAck += 1;
      this.client.publish(this.topics.track, message, { qos }, (error) => {
        // Counted whichever connection it went out on: a QoS 1 message resent after a reconnect
        // is acknowledged there. After close() has counted what was left, nothing changes.
        if (this.countsFinal) return;
        if (qos === 1) this.awaitingAck -= 1;
        if (error) this.counts.dropped += 1;
        else this.counts.published += 1;
        if (connection !== this.connection) return;
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  /**
   * The link as the end of a Node pipeline: an object-mode Writable that publishes every result
   * written to it (a TrackTransform's output, for example). Ending it does not close the link.
   */
  writable(): Writable {
    return new Writable({
      objectMode: true,
      write: (result: BoxRecord, _encoding, callback) => {
        try {
          this.publish(result);
          callback();
        } catch (error) {
          callback(error as Error);
        }
      },
    });
  }

  private setState(state: BoxRecord['state']): void {
    if (state === this.state) return;
    this.state = state;
    this.publishStatus();
  }

  private statusMessage(state: DeviceState, reason?: string): string {
    return JSON.stringify({
      device: this.deviceId,
      model: this.options.model,
      ...(this.options.backend ? { backend: this.options.backend } : {}),
      state,
      fps: this.meter.fps(performance.now()),
      published: this.counts.published,
      dropped: this.counts.dropped,
      time: new Date().toISOString(),
      ...(reason ? { reason } : {}),
    });
  }

  /** The retained status, one publish at a time (a target flapping every frame sends no more than the broker takes). */
  private publishStatus(): void {
    if (!this.client.connected) return;
    if (this.statusBusy) {
      this.statusAgain = true;
      return;
    }
    this.statusBusy = true;
    this.client.publish(this.topics.status, this.statusMessage(this.state), { qos: 1, retain: true }, () => {
      this.statusBusy = false;
      if (this.statusAgain) {
        this.statusAgain = false;
        this.publishStatus();
      }
    });
  }

  private onCommand(payload: Buffer): void {
    const parsed = parseCommand(payload);
    if ('error' in parsed) return this.reply(parsed.request, undefined, { error: parsed.error });
    if (this.commands.length >= MAX_PENDING_COMMANDS) {
      return this.reply(parsed.request, parsed.command, { error: new CtEdgeError('ERR_COMMAND', `${MAX_PENDING_COMMANDS} commands wait for frames already: is the source still delivering?`) });
    }
    this.requests.set(parsed.command, parsed.request);
    this.commands.push(parsed);
  }

  private reply(request: string | number | undefined, command: StreamCommand | undefined, outcome: { frame: number; target?: number } | { error: CtEdgeError }): void {
    const target = 'target' in outcome && outcome.target !== undefined ? outcome.target : command?.target;
    const body = {
      ...(request !== undefined ? { request } : {}),
      ...(command ? { command: command.command } : {}),
      ...(target !== undefined ? { target } : {}),
      device: this.deviceId,
      ...('error' in outcome ? { ok: false, error: { code: outcome.error.code, message: outcome.error.message } } : { ok: true, frame: outcome.frame }),
    };
    if (this.client.connected) this.client.publish(this.topics.reply, JSON.stringify(body), { qos: 1 });
  }

  /** StreamControl: the next command from the control topic, in arrival order. */
  nextCommand(): StreamCommand | undefined {
    return this.commands.shift()?.command;
  }

  /** StreamControl: answers the command on the reply topic. */
  commandDone(command: StreamCommand, outcome: { frame: number; target?: number } | { error: CtEdgeError }): void {
    this.reply(this.requests.get(command), command, outcome);
  }

  /**
   * Marks the device offline (retained status), sends what waits for up to `timeoutMs` (default
   * 2000), and disconnects. Whatever is still queued then is counted as dropped.
   */
  async close(timeoutMs = 2000): Promise<MqttLinkStats> {
    if (this.closed) return this.stats;
    this.closed = true;
    clearInterval(this.statusTimer);
    let flushedInTime = false;
    if (this.client.connected && !this.failure) {
      const flushed = new Promise<boolean>((resolve) => {
        const done = () => this.outbox.length === 0 && this.inFlight === 0 && this.awaitingAck === 0;
        const check = () => (done() || !this.client.connected ? resolve(true) : setTimeout(check, 10));
        check();
      }).then(
        (sent) =>
          new Promise<boolean>((resolve) => {
            if (!this.client.connected) return resolve(sent);
            this.client.publish(this.topics.status, this.statusMessage('offline', 'stopped'), { qos: 1, retain: true }, () => resolve(sent));
          }),
      );
      const deadline = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
      flushedInTime = await Promise.race([flushed, deadline]);
    }
    // What still waits, or waits for its acknowledgement, is lost with the connection.
    this.counts.dropped += this.outbox.length + this.awaitingAck;
    this.outbox.length = 0;
    this.awaitingAck = 0;
    this.countsFinal = true;
    // A clean disconnect (no last will) when everything went out; otherwise the socket is cut.
    const force = !flushedInTime || !this.client.connected;
    if (!this.failure) {
      await new Promise<void>((resolve) => {
        this.client.end(force, {}, () => resolve());
        setTimeout(resolve, timeoutMs).unref();
      });
    }
    return this.stats;
  }
}
