/** `ct-edge doctor`: what this build of ct-edge and this machine have, for bug reports and setup. */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { installHint } from '../../deploy/io/child.js';
import { findOnPath, resolveFfmpegTool, type FfmpegToolSource } from '../../deploy/io/ffmpeg.js';
import { loadNative, type CudaDeviceInfo, type NativeAddon } from '../../deploy/native.js';
import { BUILD_NATIVE_COMMAND, tensorRtGuidance } from '../../deploy/tensorrt.js';
import type { CliCommand } from '../command.js';
import { TRAINING_PACKAGES } from '../training-packages.js';

/** The training side's backend chooser; it loads TensorFlow.js, an optional peer dependency. */
type TrainingBackend = typeof import('../../train/model/backend.js');

const usage = `usage: ct-edge doctor [--json]

Prints what this build and machine have: the native addon and how it was built, CUDA, TensorRT (and
whether the loaded library is the one the addon was compiled against), the GPU, on a Jetson its
power mode (nvpmodel) and whether jetson_clocks pinned the clocks, onnxruntime and its execution
providers, the TensorFlow.js backend training would use (or that TensorFlow.js is not installed),
ffmpeg and ffprobe (which ones, and whether from the system, FFMPEG_PATH/FFPROBE_PATH or the npm
packages), GStreamer, and Node. Warnings follow the table.

  --json   print the same as one JSON object`;

export interface ToolInfo {
  found: boolean;
  /** First line of the tool's version output. */
  version?: string;
  /** What runs, and where it came from (the environment variable, PATH or the npm package). */
  path?: string;
  source?: FfmpegToolSource;
}

export interface DoctorReport {
  node: { version: string; platform: string; arch: string };
  addon: { loaded: boolean; buildSystem?: 'node-gyp' | 'cmake-js'; error?: string };
  cuda: { compiledIn: boolean; version?: string; architectures?: string; whyNot?: string; device?: CudaDeviceInfo };
  tensorrt: { compiledIn: boolean; version?: string; compiledVersion?: string; whyNot?: string };
  /** From CUDA when the build has it; `jetson` (L4T release) and `nvidiaDriver` from the system files. */
  gpu: { name?: string; computeCapability?: string; memoryMiB?: number; integrated?: boolean; jetson?: string; nvidiaDriver?: string };
  /** Jetson only (L4T found): the nvpmodel power mode and whether jetson_clocks pinned the clocks. */
  power?: JetsonPower;
  onnxruntime: { version?: string; executionProviders?: { name: string; bundled: boolean }[]; error?: string };
  /** TensorFlow.js for train/compress/export: the backend it would use, or not installed (a deploy-only install). */
  training: { installed: boolean; backend?: string; skipped: string[]; error?: string };
  tools: Record<'ffmpeg' | 'ffprobe' | 'gst-launch-1.0', ToolInfo>;
  /** What needs attention: a TensorRT library other than the one compiled against, engines and power modes. */
  warnings: string[];
}

export interface JetsonPower {
  /** `nvpmodel -q`: the mode's name and number ("MAXN", 0), or why it could not be read. */
  mode?: { name: string; id?: number };
  modeError?: string;
  /**
   * jetson_clocks pins every CPU's and the GPU's minimum frequency to its maximum: 'on' when the
   * sysfs frequencies say so, 'off' when some clock still scales, 'unknown' when they cannot be read.
   */
  clocks: 'on' | 'off' | 'unknown';
  clocksDetail?: string;
}

async function readNumber(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  const v = text === undefined ? NaN : Number(text.trim());
  return Number.isFinite(v) ? v : undefined;
}

/**
 * The Jetson's power mode (`nvpmodel -q`) and whether jetson_clocks is on, read without root from
 * sysfs under `root`: each CPU's cpufreq scaling_min_freq against scaling_max_freq and the GPU's
 * devfreq min_freq against max_freq (gv11b on Xavier, ga10b on Orin).
 */
