/**
 * Which GPU architectures the CUDA build targets (native/cmake/CtEdgeCudaArchs.cmake), checked with
 * `cmake -P` on any machine: a Jetson builds for its own GPU only (sm_87 Orin, sm_72 Xavier, read
 * from the device tree's NUL-separated compatible strings), desktops for the list their CUDA
 * supports, CT_EDGE_CUDA_ARCHS overrides both, and a Xavier with a CUDA that cannot target it says so.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './helpers/data.js';

function hasCmake(): boolean {
  try {
    execFileSync('cmake', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const maybe = hasCmake() ? test : test.skip;

maybe(`CUDA architectures: the Jetson's own, the CUDA version's, or the override${hasCmake() ? '' : ' (skipped: cmake is not installed)'}`, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ct-edge-cuda-archs-'));
  try {
    // /proc/device-tree/compatible of an Orin Nano devkit, an AGX Xavier and a Raspberry Pi 4.
    writeFileSync(join(dir, 'orin'), 'nvidia,p3768-0000+p3767-0005\0nvidia,p3767-0005\0nvidia,tegra234\0');
    writeFileSync(join(dir, 'xavier'), 'nvidia,p2822-0000+p2888-0001\0nvidia,p2888-0001\0nvidia,tegra194\0');
    writeFileSync(join(dir, 'pi'), 'raspberrypi,4-model-b\0brcm,bcm2711\0');
    const out = execFileSync('cmake', [`-DFIXTURES=${dir}`, '-P', join(repoRoot, 'test', 'native', 'cuda_archs_check.cmake')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    t.log(out.trim());
    t.notRegex(out, /FAIL/);
    t.is(out.match(/^-- ok /gm)?.length, 12);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
