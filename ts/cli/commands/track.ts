/** `ct-edge track`: one target (or several, one inference per frame) through a video, a camera, a GStreamer pipeline or an image folder. */
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { isDirectory, isFile } from '../../deploy/datasets/common.js';
import { readOtbSequence } from '../../deploy/datasets/otb.js';
import { iou } from '../../deploy/eval/metrics.js';
import { toRgb } from '../../deploy/io/convert.js';
import { drawResult, drawTargets } from '../../deploy/io/draw.js';
import { openSource } from '../../deploy/io/open.js';
import { ResultWriter, type BoxRecord } from '../../deploy/io/results.js';
import { checkPixelFormat, type FrameSource } from '../../deploy/io/source.js';
import { VideoWriter, videoContainerOf } from '../../deploy/io/video-writer.js';
import { CtEdgeError } from '../../contract/errors.js';
import { trackStream, type SourceFrame, type StreamResult } from '../../deploy/stream.js';
import { DEFAULT_QUEUE_LIMIT, MqttLink, type MqttLinkStats } from '../../deploy/mqtt.js';
import { Tracker } from '../../deploy/tracker.js';
import { TrackerGroup, type GroupStreamResult } from '../../deploy/tracker-group.js';
import type { Box, Frame, StageTimings } from '../../contract/types.js';
import type { CliCommand } from '../command.js';
import { checkOutputFile } from '../outputs.js';
import { onStopSignal, signalExitCode, type StopSignal } from '../signals.js';
import { loadModels, MODEL_OPTION_FLAGS, MODEL_OPTIONS_USAGE, parseIntFlag, parseBoxFlag } from '../model-options.js';

const usage = `usage: ct-edge track <video|folder|/dev/videoN|gst:PIPELINE> --model m.onnx|m.engine [--box x,y,w,h ...] [options]

Tracks one target from the box it has in the first frame, or several (--box repeated), all of them in
one inference per frame when the model takes a batch (ct-edge export writes such models). Inputs:
  video.mp4              any file ffmpeg decodes
  folder/                images in name order; an OTB sequence folder (img/ + groundtruth_rect.txt)
                         needs no --box (the first ground-truth box) and reports the mean IoU
  /dev/video0            a V4L2 camera through ffmpeg (Ctrl-C or SIGTERM stops it; outputs are
                         finished first, and the command exits with 130 or 143)
  gst:PIPELINE           a GStreamer pipeline without its sink, ending in raw caps, e.g. on a Jetson
                         'gst:nvarguscamerasrc ! video/x-raw(memory:NVMM),width=1280,height=720,framerate=30/1,format=NV12 ! nvvidconv ! video/x-raw,format=NV12,width=1280,height=720'

Options:
  --model PATH           the tracker (.onnx on onnxruntime, .engine on TensorRT)
  --box x,y,w,h          the target in the first frame (the --from frame), in pixels; to find it,
                         \`ct-edge frame VIDEO --at N -o frame.png\` writes that frame with a pixel grid.
                         Repeat it for several targets (ids 1, 2, ... in order): every output then
                         carries each target's id, and the video draws each in its own colour
  --group                several targets even with one --box or none (with --publish, init
                         commands add targets; several --box imply it)
  --from N               start at frame N (0 = the first; frames before it are decoded and skipped)
  -o, --out PATH         annotated video (box, score, lost state): .mp4, .m4v, .mov, .mkv (H.264)
                         or .avi (MPEG-4 Part 2)
  --jsonl PATH           boxes as JSON lines: frame, timestampMs, x, y, w, h, score, state (and
                         target, the id, with several targets: one line per target and frame)
  --csv PATH             the same as CSV
  --realtime             track the newest frame, dropping those that come while busy (cameras);
                         files are then read at their own frame rate, as a camera would give them
  --frames N             stop after N frames
  --pixel-format F       frames ffmpeg decodes to: rgb (default) or nv12 (half the bytes)
  --width W --height H --fps F   camera mode to ask for (/dev/videoN)
  --input-format F       the camera's encoding, e.g. mjpeg (/dev/videoN)
  --threads N            onnxruntime threads (default: one per core)

Publishing (MQTT; docs/FLEET.md):
  --publish URL          mqtt://HOST[:PORT]/PREFIX or mqtts://...: one message per tracked frame on
                         PREFIX/DEVICE/track (the --jsonl line plus device and model), a retained
                         status on PREFIX/DEVICE/status, and commands taken on PREFIX/DEVICE/control
                         (init with a box, stop, reset), answered on PREFIX/DEVICE/reply. Without
                         --box the tracker waits for an init command. A slow or absent broker never
                         stalls tracking: up to ${DEFAULT_QUEUE_LIMIT} messages wait, the oldest dropped first.
                         With several targets (--group), one message per target and frame, each
                         with its "target" id; init without a "target" adds one, with one re-inits
                         it; stop and reset take a "target" (without: every target)
  --qos 0|1              delivery of results (default 0; status and replies use 1)
  --device-id ID         this device in topics and messages (default: the host name)
  --mqtt-ca FILE         the CA that signed the broker's certificate (mqtts)
  --mqtt-cert FILE --mqtt-key FILE   a client certificate and its key (mqtts)
  Credentials come from CT_EDGE_MQTT_USERNAME and CT_EDGE_MQTT_PASSWORD, never the command line.

The line of each init frame in --jsonl/--csv (the first, or an init command's) is the init box
with score 1; frames without a target (--publish, before init or after stop) get no line. In real-time mode the
annotated video repeats the last tracked frame in place of dropped ones, keeping the source's timing.

${MODEL_OPTIONS_USAGE}

Example (VitTrack on a video):
  ct-edge track bag.avi --model vitTracker.onnx --box 292,128,146,132 --out bag-tracked.mp4 \\
    --outputs score=output1,size=output2,offset=output3 --channel-order bgr --box-mapping opencv`;

