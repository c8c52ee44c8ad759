/**
 * A live camera tracker on a Jetson: a CSI camera (Argus) or a USB camera through GStreamer, a
 * TensorRT engine, the newest frame always (real-time mode), the overlay saved to a video file or
 * shown on the screen.
 *
 * The pipelines it runs (1280x720 at 30 fps; NV12 straight from the ISP, no colour conversion on
 * the CPU: the tracker's crop reads NV12 itself):
 *   CSI: nvarguscamerasrc sensor-id=0 ! video/x-raw(memory:NVMM),width=1280,height=720,framerate=30/1,format=NV12
 *          ! nvvidconv flip-method=0 ! video/x-raw,format=NV12,width=1280,height=720 ! fdsink fd=3
 *   USB: v4l2src device=/dev/video0 ! video/x-raw,width=1280,height=720,framerate=30/1
 *          ! videoconvert ! video/x-raw,format=NV12,width=1280,height=720 ! fdsink fd=3
 * Check the camera alone first: `gst-launch-1.0 nvarguscamerasrc sensor-id=0 ! nvvidconv ! nv3dsink`
 * (CSI) or `v4l2-ctl --list-formats-ext -d /dev/video0` (USB: the modes it offers; use --mjpeg when
 * 1280x720@30 is listed only as MJPG).
 *
 * On the Jetson (JetPack 5 or 6: CUDA, TensorRT and GStreamer with the nv* plugins are installed):
 *   1. Node 20: `curl -fsSL https://deb.nodesource.com/setup_20.x | sudo -E bash - && sudo apt-get install -y nodejs ffmpeg`
 *   2. ct-edge with its TensorRT backend (CUDA and TensorRT are found where JetPack puts them;
 *      docs/JETSON.md has the details): `npm install ct-edge`, then `npx ct-edge build-native`
 *   3. The engine, built on this Jetson (engines do not move between GPUs or TensorRT versions):
 *      `npx ct-edge build-engine student.onnx --fp16 -o student.engine`
 *   4. Hold the target in the middle of the view and start:
 *      `npx tsx examples/camera-jetson.ts --engine student.engine --out tracked.mp4`      (CSI camera 0, to a file)
 *      `npx tsx examples/camera-jetson.ts --engine student.engine --usb /dev/video0 --display`  (USB, on screen)
 *      `--box x,y,w,h` starts from a given box instead of the centre; Ctrl-C stops and finishes the video.
 *   Max the clocks for stable timings: `sudo nvpmodel -m 0 && sudo jetson_clocks`.
 *
 * Everything comes from the package's entry (here its source, ../ts/index.js): in an app,
 * import from 'ct-edge'.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { bytesOf, csiCameraPipeline, drawLabel, drawResult, Engine, openGStreamer, toRgb, Tracker, trackStream, usbCameraPipeline, VideoWriter, type Box, type Frame, type SourceFrame } from '../ts/index.js';

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'student.engine' },
    sensor: { type: 'string', default: '0' },
    usb: { type: 'string' },
    mjpeg: { type: 'boolean', default: false },
    width: { type: 'string', default: '1280' },
    height: { type: 'string', default: '720' },
    fps: { type: 'string', default: '30' },
    box: { type: 'string' },
    out: { type: 'string' },
    display: { type: 'boolean', default: false },
  },
});
const mode = { width: Number(values.width), height: Number(values.height), fps: Number(values.fps) };
const pipeline = values.usb ? usbCameraPipeline({ ...mode, device: values.usb, mjpeg: values.mjpeg }) : csiCameraPipeline({ ...mode, sensorId: Number(values.sensor) });

/** The given box, or a square in the middle of the first frame, a quarter of its height. */
function startBox(first: SourceFrame): Box {
  if (values.box) {
    const [x, y, width, height] = values.box.split(',').map(Number);
    return { x, y, width, height };
  }
  const side = Math.round(first.frame.height / 4);
  return { x: Math.round((first.frame.width - side) / 2), y: Math.round((first.frame.height - side) / 2), width: side, height: side };
}

/**
 * Shows RGB frames in a window: raw frames into gst-launch's stdin. Its own process group, so that
 * Ctrl-C reaches only this script, which closes the window last.
 */
function openDisplay(width: number, height: number, fps: number) {
  const args = ['-q', 'fdsrc', 'fd=0', '!', 'rawvideoparse', `width=${width}`, `height=${height}`, 'format=rgb', `framerate=${fps}/1`, '!', 'videoconvert', '!', 'autovideosink', 'sync=false'];
  const child = spawn('gst-launch-1.0', args, { stdio: ['pipe', 'ignore', 'inherit'], detached: true });
  child.stdin.on('error', (error) => console.error(`display: ${error.message}`));
  return {
    async write(frame: Frame) {
      if (!child.stdin.write(bytesOf(frame))) await once(child.stdin, 'drain');
    },
    async close() {
      child.stdin.end();
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    },
  };
}

const stop = new AbortController();
// First Ctrl-C: stop the camera and finish the outputs; a second one leaves at once.
process.on('SIGINT', () => (stop.signal.aborted ? process.exit(130) : stop.abort()));

// Engine.load picks TensorRT for .engine files (and onnxruntime for .onnx, to try this without a GPU).
const engine = await Engine.load(values.engine);
// The pipeline starts when the stream reads it; its caps give the frame size, so the tracker is made
// first, with its staging memory reserved for those frames (TensorRT; ignored on onnxruntime).
const camera = await openGStreamer(pipeline, { signal: stop.signal });
const tracker = new Tracker(engine, { frameSize: { width: camera.info.width, height: camera.info.height, format: camera.info.format } });
const { width, height } = camera.info;
const fps = camera.info.fps ?? 30;
const sinks: { write(frame: Frame): Promise<void>; close(): Promise<void> }[] = [];
if (values.out) sinks.push(await VideoWriter.open(values.out, { width, height, fps }));
if (values.display) sinks.push(openDisplay(width, height, fps));
console.log(`camera ${width}x${height} (${camera.info.format}), ${engine.backend}; Ctrl-C stops`);

let frames = 0;
let windowStart = performance.now();
let rate = 0;
try {
  for await (const r of trackStream(tracker, camera, { init: startBox, realtime: true, signal: stop.signal })) {
    frames += 1;
    const now = performance.now();
    if (now - windowStart >= 1000) {
      rate = (frames * 1000) / (now - windowStart);
      frames = 0;
      windowStart = now;
      console.log(`${rate.toFixed(1)} fps, track ${r.timings?.totalMs.toFixed(1) ?? '-'} ms, dropped ${r.dropped}, score ${r.score.toFixed(2)} ${r.state}`);
    }
    if (sinks.length === 0) continue;
    const frame = toRgb(r.frame);
    drawResult(frame, r);
    drawLabel(frame, `${rate.toFixed(1)} FPS`, 4, height - 30, [255, 255, 255], 2);
    for (const sink of sinks) await sink.write(frame);
  }
} catch (error) {
  if (!stop.signal.aborted) throw error;
} finally {
  for (const sink of sinks) await sink.close();
  await camera.close();
  tracker.dispose();
  await engine.dispose();
}
