/**
 * `ct-edge build-native`: builds the GPU addon (the CUDA crop kernels and the TensorRT backend) in
 * the installed ct-edge package, where `npm install` left the CPU addon. Finds CUDA and TensorRT by
 * probing (flags, then CUDA_PATH/TENSORRT_ROOT, then where JetPack and NVIDIA's packages put them),
 * names everything that is missing in one error before compiling anything, runs cmake-js (a
 * dependency of ct-edge) with the found paths, and loads the result to show what it has.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { CtEdgeError } from '../../contract/errors.js';
import type { CliCommand } from '../command.js';

const usage = `usage: ct-edge build-native [--tensorrt-root DIR] [--cuda-path DIR] [--cuda-archs LIST] [--jobs N] [--verbose]

Builds ct-edge's GPU addon (CUDA pre-processing and the TensorRT backend) inside this installed
package, replacing the CPU addon npm install built. Run it once on the machine that will track (a
Jetson, or a Linux machine with an NVIDIA GPU); then \`ct-edge doctor\` shows what the addon has, and
\`ct-edge build-engine\` makes engines.

CUDA and TensorRT are found by probing: the flags, then CUDA_PATH (or CUDA_HOME, nvcc on PATH,
/usr/local/cuda) and TENSORRT_ROOT, then the system folders JetPack and NVIDIA's packages use
(/usr/include/<arch>-linux-gnu, /usr/lib/<arch>-linux-gnu, /usr/local/TensorRT*, /opt/TensorRT*).
Whatever is missing is named, with how to get it, before anything compiles.

  --tensorrt-root DIR   an unpacked TensorRT (include/NvInfer.h, lib/libnvinfer.so)
  --cuda-path DIR       the CUDA toolkit (bin/nvcc)
  --cuda-archs LIST     GPU architectures, e.g. 87 or 75;86 (default: on a Jetson its own GPU,
                        elsewhere the list the CUDA version supports)
  --jobs N              parallel compile jobs (default: the number of cores)
  --verbose             show the whole CMake output (default: a log file, its end on failure)`;

const run = promisify(execFile);

/** The installed package (or checkout) this command belongs to. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface ProbeOptions {
  tensorrtRoot?: string;
  cudaPath?: string;
  env?: NodeJS.ProcessEnv;
  /** System folders searched for TensorRT after the roots (tests narrow them). */
  systemIncludeDirs?: string[];
  systemLibDirs?: string[];
  /** Globbed for TensorRT* tarball installs. */
  searchDirs?: string[];
}

export interface GpuToolchain {
  cmake?: { path: string; version: string };
  nvcc?: { path: string; version: string; root: string };
  tensorrt?: { version: string; includeDir: string; libDir: string; root?: string };
  cmakeJs?: string;
  /** One line per missing piece: what it is and how to get it. */
  missing: string[];
}

async function firstLineOf(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await run(cmd, args, { timeout: 15000 });
    return stdout;
  } catch {
    return undefined;
  }
}

function versionAtLeast(version: string, want: number[]): boolean {
  const have = version.split('.').map((v) => Number.parseInt(v, 10) || 0);
  for (let i = 0; i < want.length; i++) {
    if ((have[i] ?? 0) !== want[i]) return (have[i] ?? 0) > want[i];
  }
  return true;
}

/** "10.3.0" from an NvInferVersion.h: 8.x defines NV_TENSORRT_MAJOR directly, 10.x through TRT_MAJOR_ENTERPRISE. */
export function tensorRtHeaderVersion(text: string): string | undefined {
  const part = (name: string) => new RegExp(`#define\\s+(?:NV_TENSORRT|TRT)_${name}(?:_ENTERPRISE)?\\s+(\\d+)`).exec(text)?.[1];
  const [major, minor, patch] = ['MAJOR', 'MINOR', 'PATCH'].map(part);
  return major && minor && patch ? `${major}.${minor}.${patch}` : undefined;
}

const triplet = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';