/** An OTB sequence folder's ground truth, when the input is one. */
async function otbGroundTruth(input: string): Promise<(Box | null)[] | undefined> {
  if (!(await isDirectory(join(input, 'img'))) || !(await isFile(join(input, 'groundtruth_rect.txt')))) return undefined;
  return (await readOtbSequence(input)).groundTruth;
}

/** Progress for files (a bar with the total) and live sources (one line: frames, FPS, drops). */
class Progress {
  private readonly bar: cliProgress.SingleBar | undefined;
  private readonly times: number[] = [];
  private lastLine = 0;

  constructor(source: FrameSource, frameLimit: number | undefined) {
    const total = Math.min(source.info.frameCount ?? Infinity, frameLimit ?? Infinity);
    if (!source.info.live && Number.isFinite(total)) {
      this.bar = new cliProgress.SingleBar(
        { format: 'track [{bar}] {percentage}% | {value}/{total} frames | {fps} fps | ETA {eta_formatted}', hideCursor: true, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { fps: '-' });
    }
  }

  /** Tracking rate over the last second. */
  private fps(now: number): number {
    this.times.push(now);
    while (this.times.length > 1 && now - this.times[0] > 1000) this.times.shift();
    const span = now - this.times[0];
    return span > 0 ? ((this.times.length - 1) * 1000) / span : 0;
  }

  /** `status`: the target's score and state (or how many of a group's targets are lost). */
  update(index: number, dropped: number, status: string): void {
    const now = performance.now();
    const fps = this.fps(now).toFixed(1);
    if (this.bar) {
      this.bar.update(index + 1, { fps });
      return;
    }
    // On a terminal the line is redrawn in place; in a log, a line every 5 s.
    const tty = process.stderr.isTTY;
    if (now - this.lastLine < (tty ? 250 : 5000)) return;
    this.lastLine = now;
    const line = `frame ${index} | ${fps} fps | dropped ${dropped} | ${status}`;
    process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
  }

  stop(): void {
    this.bar?.stop();
    if (!this.bar && process.stderr.isTTY) process.stderr.write('\n');
  }
}

/** The frames of `source` from index `from` on (the ones before are decoded and skipped); a source that ends first is an error. */
async function* framesFrom(source: FrameSource, from: number, input: string): AsyncGenerator<SourceFrame> {
  let seen = 0;
  for await (const f of source) {
    seen += 1;
    if (f.index >= from) yield f;
  }
  if (seen <= from) throw new CtEdgeError('ERR_SOURCE', `--from ${from}: ${input} has ${seen} frames (0 to ${seen - 1}); start within them`);
}

/** One frame's results, of one target or a group's, as the outputs take them. */
interface FrameOutcome {
  index: number;
  frame: Frame;
  dropped: number;
  initial: boolean;
  timings: StageTimings | undefined;
  /** One per target; none on a frame without a target (idle). */
  records: BoxRecord[];
  /** Draws the results on an RGB copy of the frame. */
  draw(frame: Frame): void;
  /** For the progress line. */
  status: string;
}

/** A lone tracker's stream as frame outcomes; each result is published first, idle ones included (the status). */
async function* trackerOutcomes(results: AsyncGenerator<StreamResult>, link: MqttLink | undefined): AsyncGenerator<FrameOutcome> {
  for await (const r of results) {
    link?.publish(r);
    const records = r.state === 'idle' ? [] : [r];
    yield { ...r, records, draw: (frame) => drawResult(frame, r), status: `score ${r.score.toFixed(2)} ${r.state}` };
  }
}

/** A group's stream as frame outcomes: one record per target, with its id; each frame published first. */
async function* groupOutcomes(results: AsyncGenerator<GroupStreamResult>, link: MqttLink | undefined): AsyncGenerator<FrameOutcome> {
  for await (const r of results) {
    const records = r.targets.map((t) => ({ index: r.index, timestampMs: r.timestampMs, box: t.box, score: t.score, state: t.state, target: t.id }));
    link?.publishTargets(records);
    const lost = r.targets.filter((t) => t.state === 'lost').length;
    yield { ...r, records, draw: (frame) => drawTargets(frame, r.index, r.targets), status: `${r.targets.length} targets, ${lost} lost` };
  }
}

async function openLink(url: string, modelPath: string, backend: string, qos: 0 | 1, values: Record<string, unknown>): Promise<MqttLink> {
  const link = await MqttLink.open({
    url,
    model: basename(modelPath).replace(/\.(onnx|engine)$/i, ''),
    backend,
    qos,
    deviceId: values['device-id'] as string | undefined,
    caFile: values['mqtt-ca'] as string | undefined,
    certFile: values['mqtt-cert'] as string | undefined,
    keyFile: values['mqtt-key'] as string | undefined,
  });
  if (!link.connected) console.error(`ct-edge track: the broker at ${url} has not answered yet: tracking goes on, up to ${DEFAULT_QUEUE_LIMIT} messages wait for it (the oldest dropped first)`);
  return link;
}

/** What publishing did, for the summary: sent, dropped and why. */
function publishedLine(url: string, link: MqttLink, stats: MqttLinkStats): string {
  const { published, dropped, reconnects } = stats;
  const lostNote = dropped > 0 ? `; ${dropped} dropped (the outbox was full while the broker was away or slow, or still held messages when the run ended)` : '';
  const failure = link.error ? `; stopped publishing: ${link.error.message}` : '';
  return `published ${published} messages to ${url}${reconnects > 0 ? ` (${reconnects} reconnects)` : ''}${lostNote}${failure}`;
}

export const command: CliCommand = {
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        box: { type: 'string', multiple: true },
        group: { type: 'boolean', default: false },
        out: { type: 'string', short: 'o' },
        from: { type: 'string' },
        jsonl: { type: 'string' },
        csv: { type: 'string' },
        realtime: { type: 'boolean', default: false },
        frames: { type: 'string' },
        'pixel-format': { type: 'string', default: 'rgb' },
        width: { type: 'string' },
        height: { type: 'string' },
        fps: { type: 'string' },
        'input-format': { type: 'string' },
        threads: { type: 'string' },
        publish: { type: 'string' },
        qos: { type: 'string' },
        'device-id': { type: 'string' },
        'mqtt-ca': { type: 'string' },
        'mqtt-cert': { type: 'string' },
        'mqtt-key': { type: 'string' },
        ...MODEL_OPTION_FLAGS,
      },
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length !== 1) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'give one input: a video, an image folder, /dev/videoN or gst:PIPELINE');
    const input = positionals[0];
    if (!values.model) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'give the tracker with --model m.onnx (or m.engine)');
    checkOutputFile(values.out, '--out');
    if (values.out !== undefined) videoContainerOf(values.out);
    checkOutputFile(values.jsonl, '--jsonl');
    checkOutputFile(values.csv, '--csv');
    const frameLimit = values.frames === undefined ? undefined : parseIntFlag(values.frames, 'frames', 0);
    const threads = parseIntFlag(values.threads, 'threads', 0, 0) || undefined;
    const from = parseIntFlag(values.from, 'from', 0, 0);
    if (from > 0 && values.realtime) throw new CtEdgeError('ERR_INVALID_ARGUMENT', '--from skips frames of a file; --realtime follows a live source from now: use one of them');
    const groundTruth = await otbGroundTruth(input);
    const boxes = (values.box ?? []).map(parseBoxFlag);
    const grouped = values.group || boxes.length > 1;
    const initBox = grouped ? undefined : boxes.length === 1 ? boxes[0] : (groundTruth?.[from] ?? undefined);
    const mqttOnly = ['qos', 'device-id', 'mqtt-ca', 'mqtt-cert', 'mqtt-key'].find((flag) => values[flag as keyof typeof values] !== undefined);
    if (mqttOnly && values.publish === undefined) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--${mqttOnly} is an option of --publish mqtt://HOST/PREFIX: give --publish too`);
    const qos = values.qos === undefined ? 0 : parseIntFlag(values.qos, 'qos', 0, 0);
    if (qos !== 0 && qos !== 1) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--qos must be 0 or 1, got ${values.qos}`);
    // Publishing takes commands: without a box, the tracker waits for an init command.
    if (!initBox && boxes.length === 0 && values.publish === undefined) {
      if (grouped) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--group without --publish needs its targets: give --box x,y,w,h once per target`);
      const where = from > 0 ? `frame ${from}` : 'the first frame';
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `give --box x,y,w,h: where the target is in ${where} (\`ct-edge frame ${input} --at ${from} -o frame.png\` shows it with a pixel grid)`);
    }

    // First Ctrl-C or SIGTERM: stop the source and finish the outputs (the annotated video stays
    // playable), then exit with 130 or 143. A second one leaves at once (ts/cli/signals.ts).
    const stop = new AbortController();
    let stoppedBy: StopSignal | undefined;
    const removeStopHandler = onStopSignal((signal) => {
      stoppedBy = signal;
      stop.abort();
    });
    const closers: (() => Promise<void>)[] = [];
    let failed = false;
    try {
      const camera = {
        width: parseIntFlag(values.width, 'width', 0, 0) || undefined,
        height: parseIntFlag(values.height, 'height', 0, 0) || undefined,
        fps: parseIntFlag(values.fps, 'fps', 0, 0) || undefined,
        inputFormat: values['input-format'],
      };
      const source = await openSource(input, { pixelFormat: checkPixelFormat(values['pixel-format']), paced: values.realtime, signal: stop.signal, ...camera });
      closers.push(() => source.close());
      const [{ engine }] = await loadModels([values.model], values, threads);
      closers.push(() => engine.dispose());
      const group = grouped ? new TrackerGroup(engine) : undefined;
      const tracker = group ? undefined : new Tracker(engine);
      closers.push(async () => (group ?? tracker)!.dispose());
      const link = values.publish === undefined ? undefined : await openLink(values.publish, values.model, engine.backend, qos, values);
      if (link) closers.push(async () => void (await link.close()));

      const writers: ResultWriter[] = [];
      if (values.jsonl) writers.push(await ResultWriter.open(values.jsonl, 'jsonl', { targets: !!group }));
      if (values.csv) writers.push(await ResultWriter.open(values.csv, 'csv', { targets: !!group }));
      const video = values.out ? await VideoWriter.open(values.out, { width: source.info.width, height: source.info.height, fps: source.info.fps ?? 30 }) : undefined;
      // Outputs close first (closers run last-in first-out), so what was tracked is kept on any exit.
      for (const w of writers) closers.push(() => w.close());
      if (video) closers.push(() => video.close());

      console.error(
        `ct-edge track: ${source.info.kind} ${source.info.width}x${source.info.height}${source.info.fps ? ` at ${source.info.fps.toFixed(2)} fps` : ''}, ` +
          `${engine.backend}, ${values.realtime ? 'real-time (newest frame)' : 'every frame'}` +
          (group
            ? `, ${boxes.length > 0 ? `${boxes.length} targets` : 'targets from init commands'} in ${group.batched ? 'one inference per frame' : `one inference each (${engine.backend === 'onnxruntime-cpu' ? 'the model has batch 1 baked in' : 'one target per TensorRT enqueue'})`}`
            : ''),
      );
      if (link && !initBox && boxes.length === 0) console.error(`ct-edge track: waiting for an init command on ${link.topics.control}`);
      const progress = new Progress(source, frameLimit);
      let frames = 0;
      let idle = 0;
      let inits = 0;
      /** Frames each target was reported lost in (one target: id 0). */
      const lostIn = new Map<number, number>();
      let dropped = 0;
      let iouSum = 0;
      let iouCount = 0;
      let trackMs = 0; // time in track() calls, apart from decoding, drawing and encoding
      let last: { index: number; frame: Frame } | undefined;
      const started = performance.now();
      let interrupted = false;
      try {
        const frameSource = from > 0 ? framesFrom(source, from, input) : source;
        const outcomes = group
          ? groupOutcomes(group.stream(frameSource, { initBoxes: boxes, realtime: values.realtime, signal: stop.signal, control: link }), link)
          : trackerOutcomes(trackStream(tracker!, frameSource, { initBox, realtime: values.realtime, signal: stop.signal, control: link }), link);
        for await (const r of outcomes) {
          progress.update(r.index, r.dropped, r.status);
          dropped = r.dropped;
          if (video) {
            const frame = toRgb(r.frame);
            r.draw(frame);
            // Real-time mode skipped frames: hold the last picture over them to keep the timing.
            if (last) for (let i = last.index + 1; i < r.index; i++) await video.write(last.frame);
            await video.write(frame);
            last = { index: r.index, frame };
          }
          if (r.records.length === 0) {
            idle += 1;
          } else {
            frames += 1;
            if (r.initial) inits += 1;
            for (const record of r.records) lostIn.set(record.target ?? 0, (lostIn.get(record.target ?? 0) ?? 0) + (record.state === 'lost' ? 1 : 0));
            if (r.timings) trackMs += r.timings.totalMs;
            const gt = group ? undefined : groundTruth?.[r.index];
            if (gt && !r.initial) {
              iouSum += iou(r.records[0].box, gt);
              iouCount += 1;
            }
            for (const w of writers) for (const record of r.records) await w.write(record);
          }
          if (frameLimit !== undefined && frames + idle >= frameLimit) break;
        }
      } catch (error) {
        if (!stop.signal.aborted) throw error;
        interrupted = true;
      } finally {
        progress.stop();
      }

      const seconds = (performance.now() - started) / 1000;
      const tracked = frames - inits; // an init frame is not tracked
      const lostLine = group
        ? `targets reported lost: ${[...lostIn.keys()].sort((a, b) => a - b).map((id) => `${id} in ${lostIn.get(id)}`).join(', ') || 'none tracked'} (of ${tracked} frames)`
        : `target reported lost in ${lostIn.get(0) ?? 0} of ${tracked} frames`;
      const lines = [
        `${interrupted ? `stopped by ${stoppedBy === 'SIGTERM' ? 'SIGTERM' : 'Ctrl-C'} after` : 'tracked'} ${frames} frames in ${seconds.toFixed(1)} s (${((frames + idle) / seconds).toFixed(1)} fps overall; ` +
          `tracker ${tracked > 0 ? (trackMs / tracked).toFixed(1) : '-'} ms a frame, ${tracked > 0 && trackMs > 0 ? ((1000 * tracked) / trackMs).toFixed(1) : '-'} fps without decoding${video ? ' and encoding' : ''}), ` +
          `${lostLine}${values.realtime ? `, ${dropped} frames dropped` : ''}`,
      ];
      if (idle > 0) lines.push(`${idle} frames without a target (waiting for an init command, or after a stop)`);
      // Closed here, not with the other closers: the summary counts what the flush sent.
      if (link) lines.push(publishedLine(values.publish!, link, await link.close()));
      if (iouCount > 0) lines.push(`mean IoU ${(iouSum / iouCount).toFixed(3)} over ${iouCount} frames with ground truth (init frame excluded)`);
      const written = [values.out, values.jsonl, values.csv].filter(Boolean);
      if (written.length) lines.push(`wrote ${written.join(', ')}`);
      console.log(lines.join('\n'));
      return stoppedBy ? signalExitCode(stoppedBy) : 0;
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      removeStopHandler();
      // Every closer runs; the first failure is reported unless the run itself failed.
      const errors: unknown[] = [];
      for (const close of closers.reverse()) await close().catch((error: unknown) => errors.push(error));
      if (errors.length > 0 && !failed) throw errors[0];
    }
  },
};
