/** `ct-edge doctor` on this machine's build, and on a fake cmake-js build with CUDA and TensorRT. */
import test from 'ava';
import { command, type DoctorReport } from '../ts/cli/commands/doctor.js';
import { loadNative, overrideNative, type NativeAddon } from '../ts/deploy/native.js';
import { runCommand } from './helpers/cli.js';

const doctor = (argv: string[]) => runCommand(command, argv);

test.afterEach.always(() => overrideNative(undefined));

const realAddon = loadNative();
const realHasTensorRt = realAddon.tensorrt !== undefined;

test.serial('doctor prints every section and exits 0', async (t) => {
  const { code, stdout } = await doctor([]);
  t.is(code, 0);
  for (const section of ['Node', 'Addon', 'CUDA', 'TensorRT', 'GPU', 'onnxruntime', 'tfjs', 'ffmpeg', 'ffprobe', 'gst-launch-1.0']) {
    t.regex(stdout, new RegExp(`^  ${section.replace('.', '\\.')} +\\S`, 'm'), section);
  }
  t.regex(stdout, /onnxruntime-node \d+\.\d+\.\d+; execution providers: cpu/);
  if (!realHasTensorRt) t.regex(stdout, /TensorRT: .*TENSORRT_ROOT=/, 'says how to get TensorRT');
});

test.serial('doctor --json parses and reports this build', async (t) => {
  const { code, stdout } = await doctor(['--json']);
  t.is(code, 0);
  const report = JSON.parse(stdout) as DoctorReport;
  t.true(report.addon.loaded);
  t.is(report.tensorrt.compiledIn, realHasTensorRt);
  if (!realAddon.build) {
    t.is(report.addon.buildSystem, 'node-gyp');
    t.regex(report.tensorrt.whyNot ?? '', /node-gyp/);
    t.false(report.cuda.compiledIn);
  }
  t.regex(report.onnxruntime.version ?? '', /^\d+\.\d+\.\d+$/);
  t.true(report.onnxruntime.executionProviders!.some((p) => p.name === 'cpu'));
  t.truthy(report.tfjs.backend);
  t.is(report.node.version, process.version);
  t.is(typeof report.tools.ffmpeg.found, 'boolean');
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
  t.notRegex(stdout, /TENSORRT_ROOT/, 'no install advice when TensorRT is there');
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
  t.regex(stdout, /TensorRT: .*cmake-js did not find it: not found: CT_EDGE_TRT_INCLUDE_DIR/);
});
