/**
 * Model options on the command line, shared by the commands that load models (track, eval, bench).
 *
 * The same options as the API's ModelOptions, spelled as flags (`--outputs score=output1,size=output2,
 * offset=output3 --channel-order bgr`) or kept in a JSON sidecar beside the model, `<model file>.json`
 * (`vitTracker.onnx.json`), with ModelOptions' names as keys. Sidecar values may be JSON (`"outputs":
 * {"score": "output1"}`, `"mean": [0.5, 0.5, 0.5]`) or the flag's text (`"outputs": "score=output1"`).
 *
 * Precedence, highest first: command-line flags (they apply to every --model of the run), the
 * model's sidecar, the model's ONNX metadata, its tensor shapes and OSTrack's defaults. So models
 * that differ in their conventions should each get a sidecar.
 */
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { Engine } from '../deploy/engine.js';
import { CtEdgeError } from '../contract/errors.js';
import type { Box } from '../contract/types.js';
import { optionsFromStrings, OSTRACK_DEFAULTS, TENSOR_NAMES, type ModelOptions } from '../contract/model-config.js';

/** parseArgs option definitions for the model-option flags. */
export const MODEL_OPTION_FLAGS = {
  inputs: { type: 'string' },
  outputs: { type: 'string' },
  'channel-order': { type: 'string' },
  'box-mapping': { type: 'string' },
  mean: { type: 'string' },
  std: { type: 'string' },
  'template-size': { type: 'string' },
  'search-size': { type: 'string' },
  'lost-threshold': { type: 'string' },
} as const;

export const MODEL_OPTIONS_USAGE = `Model options (for every --model; a model's sidecar <model>.json sets them per model, flags win;
models exported by ct-edge carry them all in their metadata). Defaults where nothing says otherwise:
  --outputs score=NAME,size=NAME,offset=NAME   output tensor names (default ${Object.values(TENSOR_NAMES.outputs).join(',')};
                                               VitTrack: output1,output2,output3)
  --inputs template=NAME,search=NAME           input tensor names (default ${Object.values(TENSOR_NAMES.inputs).join(',')})
  --channel-order rgb|bgr                      channel order the model was trained on (default
                                               ${OSTRACK_DEFAULTS.channelOrder}; VitTrack: bgr)
  --box-mapping ostrack|opencv                 how boxes go back to the frame (default
                                               ${OSTRACK_DEFAULTS.boxMapping}; VitTrack: opencv)
  --mean R,G,B  --std R,G,B                    normalisation after /255 (default ImageNet's,
                                               ${OSTRACK_DEFAULTS.mean.join(',')} and ${OSTRACK_DEFAULTS.std.join(',')})
  --template-size N  --search-size N           crop sizes when the model's shapes do not say
  --lost-threshold X                           windowed peak score below which the target is lost
                                               (default ${OSTRACK_DEFAULTS.lostThreshold})`;

const FLAG_TO_OPTION: Record<keyof typeof MODEL_OPTION_FLAGS, keyof ModelOptions> = {
  inputs: 'inputs',
  outputs: 'outputs',
  'channel-order': 'channelOrder',
  'box-mapping': 'boxMapping',
  mean: 'mean',
  std: 'std',
  'template-size': 'templateSize',
  'search-size': 'searchSize',
  'lost-threshold': 'lostThreshold',
};

/** Model options from parseArgs values (other flags in `values` are ignored). */
export function modelOptionsFromFlags(values: Record<string, unknown>): ModelOptions {
  const strings: Partial<Record<keyof ModelOptions, string>> = {};
  for (const [flag, option] of Object.entries(FLAG_TO_OPTION) as [string, keyof ModelOptions][]) {
    if (typeof values[flag] === 'string') strings[option] = values[flag];
  }
  return optionsFromStrings(strings, 'command line');
}

const OPTION_NAMES: readonly string[] = [...Object.values(FLAG_TO_OPTION), 'featureSize', 'templateFactor', 'searchFactor'];