export async function probeJetsonPower(root = '/', nvpmodel = 'nvpmodel'): Promise<JetsonPower> {
  const power: JetsonPower = { clocks: 'unknown' };
  try {
    const { stdout } = await run(nvpmodel, ['-q'], { timeout: 5000 });
    const name = /NV Power Mode:\s*(.+)/.exec(stdout)?.[1]?.trim();
    const id = stdout.split('\n').map((l) => l.trim()).find((l) => /^\d+$/.test(l));
    if (name) power.mode = { name, ...(id !== undefined ? { id: Number(id) } : {}) };
    else power.modeError = `nvpmodel -q printed no power mode: ${stdout.trim().slice(0, 80)}`;
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    power.modeError = e.code === 'ENOENT' ? 'nvpmodel not found' : `nvpmodel -q failed: ${(e.stderr || e.message).trim().split('\n')[0]}`;
  }
  const cpuDir = join(root, 'sys/devices/system/cpu');
  const cpus = (await readdir(cpuDir).catch(() => [] as string[])).filter((d) => /^cpu\d+$/.test(d));
  const scaling: string[] = [];
  let read = 0;
  for (const cpu of cpus) {
    const [min, max] = await Promise.all(['scaling_min_freq', 'scaling_max_freq'].map((f) => readNumber(join(cpuDir, cpu, 'cpufreq', f))));
    if (min === undefined || max === undefined) continue; // offline cores have no cpufreq
    read += 1;
    if (min < max) scaling.push(cpu);
  }
  const devfreq = join(root, 'sys/class/devfreq');
  const gpus = (await readdir(devfreq).catch(() => [] as string[])).filter((d) => /gpu|gv11b|ga10b|gp10b/.test(d));
  for (const gpu of gpus) {
    const [min, max] = await Promise.all(['min_freq', 'max_freq'].map((f) => readNumber(join(devfreq, gpu, f))));
    if (min === undefined || max === undefined) continue;
    read += 1;
    if (min < max) scaling.push(`GPU ${gpu}`);
  }
  if (read > 0) {
    power.clocks = scaling.length ? 'off' : 'on';
    if (scaling.length) power.clocksDetail = `scaling: ${scaling.join(', ')}`;
  }
  return power;
}

const run = promisify(execFile);

async function tool(versionFlag: string, at?: { path: string; source: FfmpegToolSource }): Promise<ToolInfo> {
  if (!at) return { found: false };
  try {
    const { stdout } = await run(at.path, [versionFlag], { timeout: 5000 });
    // "ffmpeg version 6.1.1 Copyright (c) ..." or "ffmpeg version N-47683-g0e8eb07980-static https://...": keep the name and version.
    const version = stdout.split('\n').find((l) => l.trim())?.replace(/\s+(https?:\S+\s*)?Copyright.*$/, '').trim();
    return { found: true, version, ...at };
  } catch (error) {
    return { found: (error as NodeJS.ErrnoException).code !== 'ENOENT', ...at };
  }
}

function isMissingTensorFlow(error: unknown): boolean {
  const e = error as NodeJS.ErrnoException | undefined;
  return e?.code === 'ERR_MODULE_NOT_FOUND' && /@tensorflow\//.test(e.message);
}

/** The backend training would use; `installed: false` when TensorFlow.js is not there to import. */
async function training(load: () => Promise<TrainingBackend>): Promise<DoctorReport['training']> {
  let backend: TrainingBackend;
  try {
    backend = await load();
  } catch (error) {
    if (isMissingTensorFlow(error)) return { installed: false, skipped: [] };
    return { installed: false, skipped: [], error: (error as Error).message };
  }
  return backend.initBackend().then(
    (name) => ({ installed: true, backend: name, skipped: backend.backendInfo()?.skipped ?? [] }),
    (error: Error) => ({ installed: true, skipped: [], error: error.message }),
  );
}

export interface DiagnoseOptions {
  /** Loads the training side (default: imports it); tests stand in a loader that fails as on a deploy-only install. */
  loadTraining?: () => Promise<TrainingBackend>;
  /** Reads the Jetson's power state (default: probeJetsonPower()); tests stand in their own. */
  jetsonPower?: () => Promise<JetsonPower>;
  /** The L4T release file that marks a Jetson (default /etc/nv_tegra_release). */
  tegraRelease?: string;
}

