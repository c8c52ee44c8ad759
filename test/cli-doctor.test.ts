/**
 * `ct-edge doctor` on this machine's build, on a fake cmake-js build with CUDA and TensorRT, and on
 * a deploy-only install (no TensorFlow.js): which ffmpeg and ffprobe run and where they came from.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { command, diagnose, formatReport, type DoctorReport } from '../ts/cli/commands/doctor.js';
import { TRAINING_PACKAGES } from '../ts/cli/training-packages.js';
import { resolveFfmpegTool } from '../ts/deploy/io/ffmpeg.js';
import { loadNative, overrideNative, type NativeAddon } from '../ts/deploy/native.js';
import { runCommand } from './helpers/cli.js';
import { repoRoot } from './helpers/data.js';

const doctor = (argv: string[]) => runCommand(command, argv);

test.afterEach.always(() => overrideNative(undefined));

const realAddon = loadNative();
const realHasTensorRt = realAddon.tensorrt !== undefined;

test.serial('doctor prints every section and exits 0', async (t) => {
  const { code, stdout } = await doctor([]);
  t.is(code, 0);
  for (const section of ['Node', 'Addon', 'CUDA', 'TensorRT', 'GPU', 'onnxruntime', 'training', 'ffmpeg', 'ffprobe', 'gst-launch-1.0']) {
    t.regex(stdout, new RegExp(`^  ${section.replace('.', '\\.')} +\\S`, 'm'), section);
  }
  t.regex(stdout, /onnxruntime-node \d+\.\d+\.\d+; execution providers: cpu/);
  t.regex(stdout, /^ {2}training +TensorFlow\.js backend (tfjs-node-gpu|tfjs-node|wasm|cpu)\b/m);
  // The system's ffmpeg where there is one (CI installs Debian's), else the npm package's.
  for (const tool of ['ffmpeg', 'ffprobe'] as const) {
    const { path, source } = resolveFfmpegTool(tool)!;
    t.regex(stdout, new RegExp(`^ {2}${tool} +${tool} version \\S+ \\(${source}: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)$`, 'm'));
  }
  // Each build gets its own assertion (this machine's has no TensorRT; a Jetson's does).
  if (realHasTensorRt) t.regex(stdout, /^ {2}TensorRT +\d+\.\d+\.\d+ \(compiled against \d+\.\d+\.\d+\)$/m, 'the TensorRT version in use and the one compiled against');
  else t.regex(stdout, /TensorRT: .*`npx ct-edge build-native`/, 'names the command that builds the GPU addon');
});

test.serial('doctor --json parses and reports this build', async (t) => {
  const { code, stdout } = await doctor(['--json']);
  t.is(code, 0);
  const report = JSON.parse(stdout) as DoctorReport;
  t.true(report.addon.loaded);
  t.is(report.tensorrt.compiledIn, realHasTensorRt);
  // Each build gets its own assertion: node-gyp (CPU only, explained) or cmake-js (what it found).
  if (!realAddon.build) {
    t.is(report.addon.buildSystem, 'node-gyp');
    t.regex(report.tensorrt.whyNot ?? '', /node-gyp/);
    t.false(report.cuda.compiledIn);
  } else {
    t.is(report.addon.buildSystem, 'cmake-js');
    t.is(report.cuda.compiledIn, realAddon.features.cuda);
    t.is(report.tensorrt.compiledIn, realAddon.features.tensorrt);
    if (!report.tensorrt.compiledIn) t.truthy(report.tensorrt.whyNot, 'a build without TensorRT says why');
  }
  t.regex(report.onnxruntime.version ?? '', /^\d+\.\d+\.\d+$/);
  t.true(report.onnxruntime.executionProviders!.some((p) => p.name === 'cpu'));
  t.like(report.training, { installed: true });
  t.truthy(report.training.backend);
  t.is(report.node.version, process.version);
  t.like(report.tools.ffmpeg, { found: true, ...resolveFfmpegTool('ffmpeg') });
  t.like(report.tools.ffprobe, { found: true, ...resolveFfmpegTool('ffprobe') });
  t.regex(report.tools.ffprobe.version ?? '', /^ffprobe version \S+$/);
});

test.serial('doctor reports what a cmake-js build with CUDA and TensorRT found', async (t) => {
  const fake: NativeAddon = {
    ...realAddon,
    features: { cuda: true, tensorrt: true, cudaDevice: true },
    build: {
      system: 'cmake-js',
      cuda: { found: true, version: '12.6.68', architectures: '87', whyNot: '' },
      tensorrt: { found: true, version: '10.3.0', whyNot: '' },
    },
    cuda: {
      probe: () => ({
        available: true, device: 0, name: 'Orin', computeCapability: '8.7', totalMemory: 7.5 * 2 ** 30, integrated: true,
        runtimeVersion: 12060, driverVersion: 12060,
      }),
      cropToTensor: realAddon.cropToTensor,
    },
    tensorrt: { version: '10.3.0', compiledVersion: '10.3.0' } as NativeAddon['tensorrt'],
  };
  overrideNative(fake);
  const { stdout } = await doctor([]);
  t.regex(stdout, /Addon +loaded, built by cmake-js/);
  t.regex(stdout, /CUDA +CUDA 12\.6\.68 for sm 87; runtime 12\.6, driver 12\.6, device 0/);
  t.regex(stdout, /TensorRT +10\.3\.0 \(compiled against 10\.3\.0\)/);
  t.regex(stdout, /GPU +Orin, compute capability 8\.7, 7680 MiB, integrated \(Jetson\)/);
  t.notRegex(stdout, /build-native/, 'no install advice when TensorRT is there');
  const report = JSON.parse((await doctor(['--json'])).stdout) as DoctorReport;
  t.like(report, { tensorrt: { compiledIn: true, version: '10.3.0' }, gpu: { name: 'Orin', computeCapability: '8.7' }, cuda: { compiledIn: true, architectures: '87' } });
});

test.serial('doctor says when a cmake-js build found CUDA but no TensorRT, and why', async (t) => {
  overrideNative({
    ...realAddon,
    features: { cuda: true, tensorrt: false, cudaDevice: false },
    build: {
      system: 'cmake-js',
      cuda: { found: true, version: '13.0.48', architectures: '75;80;86;87;89;90', whyNot: '' },
      tensorrt: { found: false, version: '', whyNot: 'not found: CT_EDGE_TRT_INCLUDE_DIR (NvInfer.h ...)' },
    },
    cuda: { probe: () => ({ available: false, reason: 'no CUDA driver', device: 0, name: '', computeCapability: '0.0', totalMemory: 0, integrated: false, runtimeVersion: 13000, driverVersion: 0 }), cropToTensor: realAddon.cropToTensor },
  });
  const { stdout } = await doctor([]);
  t.regex(stdout, /CUDA +CUDA 13\.0\.48 for sm 75;80;86;87;89;90; no usable device: no CUDA driver/);
  t.regex(stdout, /TensorRT +not in this build \(not found: CT_EDGE_TRT_INCLUDE_DIR/);
  t.regex(stdout, /GPU +none usable/);
  t.regex(stdout, /TensorRT: .*the GPU build did not find it: not found: CT_EDGE_TRT_INCLUDE_DIR/);
});

test.serial('doctor shows FFMPEG_PATH, and how to install a tool it cannot run', async (t) => {
  const saved = process.env.FFMPEG_PATH;
  process.env.FFMPEG_PATH = '/nonexistent/ffmpeg';
  let running: Promise<DoctorReport>;
  try {
    running = diagnose(); // reads the environment before its first await
  } finally {
    if (saved === undefined) delete process.env.FFMPEG_PATH;
    else process.env.FFMPEG_PATH = saved;
  }
  const report = await running;
  t.deepEqual(report.tools.ffmpeg, { found: false, path: '/nonexistent/ffmpeg', source: 'env' });
  const line = formatReport(report).split('\n').find((l) => l.startsWith('  ffmpeg ')) ?? '';
  t.regex(line, /^ {2}ffmpeg +not found at \/nonexistent\/ffmpeg \(env\): video files and V4L2 cameras need it; /);
  t.regex(line, /`npm install @ffmpeg-installer\/ffmpeg @ffprobe-installer\/ffprobe`/);
  t.regex(line, /`sudo apt-get install ffmpeg`/);
});

test.serial('doctor says training is not installed when TensorFlow.js cannot be imported', async (t) => {
  const missing = Object.assign(new Error("Cannot find package '@tensorflow/tfjs-core' imported from backend.ts"), { code: 'ERR_MODULE_NOT_FOUND' });
  const report = await diagnose({ loadTraining: () => Promise.reject(missing) });
  t.deepEqual(report.training, { installed: false, skipped: [] });
  t.regex(formatReport(report), new RegExp(`^ {2}training +not installed \\(npm install ${TRAINING_PACKAGES.join(' ')}\\)$`, 'm'));
  t.is(TRAINING_PACKAGES.join(' '), '@tensorflow/tfjs @tensorflow/tfjs-core @tensorflow/tfjs-backend-cpu @tensorflow/tfjs-backend-wasm');
  const broken = await diagnose({ loadTraining: () => Promise.reject(new Error('boom')) });
  t.regex(formatReport(broken), /^ {2}training +cannot load: boom$/m);
});

test.serial('doctor runs on a deploy-only install: nothing it imports needs TensorFlow.js', async (t) => {
  // A resolve hook that finds no @tensorflow/* package, as on an install without the optional peers.
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-doctor-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    join(dir, 'no-tfjs.mjs'),
    `export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@tensorflow/')) throw Object.assign(new Error(\`Cannot find package '\${specifier}'\`), { code: 'ERR_MODULE_NOT_FOUND' });
  return next(specifier, context);
}
`,
  );
  await writeFile(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(new URL('./no-tfjs.mjs', import.meta.url));\n`);
  const doctorModule = join(repoRoot, 'ts', 'cli', 'commands', 'doctor.ts');
  await writeFile(join(dir, 'run.mjs'), `const { command } = await import(${JSON.stringify(doctorModule)});\nprocess.exitCode = await command.run([]);\n`);
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--import', join(dir, 'register.mjs'), join(dir, 'run.mjs')], { cwd: repoRoot });
  t.regex(stdout, new RegExp(`^ {2}training +not installed \\(npm install ${TRAINING_PACKAGES.join(' ')}\\)$`, 'm'));
  t.regex(stdout, /^ {2}onnxruntime +onnxruntime-node /m);
});
