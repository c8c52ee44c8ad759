/**
 * `ct-edge build-engine student.onnx`: a TensorRT engine for this machine's GPU, its metadata beside
 * it, and with --verify a comparison of the engine against the ONNX model on onnxruntime.
 */
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { compareEngines, randomSamples, sequenceSamples, type Agreement } from '../../deploy/eval/compare-engines.js';
import { Engine } from '../../deploy/engine.js';
import { CtEdgeError } from '../../contract/errors.js';
import { loadNative } from '../../deploy/native.js';
import { buildEngine, defaultEnginePath, MAX_ENGINE_BATCH, parsesLayerNorm, readOnnxBytes, templateEnginePath, templatePartToBuild, trtexecCommand, type BuildEngineOptions, type BuiltEngine } from '../../deploy/tensorrt.js';
import { parseOnnxModel } from '../../contract/onnx-reader.js';
import type { CliCommand } from '../command.js';
import { checkOutputFile } from '../outputs.js';
import { MODEL_OPTION_FLAGS, MODEL_OPTIONS_USAGE, modelOptionsFor, modelOptionsFromFlags, parseIntFlag } from '../model-options.js';

const KEEP_FP32_KINDS = ['layernorm', 'normalization', 'softmax', 'reduce'];

const usage = `usage: ct-edge build-engine <model.onnx> [-o model.engine] [options]

Builds a TensorRT engine for this machine's GPU and TensorRT version and writes <engine>.json beside
it (TensorRT version, GPU, precision, TF32, DLA core, tensors, the ONNX file's sha256, the model's
conventions). An engine runs only where it was built: build it on the target device (e.g. the Jetson
itself), and on a Jetson in the power mode it will run in. Needs an addon built with TensorRT
(npx ct-edge build-native; see docs/JETSON.md). On TensorRT older than 8.6 the model's
LayerNormalization ops are spelled out in primitive ops first (that parser lacks the op). A two-part
model (an asymmetric student: the template computed once) gets two engines, the template part's
beside the other as <engine minus .engine>.template.engine; keep them together.

Options:
  -o, --output PATH      the engine file (default: the model's path with .engine)
  --fp16                 FP16 kernels where the GPU has fast FP16, else FP32 (the default)
  --fp32                 FP32 only
  --tf32                 let FP32 layers use TF32 tensor cores (Ampere and later, Orin included);
                         off by default, so that FP32 means FP32 (TensorRT itself turns TF32 on)
  --keep-fp32 KINDS      layer kinds kept in FP32 in an FP16 engine (default layernorm,softmax; also
                         reduce, name:SUBSTRING for layers by name, none to keep none)
  --obey-precision       fail the build rather than run a kept layer in FP16 (default: prefer FP32,
                         which leaves TensorRT free to fuse attention)
  --dla N                run on DLA core N, layers DLA cannot run fall back to the GPU (Jetson AGX
                         Xavier, Xavier NX, AGX Orin, Orin NX; needs FP16)
  --max-batch N          up to N targets per enqueue (a TrackerGroup, track --box repeated): the
                         engine's batch spans 1 to N, its kernels timed at N (default 1; at most 64;
                         a model from ct-edge export, which takes a batch)
  --opt-level N          builder optimisation level 0-5 (TensorRT 8.6 or newer; default 3): lower
                         builds faster, higher searches longer for faster kernels
  --workspace MiB        builder memory pool limit (default 1024)
  --timing-cache FILE    load measured tactics from FILE when it matches this GPU and TensorRT (a
                         file that does not is replaced) and save them after the build
  --verbose              TensorRT's informational messages
  --dry-run              build nothing: print the equivalent trtexec command (for the TensorRT
                         version of this addon, else TensorRT 10) and what it cannot express
  --verify, --no-verify  then run the engine and the ONNX model on onnxruntime (CPU) on the same
                         crops and report how far apart they are
  --sequence DIR         real frames for --verify too, an OTB sequence folder (frames in img/,
                         groundtruth_rect.txt)
  --samples N            crops per set for --verify (default 50)

${MODEL_OPTIONS_USAGE}
The model options are checked before the build and recorded in <engine>.json, so that the engine
later runs with the same conventions and no options.`;

