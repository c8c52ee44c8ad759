/**
 * What `ct-edge doctor` says about a Jetson and about the TensorRT library, without a Jetson: the
 * power mode from a stand-in `nvpmodel`, jetson_clocks from a stand-in sysfs tree (every CPU's and
 * the GPU's minimum frequency pinned to the maximum, or not), the note that engines are built per
 * power mode, and the warning when the loaded TensorRT is not the one the addon was compiled against.
 */
import test from 'ava';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diagnose, formatReport, probeJetsonPower } from '../ts/cli/commands/doctor.js';
import { loadNative, overrideNative, type NativeAddon } from '../ts/deploy/native.js';

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-doctor-jetson-'));
});
test.after.always(() => rm(dir, { recursive: true, force: true }));
test.afterEach.always(() => overrideNative(undefined));

/** A sysfs tree as an Orin shows it: cpu0..cpu5 (cpu5 offline, no cpufreq) and the ga10b GPU. */
async function sysfs(name: string, cpuMin: number[], gpuMin: number): Promise<string> {
  const root = join(dir, name);
  for (const [i, min] of cpuMin.entries()) {
    const d = join(root, 'sys/devices/system/cpu', `cpu${i}`, 'cpufreq');
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'scaling_min_freq'), `${min}\n`);
    await writeFile(join(d, 'scaling_max_freq'), '1984000\n');
  }
  await mkdir(join(root, 'sys/devices/system/cpu/cpu5'), { recursive: true });
  const gpu = join(root, 'sys/class/devfreq/17000000.ga10b');
  await mkdir(gpu, { recursive: true });
  await writeFile(join(gpu, 'min_freq'), `${gpuMin}\n`);
  await writeFile(join(gpu, 'max_freq'), '918000000\n');
  return root;
}

/** A stand-in nvpmodel printing what JetPack's prints for `-q`. */
async function nvpmodel(output: string, exit = 0): Promise<string> {
  const path = join(dir, `nvpmodel-${exit}-${output.length}`);
  await writeFile(path, `#!/bin/sh\n[ "$1" = "-q" ] || exit 2\nprintf '%s' '${output}'\nexit ${exit}\n`);
  await chmod(path, 0o755);
  return path;
}

test('power mode from nvpmodel -q, jetson_clocks from the clock floors', async (t) => {
  const pinned = await sysfs('pinned', [1984000, 1984000, 1984000, 1984000, 1984000], 918000000);
  const maxn = await nvpmodel('NVPM WARN: fan mode is not set!\nNV Power Mode: MAXN\n0\n');
  t.deepEqual(await probeJetsonPower(pinned, maxn), { clocks: 'on', mode: { name: 'MAXN', id: 0 } });

  const scaling = await sysfs('scaling', [115200, 1984000, 1984000, 1984000, 1984000], 306000000);
  const fifteen = await nvpmodel('NV Power Mode: 15W\n2\n');
  t.deepEqual(await probeJetsonPower(scaling, fifteen), { clocks: 'off', clocksDetail: 'scaling: cpu0, GPU 17000000.ga10b', mode: { name: '15W', id: 2 } });

  const broken = await nvpmodel('', 1);
  const none = await probeJetsonPower(join(dir, 'no-sysfs'), broken);
  t.is(none.clocks, 'unknown');
  t.regex(none.modeError ?? '', /nvpmodel -q failed/);
  t.is((await probeJetsonPower(pinned, join(dir, 'no-such-nvpmodel'))).modeError, 'nvpmodel not found');
});

test.serial('doctor on a Jetson: the power row, the power-mode note, and the clocks warning', async (t) => {
  const release = join(dir, 'nv_tegra_release');
  await writeFile(release, '# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64\n');
  const report = await diagnose({
    tegraRelease: release,
    jetsonPower: async () => ({ mode: { name: '15W', id: 2 }, clocks: 'off', clocksDetail: 'scaling: cpu0' }),
    loadTraining: () => Promise.reject(Object.assign(new Error("Cannot find package '@tensorflow/tfjs-core'"), { code: 'ERR_MODULE_NOT_FOUND' })),
  });
  t.like(report, { gpu: { jetson: '# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64' }, power: { mode: { name: '15W', id: 2 }, clocks: 'off' } });
  const text = formatReport(report);
  t.regex(text, /^ {2}Jetson +power mode 15W \(nvpmodel 2\); jetson_clocks off \(scaling: cpu0\)$/m);
  t.regex(text, /^warning: build engines in the power mode they will run in/m);
  t.regex(text, /^warning: jetson_clocks is off .*`sudo jetson_clocks`/m);

  const desktop = await diagnose({ tegraRelease: join(dir, 'none'), loadTraining: () => Promise.reject(new Error('skip')) });
  t.is(desktop.power, undefined);
  t.false(desktop.warnings.some((w) => /power mode/.test(w)));
});

test.serial('doctor warns when the loaded TensorRT is not the one the addon was compiled against', async (t) => {
  const real = loadNative();
  const withTrt = (version: string, compiledVersion: string): NativeAddon => ({
    ...real,
    features: { cuda: true, tensorrt: true, cudaDevice: false },
    tensorrt: { version, compiledVersion } as NativeAddon['tensorrt'],
  });
  overrideNative(withTrt('10.3.0', '10.7.0'));
  const skip = { loadTraining: () => Promise.reject(new Error('skip')) };
  const mismatch = await diagnose(skip);
  t.true(mismatch.warnings.some((w) => /TensorRT library loaded \(10\.3\.0\) is not the one the addon was compiled against \(10\.7\.0\).*npx ct-edge build-native/.test(w)));
  t.regex(formatReport(mismatch), /^warning: the TensorRT library loaded/m);
  overrideNative(withTrt('10.3.0', '10.3.0'));
  t.false((await diagnose(skip)).warnings.some((w) => /compiled against/.test(w)));
});
