/**
 * What an onnxruntime Engine's network runs on, wherever it runs: the session, and per bound
 * tracker its input tensors and output maps (in memory shared with the trackers). A run crops the
 * search region first when asked (the whole per-frame step but the decode, which takes
 * microseconds), then runs the network and writes the head's maps. A two-part model
 * (docs/MODEL_FORMAT.md) has a second session, its template part: it runs when the template
 * changed (once per init()), and its outputs stay here, bound as inputs of every later run of the
 * per-frame part.
 *
 * A group of trackers (TrackerGroup) on a model that takes a batch runs as one inference per frame:
 * every member's search crop goes into one batched input, the members' templates (or cached
 * template tensors) stay resident in batched inputs rebuilt only when a member joins, leaves or
 * re-inits, and each member's maps are written to its own shared memory.
 *
 * The engine's inference thread (inference-worker.ts) serves its messages with one core; an engine
 * loaded with `inferenceThread: false` calls one on the calling thread (inference-thread.ts).
 */
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { CtEdgeError } from '../contract/errors.js';
import type { TensorSignature } from '../contract/model-config.js';
import { loadNative } from './native.js';
import type { InferenceRequest, LoadedModel, RunTimes } from './inference-thread.js';

interface Bound {
  feeds: Record<string, ort.Tensor>;
  /** A two-part model's template part's input. */
  templateFeeds: Record<string, ort.Tensor>;
  fetches: string[];
  /** The search crop's input name (a group batches it; the rest are the template's). */
  searchName: string;
  /** The tensors onnxruntime reads: this thread's own memory (onnxruntime-node rejects shared memory). */
  template: Float32Array;
  search: Float32Array;
  /** The tracker's tensors in shared memory, and the template's version last copied from it. */
  shared: { template: Float32Array; search: Float32Array };
  templateVersion: number;
  maps: Float32Array;
  searchSize: number;
  featureSize: number;
  norm: Extract<InferenceRequest, { op: 'bind' }>['norm'];
}

/** A group's resident batched inputs, and which members (and templates) they were built from. */
interface Batched {
  layout: string;
  feeds: Record<string, ort.Tensor>;
  search: Float32Array;
}

