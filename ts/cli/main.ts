#!/usr/bin/env node
/** `ct-edge <command> [options]`: dispatches to the commands in ./commands. */
import { readFileSync } from 'node:fs';
import { CtEdgeError } from '../contract/errors.js';
import { TRAINING_PACKAGES } from './training-packages.js';
import type { CliCommand } from './command.js';
import { describeError, joinNegativeValues } from './report.js';
import { installSignalHandlers } from './signals.js';

/**
 * Every command, loaded only when it runs: the deploy commands never load TensorFlow.js, so they
 * work on an install without it (`ct-edge/train`'s optional peer dependencies).
 */
const commands: { name: string; summary: string; training?: true; load: () => Promise<{ command: CliCommand }> }[] = [
  { name: 'demo', summary: 'VitTrack beside the students compressed from it, on held-out footage (onnxruntime)', load: () => import('./commands/demo.js') },
  { name: 'frame', summary: 'one frame of a video with a pixel grid, to read a --box off it', load: () => import('./commands/frame.js') },
  { name: 'track', summary: 'track a target through a video, camera, GStreamer pipeline or image folder', load: () => import('./commands/track.js') },
  { name: 'train', summary: 'train a tracker (teacher) on generated clips', training: true, load: () => import('./commands/train.js') },
  { name: 'compress', summary: 'compress a teacher into an N-block student (CompressTracker)', training: true, load: () => import('./commands/compress.js') },
  { name: 'calibrate', summary: "remove a trained tracker's box-size bias (run after train or compress)", training: true, load: () => import('./commands/calibrate.js') },
  { name: 'import', summary: 'turn a pretrained OSTrack-family tracker (ONNX, e.g. VitTrack) into a checkpoint that trains and compresses', training: true, load: () => import('./commands/import.js') },
  { name: 'generate', summary: 'procedural tracking clips in GOT-10k layout (and a contact sheet)', load: () => import('./commands/generate.js') },
  { name: 'export', summary: 'export a checkpoint (.safetensors) to ONNX', training: true, load: () => import('./commands/export.js') },
  { name: 'inspect', summary: "show an ONNX model's inputs, outputs, opset, metadata and ops", load: () => import('./commands/inspect.js') },
  { name: 'compare', summary: 'models side by side on your own videos: agreement with the first (e.g. the teacher), lost share, speed-up', load: () => import('./commands/compare.js') },
  { name: 'eval', summary: 'success AUC, precision and FPS of models on a dataset (tables, JSON, plots)', load: () => import('./commands/eval.js') },
  { name: 'bench', summary: 'latency percentiles, FPS, stage split and memory of one or more models', load: () => import('./commands/bench.js') },
  { name: 'build-engine', summary: 'build a TensorRT engine from an ONNX model (FP16 on GPUs that have it), optionally verify it', load: () => import('./commands/build-engine.js') },
  { name: 'doctor', summary: 'show what this build and machine have: CUDA, TensorRT, GPU, onnxruntime, training, ffmpeg', load: () => import('./commands/doctor.js') },
  { name: 'build-native', summary: 'build the GPU addon (CUDA and TensorRT, found by probing) inside the installed package', load: () => import('./commands/build-native.js') },
];

/** A training command's module, or a typed error naming the packages when TensorFlow.js is not installed. */
async function load(entry: (typeof commands)[number]): Promise<CliCommand> {
  try {
    return (await entry.load()).command;
  } catch (error) {
    const e = error as { code?: string; message?: string };
    if (entry.training && e?.code === 'ERR_MODULE_NOT_FOUND' && /@tensorflow\//.test(e.message ?? '')) {
      throw new CtEdgeError('ERR_BACKEND_UNAVAILABLE', `ct-edge ${entry.name} trains with TensorFlow.js, which is not installed (a deploy-only install): npm install ${TRAINING_PACKAGES.join(' ')}`, { cause: error });
    }
    throw error;
  }
}

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: ct-edge <command> [options]',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `ct-edge <command> --help` for a command\'s options.',
  ].join('\n');
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    console.log(version());
    return 0;
  }
  const entry = commands.find((c) => c.name === name);
  if (!entry) {
    const near = commands.find((c) => c.name.startsWith(name) || name.startsWith(c.name));
    console.error(`ct-edge: unknown command '${name}'${near ? `; did you mean '${near.name}'?` : ''} (\`ct-edge --help\` lists the commands)`);
    return 2;
  }
  const command = await load(entry);
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  return command.run(joinNegativeValues(rest));
}

// `ct-edge eval ... | head`: a reader that stops early is no error. Drop the rest of stdout and let
// the command finish, so that the files it writes are still written.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
});

/** The last word on any error: one line that says what to do, never a stack trace (CT_EDGE_DEBUG=1 shows it). */
function fail(error: unknown): void {
  const { line, code } = describeError(error);
  console.error(line);
  if (process.env.CT_EDGE_DEBUG) console.error(error);
  process.exitCode = code;
}
process.on('uncaughtException', (error) => {
  fail(error);
  process.exit();
});
process.on('unhandledRejection', (error) => {
  fail(error);
  process.exit();
});

installSignalHandlers();
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  fail,
);
