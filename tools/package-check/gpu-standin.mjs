// Run by tools/check-gpu-build.sh in a project that installed the packed ct-edge and ran
// `npx ct-edge build-native` against stand-in TensorRT libraries (test/native/trt-standin): what a
// machine with the GPU addon but without a GPU gets. Exits non-zero with the first broken promise.
//   node gpu-standin.mjs <expected TensorRT version> <expected CUDA architectures>
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { buildEngine, CtEdgeError, Engine } from 'ct-edge';

const [trtVersion, archs] = process.argv.slice(2);
const addonPath = resolve('node_modules/ct-edge/build/Release/ct_edge.node');
const addon = createRequire(import.meta.url)(addonPath);
const student = resolve('node_modules/ct-edge/models/student-2.onnx');

assert.equal(addon.features.cuda, true, 'features.cuda');
assert.equal(addon.features.tensorrt, true, 'features.tensorrt');
assert.equal(addon.features.cudaDevice, false, 'no GPU here');
assert.equal(addon.tensorrt.version, trtVersion, 'the loaded (stand-in) libnvinfer');
assert.equal(addon.tensorrt.compiledVersion, trtVersion);
assert.equal(addon.build.system, 'cmake-js');
assert.equal(addon.build.cuda.architectures, archs);
console.log(`addon: features ${JSON.stringify(addon.features)}, TensorRT ${addon.tensorrt.version}, CUDA ${addon.build.cuda.version} sm ${addon.build.cuda.architectures}`);

async function code(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof CtEdgeError, `not a CtEdgeError: ${error?.stack ?? error}`);
    return `${error.code}: ${error.message.split('\n')[0].slice(0, 120)}`;
  }
  assert.fail('resolved where it should have failed');
}

const results = {
  'Engine.load(missing.engine)': await code(Engine.load(resolve('missing.engine'))),
  'Engine.load(garbage.engine)': await code(writeFile('garbage.engine', 'not an engine').then(() => Engine.load(resolve('garbage.engine')))),
  'buildEngine(missing.onnx)': await code(buildEngine({ onnx: resolve('missing.onnx') })),
  'buildEngine(student-2.onnx)': await code(buildEngine({ onnx: student, output: resolve('student-2.engine') })),
};
for (const [call, result] of Object.entries(results)) console.log(`${call} -> ${result}`);
assert.match(results['Engine.load(missing.engine)'], /^ERR_MODEL_NOT_FOUND/);
assert.match(results['Engine.load(garbage.engine)'], /^ERR_CUDA/);
assert.match(results['buildEngine(missing.onnx)'], /^ERR_MODEL_NOT_FOUND/);
assert.match(results['buildEngine(student-2.onnx)'], /^ERR_CUDA/);

// The TrtEngine class is per Node environment: a worker thread that loads the addon and exits
// leaves the main thread's bindings working (a static constructor pointed at the dead worker's).
await new Promise((done, fail) => {
  const w = new Worker(`const a = require(${JSON.stringify(addonPath)}); try { new a.tensorrt.TrtTracker({}, {}) } catch (e) { require('node:worker_threads').parentPort.postMessage(e.code) }`, { eval: true });
  w.on('message', (m) => assert.equal(m, 'ERR_INVALID_ARGUMENT', 'in the worker'));
  w.on('error', fail);
  w.on('exit', done);
});
assert.throws(() => new addon.tensorrt.TrtTracker({}, {}), { code: 'ERR_INVALID_ARGUMENT', message: /TrtTracker needs an engine/ }, 'main thread after the worker exited');
assert.throws(() => new addon.tensorrt.TrtGroup({}, {}), { code: 'ERR_INVALID_ARGUMENT', message: /TrtGroup needs an engine/ }, 'a group too');
console.log('TrtTracker and TrtGroup argument checks after a worker loaded the addon and exited: ERR_INVALID_ARGUMENT');
console.log('gpu-standin: ok');