function parseKeepFp32(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  if (text.trim() === 'none') return [];
  const kinds = text.split(',').map((k) => k.trim()).filter(Boolean);
  const bad = kinds.filter((k) => !KEEP_FP32_KINDS.includes(k.toLowerCase()) && !k.startsWith('name:'));
  if (bad.length > 0) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--keep-fp32: unknown layer kind ${bad.join(', ')}; use ${KEEP_FP32_KINDS.join(', ')}, name:SUBSTRING or none`);
  }
  return kinds;
}

function tensorList(m: BuiltEngine['metadata'], io: 'input' | 'output'): string {
  return m.tensors.filter((t) => t.io === io).map((t) => `${t.name} ${t.dtype} [${t.shape.join(',')}]`).join(', ');
}

function describeBuild(r: BuiltEngine, askedFp16: boolean): string {
  const m = r.metadata;
  const tensors = (io: 'input' | 'output') => tensorList(m, io);
  const precision =
    m.precision === 'fp16'
      ? `fp16, ${m.fp32Layers} layer(s) kept in FP32 (${m.keepFp32.join(', ') || 'none asked'}; ${m.obeyPrecision ? 'obeyed' : 'preferred'})`
      : m.precision === 'fp32' && askedFp16 && !r.fastFp16
        ? 'fp32 (this GPU has no fast FP16)'
        : m.precision;
  return [
    `built ${r.enginePath} in ${r.seconds.toFixed(1)} s with TensorRT ${m.tensorrtVersion} for ${m.gpu.name} (compute capability ${m.gpu.computeCapability})`,
    `  precision: ${precision}; TF32 ${m.tf32 ? 'on' : 'off'}${m.dlaCore >= 0 ? `; DLA core ${m.dlaCore} with GPU fallback` : ''}${m.optLevel >= 0 ? `; optimisation level ${m.optLevel}` : ''}`,
    ...(m.layerNormDecomposed ? ['  LayerNormalization spelled out in primitive ops (this TensorRT cannot parse it)'] : []),
    ...(m.maxBatch > 1 ? [`  batch:     1 to ${m.maxBatch} targets per enqueue (a TrackerGroup's), kernels timed at ${m.maxBatch}`] : []),
    ...(r.templateEngine ? [`  template:  ${r.templateEngine.enginePath} (the template part, run once per init; inputs ${tensorList(r.templateEngine.metadata, 'input')})`] : []),
    `  inputs:    ${tensors('input')}`,
    `  outputs:   ${tensors('output')}`,
    `  metadata:  ${r.metadataPath}`,
    ...(r.timingCacheSaved ? [`  timing cache: ${r.timingCacheLoaded ? 'loaded and ' : ''}saved`] : []),
    ...keptLines(r),
    ...r.warnings.map((w) => `  warning: ${w}`),
  ].join('\n');
}

/** What the layers kept in FP32 really run in, after the build (TensorRT may fuse them into FP16). */
function keptLines(r: BuiltEngine): string[] {
  const k = r.keptPrecision;
  if (!k) return [];
  const total = k.fp32.length + k.fp16.length + k.unseen.length;
  const lines = [`  kept in FP32, as built: ${k.fp32.length} of ${total} layers in FP32, ${k.fp16.length} in FP16, ${k.unseen.length} inside fused regions`];
  if (k.fp16.length > 0) lines.push(`  warning: fused into FP16 despite --keep-fp32: ${k.fp16.join(', ')}; check the engine with --verify, or rebuild with --obey-precision`);
  else if (k.unseen.length === total) lines.push('  warning: the built engine shows none of them (all fused, or no layer information): check the engine with --verify');
  return lines;
}

/** --dla and --opt-level: whole numbers in range. */
function rangeFlag(text: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isInteger(v) || v < min || v > max) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--${flag} must be a whole number from ${min} to ${max}, got '${text}'`);
  return v;
}

function agreementTable(rows: readonly Agreement[]): string {
  const header = ['Crops', 'Samples', 'max |Δscore|', 'mean |Δscore|', 'max box Δ px', 'IoU > 0.9'];
  const cells = rows.map((r) => [
    r.set,
    String(r.samples),
    r.maxScoreDiff.toFixed(4),
    r.meanScoreDiff.toFixed(4),
    r.maxBoxDiffPx.toFixed(2),
    `${r.boxesAgree}/${r.samples} (${r.samples ? ((100 * r.boxesAgree) / r.samples).toFixed(0) : '-'}%)`,
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((r) => r[c].length)));
  return [header, ...cells].map((r) => `  ${r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ')}`).join('\n');
}

