/**
 * Commands recognise a file of the wrong kind by its bytes and name the command that converts it
 * (issue 27, item 5): a checkpoint where a model goes, a model where a checkpoint goes, a video where
 * either goes or where a dataset folder goes. `bench` times models on a video file.
 */
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileKindOf } from '../ts/contract/file-kind.js';
import { cli } from './helpers/cli.js';
import { repoRoot } from './helpers/data.js';
import { makeMovingSquareVideo } from './helpers/video.js';

const model = join(repoRoot, 'models', 'student-2.onnx');
const checkpoint = join(repoRoot, 'models', 'student-2.safetensors');
let dir = '';
let video = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ct-edge-file-kinds-'));
  video = join(dir, 'clip.mp4');
  makeMovingSquareVideo(video);
  // a plan's bytes have no documented signature: its name tells it
  await writeFile(join(dir, 'e.engine'), new Uint8Array([0x70, 0x74, 0x72, 0x74, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
});
test.after.always(async () => rm(dir, { recursive: true, force: true }));

test('fileKindOf tells ONNX, safetensors, video and images apart by their first bytes', async (t) => {
  const head = async (path: string) => (await readFile(path)).subarray(0, 16);
  t.is(fileKindOf(await head(model)), 'onnx');
  t.is(fileKindOf(await head(checkpoint)), 'safetensors');
  t.is(fileKindOf(await head(video)), 'video');
  t.is(fileKindOf(await head(join(repoRoot, 'models', 'tree.avi'))), 'video');
  t.is(fileKindOf(await head(join(repoRoot, 'models', 'teacher.curves.png'))), 'image');
  t.is(fileKindOf(new TextEncoder().encode('{"not": "a model"}')), 'unknown');
  t.is(fileKindOf(new Uint8Array(0)), 'unknown');
});

const wrongKinds: [string, () => string[], RegExp][] = [
  ['a checkpoint given to track', () => ['track', video, '--model', checkpoint, '--box', '20,30,24,24'], /student-2\.safetensors is a training checkpoint \(safetensors\), not an ONNX model; export it with `ct-edge export .*student-2\.safetensors -o model\.onnx` \[ERR_MODEL_INVALID\]/],
  ['a checkpoint given to inspect', () => ['inspect', checkpoint], /is a training checkpoint \(safetensors\).*ct-edge export/],
  ['a video given as a model', () => ['track', video, '--model', video, '--box', '20,30,24,24'], /clip\.mp4 is a video, not a model/],
  ['an ONNX model as the teacher', () => ['compress', '--teacher', model, '--blocks', '1', '--steps', '1', '-o', join(dir, 's.safetensors')], /student-2\.onnx is an ONNX model, not a training checkpoint; turn it into one with `ct-edge import .*student-2\.onnx -o teacher\.safetensors` \[ERR_CHECKPOINT\]/],
  ['an ONNX model given to export', () => ['export', model, '-o', join(dir, 'x.onnx')], /is an ONNX model, not a training checkpoint.*ct-edge import/],
  ['a checkpoint given to import', () => ['import', checkpoint, '-o', join(dir, 'y.safetensors')], /is a training checkpoint \(safetensors\).*ct-edge export/],
  ['a video given to eval', () => ['eval', '--model', model, '--dataset', video], /clip\.mp4 is a file, not a dataset folder of labelled sequences; .*ct-edge compare --model A --model B .*clip\.mp4.*ct-edge bench --sequence/],
  ['an image given as a model', () => ['track', video, '--model', join(repoRoot, 'models', 'teacher.curves.png'), '--box', '20,30,24,24'], /teacher\.curves\.png is an image, not a model \[ERR_MODEL_INVALID\]/],
  ['an engine as the teacher', () => ['compress', '--teacher', join(dir, 'e.engine'), '--blocks', '1', '--steps', '1', '-o', join(dir, 'e.safetensors')], /e\.engine is a TensorRT engine, not a training checkpoint; .*ct-edge import MODEL\.onnx/],
  ['an engine given to inspect', () => ['inspect', join(dir, 'e.engine')], /e\.engine is a TensorRT engine, not an ONNX model; .*ct-edge build-engine MODEL\.onnx/],
  ['--box for a sequence folder in bench', () => ['bench', '--model', model, '--box', '1,2,3,4'], /--box applies to a video given with --sequence/],
];
for (const [name, args, message] of wrongKinds) {
  test(`${name}: one line naming the command that converts it`, async (t) => {
    const r = await cli(args());
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr.trim(), message);
    t.notRegex(r.stderr, /\n\s+at /, 'no stack trace');
  });
}

test('bench times models on a video file, from --box on its first frame', async (t) => {
  const r = await cli(['bench', '--model', model, '--model', join(repoRoot, 'models', 'teacher.onnx'), '--sequence', video, '--box', '20,30,24,24', '--frames', '8', '--warmup', '2', '--threads', '1']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^video clip\.mp4 \(first 11 frames, 160x120, target 20,30,24,24\); 8 timed frames per model/m);
  t.regex(r.stdout, /\| student-2 .* 1\.00x \|\n\| teacher /, 'both models, the first the reference');
});