function hasLib(dir: string, name: string): boolean {
  try {
    return readdirSync(dir).some((f) => f === `lib${name}.so` || f.startsWith(`lib${name}.so.`));
  } catch {
    return false;
  }
}

function globTensorRt(dirs: string[]): string[] {
  return dirs.flatMap((d) => {
    try {
      return readdirSync(d).filter((f) => /^tensorrt/i.test(f)).map((f) => join(d, f));
    } catch {
      return [];
    }
  });
}

/** Where TensorRT is (headers and libraries both), or why not. */
function findTensorRt(o: ProbeOptions, env: NodeJS.ProcessEnv): { found?: GpuToolchain['tensorrt']; missing?: string } {
  const roots = [o.tensorrtRoot, env.TENSORRT_ROOT].filter((r): r is string => !!r);
  const candidates: { includeDir: string; libDir: string; root?: string }[] = [];
  for (const root of [...roots, ...globTensorRt(o.searchDirs ?? ['/usr/local', '/opt'])]) {
    for (const lib of ['lib', 'lib64', `targets/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux/lib`]) candidates.push({ includeDir: join(root, 'include'), libDir: join(root, lib), root });
  }
  const includes = o.systemIncludeDirs ?? [`/usr/include/${triplet}`, '/usr/include'];
  const libs = o.systemLibDirs ?? [`/usr/lib/${triplet}`, '/usr/lib', '/usr/local/cuda/lib64'];
  for (const includeDir of includes) for (const libDir of libs) candidates.push({ includeDir, libDir });
  const complete = candidates.find(
    (c) => existsSync(join(c.includeDir, 'NvInfer.h')) && existsSync(join(c.includeDir, 'NvOnnxParser.h')) && hasLib(c.libDir, 'nvinfer') && hasLib(c.libDir, 'nvonnxparser'),
  );
  const given = roots.length ? ` (looked in ${roots.join(', ')} and the system folders)` : ' (looked in TENSORRT_ROOT, /usr/local/TensorRT*, /opt/TensorRT* and the system folders)';
  if (!complete) {
    const partial = candidates.find((c) => existsSync(join(c.includeDir, 'NvInfer.h')) || hasLib(c.libDir, 'nvinfer'));
    const what = partial
      ? `TensorRT is incomplete at ${partial.root ?? `${partial.includeDir} + ${partial.libDir}`}: it needs NvInfer.h and NvOnnxParser.h (headers) and libnvinfer and libnvonnxparser (libraries)`
      : `TensorRT not found${given}`;
    return {
      missing:
        `${what}. On a Jetson: \`sudo apt-get install nvidia-tensorrt-dev\` (JetPack's TensorRT headers and libraries). ` +
        'Elsewhere: install TensorRT 8.5 or newer from NVIDIA (the tar package, or tensorrt-dev from their apt repository) and give --tensorrt-root DIR.',
    };
  }
  const version = tensorRtHeaderVersion(readFileSync(join(complete.includeDir, 'NvInferVersion.h'), 'utf8'));
  if (!version) return { missing: `cannot read the TensorRT version from ${join(complete.includeDir, 'NvInferVersion.h')}` };
  if (!versionAtLeast(version, [8, 5])) {
    return { missing: `TensorRT ${version} at ${complete.includeDir} is older than 8.5 (ct-edge needs named I/O tensors and enqueueV3): JetPack 5.0.x and 4.x are not supported; use JetPack 5.1 or newer` };
  }
  return { found: { version, ...complete } };
}