async function firstLine(path: string): Promise<string | undefined> {
  return (await readFile(path, 'utf8').catch(() => ''))
    .split('\n')
    .find((l) => l.trim())
    ?.trim();
}

/** CUDA's version encoding (12060) as text (12.6). */
function cudaVersion(v: number): string {
  return v > 0 ? `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}` : 'unknown';
}

export async function diagnose(options: DiagnoseOptions = {}): Promise<DoctorReport> {
  let addon: NativeAddon | undefined;
  let addonError: string | undefined;
  try {
    addon = loadNative();
  } catch (error) {
    addonError = (error as Error).message;
  }
  const build = addon?.build;
  const device = addon?.cuda?.probe();
  const gst = findOnPath('gst-launch-1.0');
  const [tools, jetson, nvidiaDriver, trainingInfo] = await Promise.all([
    Promise.all([
      tool('-version', resolveFfmpegTool('ffmpeg')),
      tool('-version', resolveFfmpegTool('ffprobe')),
      tool('--version', gst ? { path: gst, source: 'system' } : undefined),
    ]),
    firstLine(options.tegraRelease ?? '/etc/nv_tegra_release'),
    firstLine('/proc/driver/nvidia/version'),
    training(options.loadTraining ?? (() => import('../../train/model/backend.js'))),
  ]);
  let onnxruntime: DoctorReport['onnxruntime'];
  try {
    onnxruntime = { version: ort.env.versions.node, executionProviders: ort.listSupportedBackends() };
  } catch (error) {
    onnxruntime = { error: (error as Error).message };
  }
  const nodeGyp = 'node-gyp build: CPU only';
  const power = jetson ? await (options.jetsonPower ?? probeJetsonPower)() : undefined;
  const warnings: string[] = [];
  const trt = addon?.tensorrt;
  if (trt && trt.version !== trt.compiledVersion) {
    warnings.push(
      `the TensorRT library loaded (${trt.version}) is not the one the addon was compiled against (${trt.compiledVersion}): ` +
        `rebuild the addon against it (${BUILD_NATIVE_COMMAND}), or put the matching libnvinfer first (LD_LIBRARY_PATH)`,
    );
  }
  if (jetson) {
    warnings.push(
      'build engines in the power mode they will run in: TensorRT picks kernels by timing them at the current clocks, ' +
        'so an engine built at MAXN can be slower in a 15 W mode than one built there (and the other way round)',
    );
    if (power?.clocks === 'off') warnings.push(`jetson_clocks is off (${power.clocksDetail}): timings and engine builds vary with the clocks; \`sudo jetson_clocks\` pins them`);
  }
  return {
    node: { version: process.version, platform: process.platform, arch: process.arch },
    addon: addon ? { loaded: true, buildSystem: build ? build.system : 'node-gyp' } : { loaded: false, error: addonError },
    cuda: {
      compiledIn: addon?.features.cuda ?? false,
      ...(build?.cuda.found ? { version: build.cuda.version, architectures: build.cuda.architectures } : {}),
      ...(addon && !addon.features.cuda ? { whyNot: build ? build.cuda.whyNot : nodeGyp } : {}),
      ...(device ? { device } : {}),
    },
    tensorrt: {
      compiledIn: addon?.features.tensorrt ?? false,
      ...(addon?.tensorrt ? { version: addon.tensorrt.version, compiledVersion: addon.tensorrt.compiledVersion } : {}),
      ...(addon && !addon.features.tensorrt ? { whyNot: build ? build.tensorrt.whyNot : nodeGyp } : {}),
    },
    gpu: {
      ...(device?.available
        ? { name: device.name, computeCapability: device.computeCapability, memoryMiB: Math.round(device.totalMemory / 2 ** 20), integrated: device.integrated }
        : {}),
      ...(jetson ? { jetson } : {}),
      ...(nvidiaDriver ? { nvidiaDriver } : {}),
    },
    ...(power ? { power } : {}),
    onnxruntime,
    training: trainingInfo,
    tools: { ffmpeg: tools[0], ffprobe: tools[1], 'gst-launch-1.0': tools[2] },
    warnings,
  };
}

