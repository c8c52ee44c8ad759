/**
 * The inference thread of an onnxruntime Engine (see ./inference-thread.ts): one inference core
 * (./inference-core.ts) serving the main thread's messages, one at a time, in order.
 */
import { parentPort } from 'node:worker_threads';
import { createInferenceCore } from './inference-core.js';
import type { InferenceReply, InferenceRequest } from './inference-thread.js';

const port = parentPort!;
const serve = createInferenceCore();

// One request at a time: a release waits for the run before it, and runs keep their order.
let queue: Promise<void> = Promise.resolve();
port.on('message', (m: InferenceRequest) => {
  queue = queue.then(async () => {
    let reply: InferenceReply | undefined;
    try {
      const ok = await serve(m);
      if ('id' in m) reply = { id: m.id, ok };
    } catch (error) {
      const e = error as { code?: unknown; message?: unknown };
      if ('id' in m) reply = { id: m.id, error: { code: typeof e?.code === 'string' ? e.code : undefined, message: String(e?.message ?? error) } };
    }
    if (reply) port.postMessage(reply);
  });
});