/** A fresh core: its serve() answers one request; callers serve one at a time, in order. */
export function createInferenceCore(): (m: InferenceRequest) => Promise<unknown> {
  let session: ort.InferenceSession | undefined;
  /** A two-part model's template part. */
  let templateSession: ort.InferenceSession | undefined;
  const bound = new Map<number, Bound>();
  /** Groups' batched inputs, by group (and batch) name. */
  const batches = new Map<string, Batched>();

  function live(): ort.InferenceSession {
    if (!session) throw new CtEdgeError('ERR_DISPOSED', 'the engine was disposed; load it again');
    return session;
  }

  async function createSession(model: Uint8Array, threads: number | undefined, what: string): Promise<ort.InferenceSession> {
    try {
      return await ort.InferenceSession.create(model, {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        ...(threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
      });
    } catch (error) {
      throw new CtEdgeError('ERR_MODEL_INVALID', `onnxruntime could not load ${what}: ${(error as Error).message.split('\n')[0]}. Is the file complete? Export or download it again.`);
    }
  }

  /** Threads a group's crops run on: the session's intra-op threads. */
  let cropThreads = 1;

  async function load(model: Uint8Array, threads: number | undefined, templatePart: Uint8Array | undefined): Promise<LoadedModel> {
    cropThreads = threads ?? availableParallelism();
    session = await createSession(model, threads, 'it');
    if (templatePart) templateSession = await createSession(templatePart, threads, 'its template part');
    const signature = (m: readonly ort.InferenceSession.ValueMetadata[]): TensorSignature[] =>
      m.map((v) => ({ name: v.name, shape: v.isTensor ? v.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : String(d))) : [] }));
    const outputTypes: Record<string, string> = {};
    for (const v of session.outputMetadata) if (v.isTensor) outputTypes[v.name] = String(v.type);
    return {
      inputs: signature(session.inputMetadata),
      outputs: signature(session.outputMetadata),
      outputTypes,
      ...(templateSession && { templatePart: { inputs: signature(templateSession.inputMetadata), outputs: signature(templateSession.outputMetadata) } }),
    };
  }

  function bind(m: Extract<InferenceRequest, { op: 'bind' }>): void {
    const template = new Float32Array(m.template.length);
    const search = new Float32Array(m.search.length);
    const tensor = (data: Float32Array, side: number) => new ort.Tensor('float32', data, [1, 3, side, side]);
    // A two-part model's per-frame part reads the template part's outputs instead of the template.
    const templateFeed = templateSession ? {} : { [m.names.template]: tensor(template, m.templateSize) };
    bound.set(m.binding, {
      feeds: { ...templateFeed, [m.names.search]: tensor(search, m.searchSize) },
      templateFeeds: { [m.names.template]: tensor(template, m.templateSize) },
      fetches: [m.names.score, m.names.size, m.names.offset],
      searchName: m.names.search,
      template,
      search,
      shared: { template: m.template, search: m.search },
      templateVersion: -1,
      maps: m.maps,
      searchSize: m.searchSize,
      featureSize: m.featureSize,
      norm: m.norm,
    });
  }

  function boundOrFail(binding: number): Bound {
    const b = bound.get(binding);
    if (!b) throw new CtEdgeError('ERR_DISPOSED', 'this tracker was disposed; create a new one');
    return b;
  }

  /**
   * Copies a new template (once per init()) and runs a two-part model's template part on it, whose
   * outputs replace the cached inputs. Returns the template part's time.
   */
  async function refreshTemplate(b: Bound, templateVersion: number): Promise<number> {
    if (templateVersion === b.templateVersion) return 0;
    b.template.set(b.shared.template);
    b.templateVersion = -1; // until the template part has run
    const start = performance.now();
    if (templateSession) {
      const cached = await templateSession.run(b.templateFeeds);
      for (const [name, t] of Object.entries(cached)) {
        b.feeds[name]?.dispose();
        b.feeds[name] = t;
      }
    }
    b.templateVersion = templateVersion;
    return templateSession ? performance.now() - start : 0;
  }

  /** Writes item `item` of a run's outputs (batch first) into a tracker's shared maps. */
  function writeMaps(b: Bound, out: ort.InferenceSession.OnnxValueMapType, item: number, batch: number): void {
    const cells = b.featureSize * b.featureSize;
    let offset = 0;
    b.fetches.forEach((name, i) => {
      const t = out[name];
      const channels = i === 0 ? 1 : 2;
      const n = channels * cells;
      if (t?.type !== 'float32' || t.data.length !== batch * n) {
        throw new CtEdgeError('ERR_MODEL_OUTPUT', `output '${name}' should be float32 [${batch},${channels},${b.featureSize},${b.featureSize}], got ${t?.type} [${t?.dims.join(',')}]`);
      }
      b.maps.set((t.data as Float32Array).subarray(item * n, (item + 1) * n), offset);
      offset += n;
    });
  }

  async function run(m: Extract<InferenceRequest, { op: 'run' }>): Promise<RunTimes> {
    const b = boundOrFail(m.binding);
    const t0 = performance.now();
    const templateMs = await refreshTemplate(b, m.templateVersion);
    if (m.crop) {
      loadNative().cropToTensor(m.crop.frame, m.crop.window, b.searchSize, b.search, b.norm);
      if (m.mirrorSearch) b.shared.search.set(b.search);
    } else {
      b.search.set(b.shared.search); // cropped by the caller
    }
    const t1 = performance.now();
    const out = await live().run(b.feeds, b.fetches);
    const t2 = performance.now() + templateMs; // a new template's part counts as inference
    try {
      writeMaps(b, out, 0, 1);
    } finally {
      for (const t of Object.values(out)) t.dispose();
    }
    return { preprocessMs: t1 - t0 - templateMs, inferenceMs: t2 - t1 };
  }

  /** One inference for a group's members: batched inputs, one crop per member, maps per member. */
  async function runGroup(m: Extract<InferenceRequest, { op: 'runGroup' }>): Promise<RunTimes> {
    const members = m.members.map((x) => ({ ...x, b: boundOrFail(x.binding) }));
    const t0 = performance.now();
    let templateMs = 0;
    for (const x of members) templateMs += await refreshTemplate(x.b, x.templateVersion);
    const first = members[0].b;
    const searchName = first.searchName;
    const layout = members.map((x) => `${x.binding}:${x.templateVersion}`).join(',');
    let batched = batches.get(m.group);
    if (batched?.layout !== layout) {
      // Rebuilt when a member joins, leaves or re-inits: the templates (or cached tensors) side by side.
      const n = members.length;
      const per = first.search.length;
      const search = new Float32Array(n * per);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(first.feeds)) {
        if (name === searchName) {
          feeds[name] = new ort.Tensor('float32', search, [n, ...t.dims.slice(1)]);
          continue;
        }
        const size = t.data.length;
        const data = new Float32Array(n * size);
        members.forEach((x, i) => data.set(x.b.feeds[name].data as Float32Array, i * size));
        feeds[name] = new ort.Tensor('float32', data, [n, ...t.dims.slice(1)]);
      }
      batched = { layout, feeds, search };
      batches.set(m.group, batched);
    }
    // The crops on as many threads as the session's (the cores are idle until the run starts).
    loadNative().cropBatch(members.map((x) => x.crop), first.searchSize, batched.search, first.norm, cropThreads);
    const t1 = performance.now();
    const out = await live().run(batched.feeds, first.fetches);
    const t2 = performance.now() + templateMs;
    try {
      members.forEach((x, i) => writeMaps(x.b, out, i, members.length));
    } finally {
      for (const t of Object.values(out)) t.dispose();
    }
    return { preprocessMs: t1 - t0 - templateMs, inferenceMs: t2 - t1 };
  }

  async function serve(m: InferenceRequest): Promise<unknown> {
    switch (m.op) {
      case 'load':
        return load(m.model, m.threads, m.templatePart);
      case 'bind':
        return bind(m);
      case 'unbind':
        return bound.delete(m.binding);
      case 'run':
        return run(m);
      case 'runGroup':
        return runGroup(m);
      case 'ungroup':
        return batches.delete(m.group);
      case 'release': {
        const s = session;
        const t = templateSession;
        session = undefined;
        templateSession = undefined;
        bound.clear();
        batches.clear();
        await s?.release();
        await t?.release();
        return true;
      }
    }
  }

  return serve;
}