export function formatReport(r: DoctorReport): string {
  const rows: [string, string][] = [['Node', `${r.node.version} (${r.node.platform} ${r.node.arch})`]];
  rows.push(['Addon', r.addon.loaded ? `loaded, built by ${r.addon.buildSystem}` : `not loaded: ${r.addon.error}`]);
  const d = r.cuda.device;
  rows.push([
    'CUDA',
    !r.cuda.compiledIn
      ? `not in this build (${r.cuda.whyNot ?? 'no addon'})`
      : `CUDA ${r.cuda.version} for sm ${r.cuda.architectures}; ` +
          (d?.available ? `runtime ${cudaVersion(d.runtimeVersion)}, driver ${cudaVersion(d.driverVersion)}, device ${d.device}` : `no usable device: ${d?.reason}`),
  ]);
  rows.push([
    'TensorRT',
    r.tensorrt.compiledIn ? `${r.tensorrt.version} (compiled against ${r.tensorrt.compiledVersion})` : `not in this build (${r.tensorrt.whyNot ?? 'no addon'})`,
  ]);
  const g = r.gpu;
  const gpu = g.name
    ? `${g.name}, compute capability ${g.computeCapability}, ${g.memoryMiB} MiB${g.integrated ? ', integrated (Jetson)' : ''}`
    : r.cuda.compiledIn
      ? 'none usable'
      : 'not known to this build (no CUDA)';
  rows.push(['GPU', [gpu, g.jetson && `L4T: ${g.jetson}`, g.nvidiaDriver && `driver: ${g.nvidiaDriver}`].filter(Boolean).join('; ')]);
  if (r.power) {
    const p = r.power;
    const mode = p.mode ? `power mode ${p.mode.name}${p.mode.id !== undefined ? ` (nvpmodel ${p.mode.id})` : ''}` : `power mode unknown (${p.modeError})`;
    const clocks = p.clocks === 'on' ? 'jetson_clocks on (clocks pinned at maximum)' : p.clocks === 'off' ? `jetson_clocks off (${p.clocksDetail})` : 'jetson_clocks unknown (clock frequencies unreadable)';
    rows.push(['Jetson', `${mode}; ${clocks}`]);
  }
  const eps = r.onnxruntime.executionProviders;
  rows.push([
    'onnxruntime',
    r.onnxruntime.error
      ? `not usable: ${r.onnxruntime.error}`
      : `onnxruntime-node ${r.onnxruntime.version}; execution providers: ${eps!.map((p) => `${p.name}${p.bundled ? '' : ' (not bundled)'}`).join(', ')}`,
  ]);
  const tr = r.training;
  rows.push([
    'training',
    tr.backend
      ? `TensorFlow.js backend ${tr.backend}${tr.skipped.length ? ` (skipped: ${tr.skipped.join('; ')})` : ''}`
      : !tr.installed && !tr.error
        ? `not installed (npm install ${TRAINING_PACKAGES.join(' ')})`
        : `${tr.installed ? 'TensorFlow.js has no backend' : 'cannot load'}: ${tr.error}`,
  ]);
  const needs: Record<keyof DoctorReport['tools'], string> = {
    ffmpeg: 'video files and V4L2 cameras need it',
    ffprobe: 'video files need it',
    'gst-launch-1.0': 'gst: pipelines and Jetson CSI cameras need it',
  };
  for (const [name, info] of Object.entries(r.tools) as [keyof DoctorReport['tools'], ToolInfo][]) {
    rows.push([
      name,
      info.found
        ? `${info.version ?? 'found'} (${info.source}: ${info.path})`
        : `not found${info.path ? ` at ${info.path} (${info.source})` : ''}: ${needs[name]}; ${installHint(name)}`,
    ]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = ['ct-edge doctor', ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)];
  if (r.warnings.length) lines.push('', ...r.warnings.map((w) => `warning: ${w}`));
  if (r.addon.loaded && !r.tensorrt.compiledIn) lines.push('', `TensorRT: ${tensorRtGuidance()}`);
  return lines.join('\n');
}

export const command: CliCommand = {
  usage,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: { json: { type: 'boolean' } } });
    const report = await diagnose();
    console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
    return 0;
  },
};
