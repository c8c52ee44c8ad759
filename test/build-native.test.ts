/**
 * `ct-edge build-native` before it compiles anything: it finds TensorRT in a given root, in
 * TENSORRT_ROOT or in system folders, reads its version from the headers (8.x and 10.x spellings),
 * refuses one older than 8.5, and names every missing piece (CUDA's nvcc, TensorRT's parser headers
 * or libraries) with how to get it, in one ERR_BACKEND_UNAVAILABLE. The whole build, from a packed
 * tarball against stand-in TensorRT libraries, is tools/check-gpu-build.sh (CI).
 */
import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command, probeGpuToolchain, tensorRtHeaderVersion } from '../ts/cli/commands/build-native.js';
import { CtEdgeError } from '../ts/contract/errors.js';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-build-native-'));
});
test.after.always(() => rm(dir, { recursive: true, force: true }));

const v10 = '#define TRT_MAJOR_ENTERPRISE 10\n#define TRT_MINOR_ENTERPRISE 16\n#define TRT_PATCH_ENTERPRISE 1\n#define NV_TENSORRT_MAJOR TRT_MAJOR_ENTERPRISE //!< major\n';
const v85 = '#define NV_TENSORRT_MAJOR 8 //!< TensorRT major version.\n#define NV_TENSORRT_MINOR 5 //!< minor\n#define NV_TENSORRT_PATCH 2 //!< patch\n';

/** A TensorRT-shaped folder: include/ with the given headers, lib/ with the given libraries. */
async function tensorRt(name: string, version: string, headers: string[], libs: string[]): Promise<string> {
  const root = join(dir, name);
  await mkdir(join(root, 'include'), { recursive: true });
  await mkdir(join(root, 'lib'), { recursive: true });
  await writeFile(join(root, 'include', 'NvInferVersion.h'), version);
  for (const h of headers) await writeFile(join(root, 'include', h), '');
  for (const l of libs) await writeFile(join(root, 'lib', l), '');
  return root;
}

const noSystem = { systemIncludeDirs: [], systemLibDirs: [], searchDirs: [] };

test('the TensorRT version from NvInferVersion.h, in the 8.x and the 10.x spelling', (t) => {
  t.is(tensorRtHeaderVersion(v85), '8.5.2');
  t.is(tensorRtHeaderVersion(v10), '10.16.1');
  t.is(tensorRtHeaderVersion('#define SOMETHING 1'), undefined);
});

test('TensorRT from --tensorrt-root, TENSORRT_ROOT or the system folders', async (t) => {
  const root = await tensorRt('TensorRT-10.16.1', v10, ['NvInfer.h', 'NvOnnxParser.h'], ['libnvinfer.so.10', 'libnvonnxparser.so.10']);
  const byFlag = await probeGpuToolchain({ ...noSystem, tensorrtRoot: root, env: {} });
  t.like(byFlag.tensorrt, { version: '10.16.1', root, includeDir: join(root, 'include'), libDir: join(root, 'lib') });
  const byEnv = await probeGpuToolchain({ ...noSystem, env: { TENSORRT_ROOT: root } });
  t.is(byEnv.tensorrt?.root, root);
  const system = await probeGpuToolchain({ systemIncludeDirs: [join(root, 'include')], systemLibDirs: [join(root, 'lib')], searchDirs: [], env: {} });
  t.like(system.tensorrt, { version: '10.16.1', root: undefined });
  const tarballs = await probeGpuToolchain({ systemIncludeDirs: [], systemLibDirs: [], searchDirs: [dir], env: {} });
  t.is(tarballs.tensorrt?.root, root, '<dir>/TensorRT* is searched');
});

test('what is missing is named with how to get it', async (t) => {
  const noParser = await tensorRt('no-parser', v10, ['NvInfer.h'], ['libnvinfer.so.10']);
  const partial = await probeGpuToolchain({ ...noSystem, tensorrtRoot: noParser, cudaPath: join(dir, 'no-cuda'), env: { PATH: '' } });
  const text = partial.missing.join('\n');
  t.regex(text, /TensorRT is incomplete at .*no-parser: it needs NvInfer\.h and NvOnnxParser\.h .* libnvinfer and libnvonnxparser/);
  t.regex(text, /nvidia-tensorrt-dev/);
  const old = await tensorRt('trt-84', '#define NV_TENSORRT_MAJOR 8\n#define NV_TENSORRT_MINOR 4\n#define NV_TENSORRT_PATCH 1\n', ['NvInfer.h', 'NvOnnxParser.h'], ['libnvinfer.so', 'libnvonnxparser.so']);
  const tooOld = await probeGpuToolchain({ ...noSystem, tensorrtRoot: old, env: {} });
  t.regex(tooOld.missing.join('\n'), /TensorRT 8\.4\.1 .* older than 8\.5 .*JetPack 5\.0\.x and 4\.x are not supported/);
  t.is(tooOld.tensorrt, undefined);
  const nothing = await probeGpuToolchain({ ...noSystem, env: {} });
  t.regex(nothing.missing.join('\n'), /TensorRT not found \(looked in TENSORRT_ROOT/);
  t.truthy(nothing.cmakeJs, 'cmake-js resolves from the package (a dependency now)');
});

test.serial('build-native fails before compiling, with everything missing in one typed error', async (t) => {
  const saved = { TENSORRT_ROOT: process.env.TENSORRT_ROOT, CUDA_PATH: process.env.CUDA_PATH };
  process.env.TENSORRT_ROOT = join(dir, 'nowhere');
  try {
    const error = await t.throwsAsync(command.run(['--tensorrt-root', dir, '--cuda-path', dir]), { instanceOf: CtEdgeError, code: 'ERR_BACKEND_UNAVAILABLE' });
    t.regex(error!.message, /cannot build the GPU addon; missing:\n {2}- /);
    t.regex(error!.message, /CPU addon stays in place/);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  await t.throwsAsync(command.run(['--cuda-archs', 'sm_87']), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /--cuda-archs/ });
  await t.throwsAsync(command.run(['--tensorrt-root', join(dir, 'missing')]), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /no such folder/ });
  await t.throwsAsync(command.run(['--jobs', '0']), { instanceOf: CtEdgeError, code: 'ERR_INVALID_ARGUMENT', message: /--jobs/ });
});