/** Probes everything the GPU build needs; `missing` lists what is not there. */
export async function probeGpuToolchain(o: ProbeOptions = {}): Promise<GpuToolchain> {
  const env = o.env ?? process.env;
  const t: GpuToolchain = { missing: [] };

  const cmakeOut = await firstLineOf('cmake', ['--version']);
  const cmakeVersion = cmakeOut && /cmake version (\d+\.\d+(\.\d+)?)/.exec(cmakeOut)?.[1];
  if (!cmakeVersion) t.missing.push('cmake (3.19 or newer): `sudo apt-get install cmake`, or `python3 -m pip install --user cmake` where the system one is older (JetPack 5 ships 3.16)');
  else if (!versionAtLeast(cmakeVersion, [3, 19])) t.missing.push(`cmake 3.19 or newer (this one is ${cmakeVersion}): \`python3 -m pip install --user cmake\` and put ~/.local/bin first on PATH`);
  else t.cmake = { path: 'cmake', version: cmakeVersion };

  const cudaRoots = [o.cudaPath, env.CUDA_PATH, env.CUDA_HOME].filter((r): r is string => !!r);
  const nvccCandidates = [...cudaRoots.map((r) => join(r, 'bin', 'nvcc')), 'nvcc', '/usr/local/cuda/bin/nvcc'];
  for (const nvcc of nvccCandidates) {
    const out = await firstLineOf(nvcc, ['--version']);
    const version = out && /release (\d+\.\d+)/.exec(out)?.[1];
    if (!version) continue;
    const path = nvcc === 'nvcc' ? ((await firstLineOf('sh', ['-c', 'command -v nvcc']))?.trim() ?? nvcc) : nvcc;
    t.nvcc = { path, version, root: resolve(dirname(path), '..') };
    break;
  }
  if (!t.nvcc) {
    t.missing.push(
      `nvcc, the CUDA compiler (looked in ${[...cudaRoots.map((r) => join(r, 'bin')), 'PATH', '/usr/local/cuda/bin'].join(', ')}). ` +
        'On a Jetson: `sudo apt-get install nvidia-jetpack` (or cuda-toolkit-11-4 on JetPack 5, cuda-toolkit-12-6 on JetPack 6.1/6.2). Elsewhere: install the CUDA toolkit and give --cuda-path DIR.',
    );
  }

  const trt = findTensorRt(o, env);
  if (trt.found) t.tensorrt = trt.found;
  else t.missing.push(trt.missing!);

  const require = createRequire(join(packageRoot, 'package.json'));
  try {
    t.cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  } catch {
    t.missing.push('cmake-js, a dependency of ct-edge: reinstall ct-edge (`npm install ct-edge`)');
  }
  try {
    require.resolve('node-addon-api');
  } catch {
    t.missing.push('node-addon-api, a dependency of ct-edge: reinstall ct-edge (`npm install ct-edge`)');
  }
  return t;
}

/** The addon just built, loaded in a child process: what it reports. */
async function inspectAddon(path: string): Promise<{ features: Record<string, boolean>; tensorrt?: string; compiled?: string; cuda?: string; archs?: string }> {
  const script = `const a = require(${JSON.stringify(path)}); console.log(JSON.stringify({ features: a.features, tensorrt: a.tensorrt?.version, compiled: a.tensorrt?.compiledVersion, cuda: a.build?.cuda?.version, archs: a.build?.cuda?.architectures }))`;
  try {
    const { stdout } = await run(process.execPath, ['-e', script], { timeout: 60000 });
    return JSON.parse(stdout.trim().split('\n').pop()!);
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new CtEdgeError('ERR_NATIVE_MISSING', `the GPU addon was built at ${path} but does not load: ${(e.stderr || e.message).trim().split('\n').slice(-3).join(' ')}`, { cause: error });
  }
}

function cmakeJsArgs(t: GpuToolchain, archs: string | undefined, jobs: number): string[] {
  return [
    t.cmakeJs!, 'compile', '--directory', join(packageRoot, 'native'), '--out', join(packageRoot, 'build', 'cmake'),
    '--CDCT_EDGE_REQUIRE_CUDA=ON', '--CDCT_EDGE_REQUIRE_TENSORRT=ON',
    `--CDCMAKE_CUDA_COMPILER=${t.nvcc!.path}`, `--CDCUDAToolkit_ROOT=${t.nvcc!.root}`,
    ...(t.tensorrt!.root ? [`--CDTENSORRT_ROOT=${t.tensorrt!.root}`] : []),
    ...(archs ? [`--CDCT_EDGE_CUDA_ARCHS=${archs}`] : []),
    `--CDCT_EDGE_OUTPUT_DIR=${join(packageRoot, 'build', 'Release')}`,
    '--parallel', String(jobs),
  ];
}

