/** `ct-edge bench` on generated frames and on a real sequence, two models interleaved. */
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command } from '../ts/cli/commands/bench.js';
import { movingSquareSource, type BenchResult } from '../ts/deploy/eval/bench.js';
import { CtEdgeError, type Frame } from '../ts/index.js';
import { hasSharedData, repoRoot, sequencesDir, sharedDataSkipReason, vitTrackPath } from './helpers/data.js';
import { runCommand } from './helpers/cli.js';

const real = hasSharedData ? test.serial : test.skip;
const skipNote = hasSharedData ? '' : ` (${sharedDataSkipReason})`;
const vitFlags = ['--outputs', 'score=output1,size=output2,offset=output3', '--channel-order', 'bgr', '--box-mapping', 'opencv'];

const runBench = (argv: string[]) => runCommand(command, argv);

interface BenchJson {
  source: string;
  frames: number;
  peakRssMiB: number;
  models: BenchResult[];
}

test('the synthetic clip moves a square that starts at the init box', async (t) => {
  const source = movingSquareSource(160, 120, 10);
  t.deepEqual(source.initBox, { x: 70, y: 50, width: 20, height: 20 });
  const first = (await source.frame(0)) as Frame;
  const data = first.data as Uint8Array;
  const at = (x: number, y: number) => data[(y * 160 + x) * 3];
  t.true(at(75, 55) >= 150, 'inside the square');
  t.true(at(10, 10) < 100, 'background');
  t.notDeepEqual(((await source.frame(3)) as Frame).data, first.data);
});

test('bench: two different models interleaved on generated frames report latency, split, memory and backend, in the order given', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-bench-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const json = join(dir, 'bench.json');
  // VitTrack (3 blocks, options from its sidecar) and a 1-block student of it (options in its metadata)
  const models = [join(repoRoot, 'models', 'vittrack.onnx'), join(repoRoot, 'models', 'vittrack-student-1.onnx')];
  const { code, stdout } = await runBench(['--model', models[0], '--model', models[1], '--frames', '40', '--warmup', '5', '--size', '320x240', '--threads', '1', '--json', json]);
  t.is(code, 0);
  t.regex(stdout, /synthetic 320x240/);
  t.regex(stdout, /\| vittrack +\| onnxruntime-cpu \|.*\n\| vittrack-student-1 +\| onnxruntime-cpu \|/, 'rows in the order given');
  t.regex(stdout, /peak RSS of the process: \d+ MiB/);
  const result = JSON.parse(await readFile(json, 'utf8')) as BenchJson;
  t.deepEqual(result.models.map((m) => m.label), ['vittrack', 'vittrack-student-1']);
  t.true(result.peakRssMiB > 50);
  for (const m of result.models) {
    t.is(m.frames, 40);
    t.is(m.backend, 'onnxruntime-cpu');
    t.true(m.latency.p50 > 0 && m.latency.p50 <= m.latency.p90 && m.latency.p90 <= m.latency.p99);
    t.true(m.split.inferenceMs > 0 && m.split.preprocessMs > 0 && m.split.glueMs >= 0);
  }
  const [teacher, student] = result.models;
  t.is(teacher.speedup, 1);
  // each figure against the others it must agree with, and a student that is not the teacher
  t.true(Math.abs(student.speedup - teacher.latency.mean / student.latency.mean) < 1e-9, 'speed-up is the ratio of mean latencies');
  t.not(student.speedup, 1);
  t.notDeepEqual(student.latency, teacher.latency);
  t.true(student.loadRssMiB !== teacher.loadRssMiB || student.split.inferenceMs !== teacher.split.inferenceMs);
});

real(`bench: real frames from a sequence, looping when it is shorter than --frames${skipNote}`, async (t) => {
  const { code, stdout } = await runBench(['--model', vitTrackPath, '--sequence', join(sequencesDir, 'football1'), '--frames', '100', '--warmup', '2', ...vitFlags]);
  t.is(code, 0);
  t.regex(stdout, /sequence football1 \(74 of 74 frames, 352x288\); 100 timed frames/);
});

test('bench: bad input is a CtEdgeError', async (t) => {
  await t.throwsAsync(command.run(['--frames', '10']), { instanceOf: CtEdgeError, message: /at least one --model/ });
  await t.throwsAsync(command.run(['--model', 'm.onnx', '--size', '10x10']), { instanceOf: CtEdgeError, message: /--size must be WxH/ });
  await t.throwsAsync(command.run(['--model', 'm.onnx', '--frames=-3']), { instanceOf: CtEdgeError, message: /--frames must be a whole number/ });
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-bench-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'x.txt'), '');
  await t.throwsAsync(command.run(['--model', 'm.onnx', '--sequence', join(dir, 'none')]), { instanceOf: CtEdgeError, message: /dataset folder not found/ });
  await t.throwsAsync(command.run(['--model', join(dir, 'missing.onnx')]), { instanceOf: CtEdgeError, message: /model file not found/ });
});