/** The options in `<modelPath>.json`, or undefined when there is no such file. */
export async function readSidecar(modelPath: string): Promise<ModelOptions | undefined> {
  // Beside a TensorRT engine, <engine>.json is its build metadata, which Engine.load reads itself.
  if (/\.(engine|plan)$/i.test(modelPath)) return undefined;
  const path = `${modelPath}.json`;
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `cannot read model options ${path}: ${error.message}`, { cause: error });
  });
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `model options ${path} are not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `model options ${path} must be a JSON object of ModelOptions`);
  }
  const strings: Partial<Record<keyof ModelOptions, string>> = {};
  for (const [key, value] of Object.entries(json)) {
    if (!OPTION_NAMES.includes(key)) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `unknown model option '${key}' in ${path}; known: ${OPTION_NAMES.join(', ')}`);
    }
    // Bring JSON values to the text form optionsFromStrings parses, so both spellings get one check.
    strings[key as keyof ModelOptions] = Array.isArray(value)
      ? value.join(',')
      : typeof value === 'object' && value !== null
        ? Object.entries(value).map(([k, v]) => `${k}=${String(v)}`).join(',')
        : String(value);
  }
  return optionsFromStrings(strings, path);
}

/** A model's options for one run: the flags' over its sidecar's. */
export async function modelOptionsFor(modelPath: string, flags: ModelOptions): Promise<ModelOptions> {
  const sidecar = (await readSidecar(modelPath)) ?? {};
  const merged: ModelOptions = { ...sidecar, ...flags };
  if (sidecar.inputs || flags.inputs) merged.inputs = { ...sidecar.inputs, ...flags.inputs };
  if (sidecar.outputs || flags.outputs) merged.outputs = { ...sidecar.outputs, ...flags.outputs };
  return merged;
}

/** Parses a whole-number flag value that must be at least `min`. */
export function parseIntFlag(text: string | undefined, flag: string, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isInteger(v) || v < min) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--${flag} must be a whole number >= ${min}, got '${text}'`);
  return v;
}

/** Parses a --box X,Y,W,H value (pixels, positive width and height). */
export function parseBoxFlag(text: string): Box {
  const v = text.split(',').map((s) => Number(s.trim()));
  const [x, y, width, height] = v;
  if (v.length !== 4 || !v.every(Number.isFinite) || width <= 0 || height <= 0) {
    throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--box must be x,y,w,h in pixels with w,h > 0, got '${text}'`);
  }
  return { x, y, width, height };
}

export interface LoadedModel {
  /** File name without extension, made unique (`student`, `student#2`) for tables and legends. */
  label: string;
  engine: Engine;
  /** Resident memory the process grew by while the model loaded, in MiB. */
  loadRssMiB: number;
}

/**
 * Loads each `--model` with its sidecar and the run's model-option flags. On a failure the models
 * already loaded are released before the error goes up.
 */
export async function loadModels(paths: readonly string[], values: Record<string, unknown>, threads?: number): Promise<LoadedModel[]> {
  if (paths.length === 0) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'give at least one --model (an .onnx file)');
  const flags = modelOptionsFromFlags(values);
  const models: LoadedModel[] = [];
  try {
    for (const path of paths) {
      const base = basename(path, extname(path));
      const taken = models.filter((m) => m.label === base || m.label.startsWith(`${base}#`)).length;
      const options = { ...(await modelOptionsFor(path, flags)), ...(threads ? { threads } : {}) };
      const rss = process.memoryUsage.rss();
      const engine = await Engine.load(path, options);
      const loadRssMiB = (process.memoryUsage.rss() - rss) / 2 ** 20;
      models.push({ label: taken === 0 ? base : `${base}#${taken + 1}`, engine, loadRssMiB });
    }
  } catch (error) {
    await Promise.all(models.map((m) => m.engine.dispose()));
    throw error;
  }
  return models;
}
