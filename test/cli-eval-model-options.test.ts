/** Model options from CLI flags and `<model>.json` sidecars, shared by eval, bench and track. */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MODEL_OPTION_FLAGS, modelOptionsFor, modelOptionsFromFlags, parseIntFlag, readSidecar } from '../ts/cli/model-options.js';
import { CtEdgeError } from '../ts/index.js';

const flags = (...args: string[]) => modelOptionsFromFlags(parseArgs({ args, options: MODEL_OPTION_FLAGS, strict: true }).values);

test('flags parse into ModelOptions', (t) => {
  t.deepEqual(
    flags('--outputs', 'score=output1,size=output2,offset=output3', '--channel-order', 'bgr', '--box-mapping', 'opencv', '--mean', '0.5,0.5,0.5', '--search-size', '288', '--lost-threshold', '0.3'),
    { outputs: { score: 'output1', size: 'output2', offset: 'output3' }, channelOrder: 'bgr', boxMapping: 'opencv', mean: [0.5, 0.5, 0.5], searchSize: 288, lostThreshold: 0.3 },
  );
  t.deepEqual(flags(), {});
  t.throws(() => flags('--mean', '1,2'), { instanceOf: CtEdgeError, message: /mean \(command line\) must be three comma-separated numbers/ });
});

test('sidecar: JSON or flag-text values; flags win over it, per role for tensor names', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ct-edge-opts-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const model = join(dir, 'm.onnx');
  t.is(await readSidecar(model), undefined);
  await writeFile(`${model}.json`, JSON.stringify({ outputs: { score: 'output1', size: 'output2' }, std: [1, 1, 1], channelOrder: 'bgr', templateSize: '112' }));
  t.deepEqual(await readSidecar(model), { outputs: { score: 'output1', size: 'output2' }, std: [1, 1, 1], channelOrder: 'bgr', templateSize: 112 });
  t.deepEqual(await modelOptionsFor(model, flags('--outputs', 'offset=output3', '--channel-order', 'rgb')), {
    outputs: { score: 'output1', size: 'output2', offset: 'output3' },
    std: [1, 1, 1],
    channelOrder: 'rgb',
    templateSize: 112,
  });

  await writeFile(`${model}.json`, '{"chanelOrder": "bgr"}');
  await t.throwsAsync(readSidecar(model), { instanceOf: CtEdgeError, message: /unknown model option 'chanelOrder' in .*m\.onnx\.json/ });
  await writeFile(`${model}.json`, '{oops');
  await t.throwsAsync(readSidecar(model), { instanceOf: CtEdgeError, message: /m\.onnx\.json are not valid JSON/ });
  await writeFile(`${model}.json`, '{"searchSize": -1}');
  await t.throwsAsync(readSidecar(model), { instanceOf: CtEdgeError, message: /searchSize \(.*m\.onnx\.json\) must be a positive number/ });
});

test('whole-number flags', (t) => {
  t.is(parseIntFlag(undefined, 'frames', 300), 300);
  t.is(parseIntFlag('0', 'warmup', 20, 0), 0);
  t.throws(() => parseIntFlag('0', 'frames', 300), { instanceOf: CtEdgeError, message: "--frames must be a whole number >= 1, got '0'" });
  t.throws(() => parseIntFlag('1.5', 'frames', 300), { instanceOf: CtEdgeError });
});