export const command: CliCommand = {
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'tensorrt-root': { type: 'string' },
        'cuda-path': { type: 'string' },
        'cuda-archs': { type: 'string' },
        jobs: { type: 'string' },
        verbose: { type: 'boolean' },
      },
    });
    if (positionals.length) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `build-native takes no arguments, got ${positionals.join(' ')}\n\n${usage}`);
    const archs = values['cuda-archs'];
    if (archs !== undefined && !/^\d{2,3}(-real|-virtual)?(;\d{2,3}(-real|-virtual)?)*$/.test(archs.replace(/,/g, ';'))) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--cuda-archs takes architectures such as 87 or 75;86 (sm numbers), got '${archs}'`);
    }
    const jobs = values.jobs === undefined ? availableParallelism() : Number(values.jobs);
    if (!Number.isInteger(jobs) || jobs < 1) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--jobs must be a whole number >= 1, got '${values.jobs}'`);
    for (const [flag, dir] of [['--tensorrt-root', values['tensorrt-root']], ['--cuda-path', values['cuda-path']]] as const) {
      if (dir !== undefined && !existsSync(dir)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `${flag} ${dir}: no such folder`);
    }

    const t = await probeGpuToolchain({ tensorrtRoot: values['tensorrt-root'], cudaPath: values['cuda-path'] });
    if (t.missing.length) {
      throw new CtEdgeError('ERR_BACKEND_UNAVAILABLE', `cannot build the GPU addon; missing:\n${t.missing.map((m) => `  - ${m}`).join('\n')}\nThe CPU addon stays in place: .onnx models keep running on onnxruntime.`);
    }
    console.log(`building the GPU addon in ${packageRoot}`);
    console.log(`  CUDA ${t.nvcc!.version} (${t.nvcc!.path}); TensorRT ${t.tensorrt!.version} (${t.tensorrt!.includeDir}, ${t.tensorrt!.libDir}); cmake ${t.cmake!.version}`);
    const logPath = join(packageRoot, 'build', 'cmake', 'build-native.log');
    await mkdir(dirname(logPath), { recursive: true });
    const args = cmakeJsArgs(t, archs?.replace(/,/g, ';'), jobs);
    const started = Date.now();
    const output: Buffer[] = [];
    const code = await new Promise<number>((resolveCode, reject) => {
      const child = spawn(process.execPath, args, { cwd: packageRoot, stdio: ['ignore', 'pipe', 'pipe'] });
      for (const stream of [child.stdout, child.stderr]) {
        stream.on('data', (chunk: Buffer) => {
          output.push(chunk);
          if (values.verbose) process.stdout.write(chunk);
        });
      }
      child.on('error', reject);
      child.on('close', (c) => resolveCode(c ?? 1));
    });
    const log = Buffer.concat(output).toString('utf8');
    await writeFile(logPath, log);
    if (code !== 0) {
      const tail = log.trim().split('\n').slice(-25).join('\n');
      throw new CtEdgeError('ERR_BACKEND_UNAVAILABLE', `the GPU addon did not build (cmake-js exited with ${code}); the end of ${logPath}:\n${tail}\nThe CPU addon stays in place.`);
    }
    const addonPath = join(packageRoot, 'build', 'Release', 'ct_edge.node');
    const built = await inspectAddon(addonPath);
    const features = Object.entries(built.features).filter(([, on]) => on).map(([name]) => name).join(', ');
    console.log(`built ${addonPath} in ${((Date.now() - started) / 1000).toFixed(0)} s: ${features}; CUDA ${built.cuda} for sm ${built.archs}; TensorRT ${built.tensorrt} (compiled against ${built.compiled})`);
    if (!built.features.cudaDevice) console.log('  no usable CUDA device in this process: the addon loads, and tracking on TensorRT needs the GPU and its driver');
    console.log('next: npx ct-edge doctor, then npx ct-edge build-engine model.onnx');
    return 0;
  },
};
