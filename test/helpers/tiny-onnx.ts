/**
 * A tracker-shaped ONNX model without a network: the template and search inputs go unused and the
 * three head outputs are constants (a score peak in the middle). Its outputs can be given other
 * shapes than the contract's (declared and real alike: onnxruntime infers a constant's shape), to
 * test the checks at load.
 */
import { ModelProto, OnnxDataType } from '../../ts/contract/onnx-schema.js';

export interface TinyModelOptions {
  templateSize?: number;
  searchSize?: number;
  featureSize?: number;
  /** Shapes per output (default the contract's); strings are declared symbolic dimensions (the value then has the contract's size). */
  declared?: Partial<Record<'score_map' | 'size_map' | 'offset_map', (number | string)[]>>;
}

export function tinyTrackerOnnx(options: TinyModelOptions = {}): Uint8Array {
  const { templateSize = 32, searchSize = 64, featureSize = 4 } = options;
  const F = featureSize;
  const dims = (shape: (number | string)[]) => ({ dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) });
  const info = (name: string, shape: (number | string)[]) => ({ name, type: { tensorType: { elemType: OnnxDataType.FLOAT, shape: dims(shape) } } });
  const centre = Math.floor(F / 2) * F + Math.floor(F / 2);
  const real = { score_map: [1, 1, F, F], size_map: [1, 2, F, F], offset_map: [1, 2, F, F] };
  const declared = { ...real, ...options.declared };
  const constant = (name: keyof typeof real, value: (i: number) => number) => {
    const dims = declared[name].map((d, i) => (typeof d === 'number' ? d : real[name][i]));
    const length = dims.reduce((a, b) => a * b, 1);
    return { opType: 'Constant', output: [name], name, attribute: [{ name: 'value', type: 4, t: { dims, dataType: OnnxDataType.FLOAT, floatData: Array.from({ length }, (_, i) => value(i)) } }] };
  };
  const model = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'ct-edge tests',
    graph: {
      name: 'tiny',
      node: [constant('score_map', (i) => (i === centre ? 0.9 : 0.1)), constant('size_map', () => 0.25), constant('offset_map', () => 0.5)],
      input: [info('template', [1, 3, templateSize, templateSize]), info('search', [1, 3, searchSize, searchSize])],
      output: [info('score_map', declared.score_map), info('size_map', declared.size_map), info('offset_map', declared.offset_map)],
    },
  };
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}