export const command: CliCommand = {
  usage,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        output: { type: 'string', short: 'o' },
        fp16: { type: 'boolean' },
        fp32: { type: 'boolean' },
        tf32: { type: 'boolean' },
        'keep-fp32': { type: 'string' },
        'obey-precision': { type: 'boolean' },
        dla: { type: 'string' },
        'opt-level': { type: 'string' },
        'max-batch': { type: 'string' },
        'dry-run': { type: 'boolean' },
        workspace: { type: 'string' },
        'timing-cache': { type: 'string' },
        verbose: { type: 'boolean' },
        verify: { type: 'boolean' },
        'no-verify': { type: 'boolean' },
        sequence: { type: 'string' },
        samples: { type: 'string' },
        ...MODEL_OPTION_FLAGS,
      },
    });
    if (positionals.length !== 1) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `build-engine takes one ONNX model, got ${positionals.length ? positionals.join(' ') : 'none'}\n\n${usage}`);
    }
    if (values.fp16 && values.fp32) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'give --fp16 or --fp32, not both');
    if (values.verify && values['no-verify']) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'give --verify or --no-verify, not both');
    if (!values.verify && (values.sequence || values.samples)) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', '--sequence and --samples go with --verify');
    }
    if (values['dry-run'] && values.verify) throw new CtEdgeError('ERR_INVALID_ARGUMENT', '--dry-run builds nothing to --verify');
    if (values.dla !== undefined && values.fp32) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'DLA runs FP16 (or INT8) layers only: --dla goes without --fp32');
    const onnx = positionals[0];
    // Before the build (minutes on a Jetson): where the engine and its .json go. The default
    // path sits beside the model, whose folder exists when the model does. A dry run writes
    // nothing here: its paths may be another machine's.
    if (!values['dry-run']) {
      checkOutputFile(values.output, '-o');
      checkOutputFile(values['timing-cache'], '--timing-cache'); // saved after the build
    }
    const modelOptions = await modelOptionsFor(onnx, modelOptionsFromFlags(values));
    const samples = parseIntFlag(values.samples, 'samples', 50);
    const dlaCore = rangeFlag(values.dla, 'dla', 0, 15);
    const optLevel = rangeFlag(values['opt-level'], 'opt-level', 0, 5);
    const maxBatch = rangeFlag(values['max-batch'], 'max-batch', 1, MAX_ENGINE_BATCH);
    const options: BuildEngineOptions = {
      onnx,
      ...(values.output ? { output: values.output } : {}),
      ...(values.fp32 ? { fp16: false } : {}),
      ...(values.tf32 ? { tf32: true } : {}),
      ...(values.workspace ? { workspaceMiB: parseIntFlag(values.workspace, 'workspace', 1024, 16) } : {}),
      ...(values['timing-cache'] ? { timingCache: values['timing-cache'] } : {}),
      ...(values['keep-fp32'] !== undefined ? { keepFp32: parseKeepFp32(values['keep-fp32']) } : {}),
      ...(values['obey-precision'] ? { obeyPrecision: true } : {}),
      ...(dlaCore !== undefined ? { dlaCore } : {}),
      ...(optLevel !== undefined ? { optLevel } : {}),
      ...(maxBatch !== undefined ? { maxBatch } : {}),
      ...(values.verbose ? { verbose: true } : {}),
      modelOptions,
    };
    if (values['dry-run']) {
      const version = loadNative().tensorrt?.version;
      const bytes = await readOnnxBytes(onnx);
      const templateOnnx = templatePartToBuild(options, parseOnnxModel(bytes).metadata);
      const template =
        templateOnnx &&
        trtexecCommand({ ...options, onnx: templateOnnx, output: templateEnginePath(options.output ?? defaultEnginePath(onnx)), templatePart: true }, await readOnnxBytes(templateOnnx), version ?? '10.3.0');
      const { command, notes } = trtexecCommand(options, bytes, version ?? '10.3.0');
      console.log(`# the trtexec command${template ? 's that build the same engines' : ' that builds the same engine'}${version ? ` (TensorRT ${version})` : ' (this addon has no TensorRT: written for TensorRT 10)'}:`);
      if (template) {
        console.log(
          "# a two-part model: only ct-edge build-engine writes the <engine>.json that names the template engine beside the per-frame one (Engine.load needs it); to read:",
        );
        console.log(`# the template part (runs once per init):\n${template.command}`);
      }
      console.log(command);
      for (const note of notes) console.log(`# ${note}`);
      console.log(`# ct-edge loads an engine from trtexec (give the model's conventions as options, or build with ct-edge for <engine>.json), and trtexec --loadEngine runs one from ct-edge${dlaCore !== undefined ? ` (with --useDLACore=${dlaCore})` : ''}`);
      return 0;
    }
    const built = await buildEngine(options);
    console.log(describeBuild(built, !values.fp32));
    // On TensorRT before 8.6 (JetPack 5.1) LayerNorm is spelled out and kept in FP32 only by PREFER,
    // which fusion may ignore: there the comparison runs unless --no-verify.
    const verifyByDefault = !parsesLayerNorm(built.tensorrtVersion) && !values['no-verify'];
    if (!values.verify && !verifyByDefault) return 0;
    if (!values.verify) console.log(`\nverify runs by default on TensorRT ${built.tensorrtVersion} (LayerNorm kept in FP32 only by preference; --no-verify skips it)`);

    const sequence = values.sequence;
    await using engine = await Engine.load(built.enginePath);
    await using reference = await Engine.load(onnx, modelOptions);
    console.log(`\nverify: ${built.enginePath} (${engine.backend}) against ${onnx} (${reference.backend}), the same crops for both`);
    const rows = [await compareEngines('random frames', engine, reference, randomSamples(samples))];
    if (sequence) rows.push(await compareEngines(`sequence ${basename(sequence)}`, engine, reference, sequenceSamples(sequence, samples)));
    console.log(agreementTable(rows));
    if (!sequence) console.log('  (random frames only; give --sequence DIR to compare on real frames too)');
    return 0;
  },
};
