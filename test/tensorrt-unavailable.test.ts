/**
 * Without TensorRT in the addon (node-gyp builds, and cmake-js builds that did not find it), loading
 * an engine and building one fail with ERR_BACKEND_UNAVAILABLE and say what to install or set.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { command } from '../ts/cli/commands/build-engine.js';
import { CtEdgeError, Engine } from '../ts/index.js';
import { loadNative } from '../ts/deploy/native.js';
import { repoRoot } from './helpers/data.js';

const hasTensorRt = loadNative().tensorrt !== undefined;
const maybe = hasTensorRt ? test.skip : test;
const note = hasTensorRt ? ' (skipped: this addon has TensorRT)' : '';
const guidance = /npx ct-edge build-native.*--tensorrt-root/s;

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-trt-'));
});
test.after.always(() => rm(dir, { recursive: true, force: true }));

maybe(`Engine.load of a .engine or .plan says how to get TensorRT${note}`, async (t) => {
  for (const name of ['student.engine', 'student.plan']) {
    const path = join(dir, name);
    await writeFile(path, 'not really an engine');
    const error = await t.throwsAsync(Engine.load(path), { instanceOf: CtEdgeError, code: 'ERR_BACKEND_UNAVAILABLE' });
    t.regex(error!.message, guidance);
    t.regex(error!.message, /JetPack/);
    t.regex(error!.message, /CUDA_PATH/);
    t.regex(error!.message, /node-gyp/, 'says why this build lacks it');
    t.regex(error!.message, /onnxruntime/, 'points at the .onnx meanwhile');
  }
});

maybe(`build-engine fails with the same guidance${note}`, async (t) => {
  // a real model: the file is read and checked first (a missing one is ERR_MODEL_NOT_FOUND on any machine)
  const error = await t.throwsAsync(command.run([join(repoRoot, 'models', 'student-2.onnx'), '-o', join(dir, 'student-2.engine'), '--fp16']), { instanceOf: CtEdgeError, code: 'ERR_BACKEND_UNAVAILABLE' });
  t.regex(error!.message, guidance);
});

maybe(`ct-edge build-engine exits with 1 and prints the guidance${note}`, async (t) => {
  const cli = promisify(execFile)(process.execPath, ['--import', 'tsx', join('ts', 'cli', 'main.ts'), 'build-engine', join(repoRoot, 'models', 'student-2.onnx'), '-o', join(dir, 'student-2.engine')], { cwd: repoRoot });
  const error = await t.throwsAsync(cli);
  const failed = error as Error & { code?: number; stderr?: string };
  t.is(failed.code, 1);
  t.regex(failed.stderr ?? '', /\[ERR_BACKEND_UNAVAILABLE\]/);
  t.regex(failed.stderr ?? '', guidance);
});

test('build-engine rejects --fp16 with --fp32 and unknown --keep-fp32 kinds before anything else', async (t) => {
  await t.throwsAsync(command.run(['m.onnx', '--fp16', '--fp32']), { code: 'ERR_INVALID_ARGUMENT', message: /not both/ });
  await t.throwsAsync(command.run(['m.onnx', '--keep-fp32', 'layernorm,gelu']), { code: 'ERR_INVALID_ARGUMENT', message: /unknown layer kind gelu/ });
  await t.throwsAsync(command.run(['m.onnx', '--sequence', dir]), { code: 'ERR_INVALID_ARGUMENT', message: /--verify/ });
});
