/** `ct-edge compress`: CompressTracker, from a teacher checkpoint to an N-block student. */
import { parseArgs } from 'node:util';
import { readCheckpoint, writeCheckpoint } from '../../train/checkpoint/checkpoint.js';
import { initBackend } from '../../train/model/backend.js';
import { TrackerNet } from '../../train/model/network.js';
import { CtEdgeError } from '../../contract/errors.js';
import { compressionObjective, type CompressOptions, type ReplacementSchedule } from '../../train/compress.js';
import { syntheticPairs } from '../../train/data-source.js';
import { trainLoop } from '../../train/loop.js';
import { parallelObjective } from '../../train/parallel.js';
import type { CliCommand } from '../command.js';
import { parseIntFlag } from '../model-options.js';
import { TRAINING_FLAGS, TRAINING_USAGE, trainingSetup, trainingWorkers } from '../training-options.js';

const usage = `usage: ct-edge compress --teacher teacher.safetensors --blocks N --steps N -o student.safetensors [options]

Compresses a teacher into an N-block student with CompressTracker: stage division, replacement
training with a progressive replacement rate, prediction guidance from the teacher's boxes and
stage-wise feature mimicking. Then
\`ct-edge calibrate student.safetensors -o student.calibrated.safetensors\` and
\`ct-edge export student.calibrated.safetensors -o student.onnx\`.

Options:
  --teacher FILE          the teacher checkpoint (frozen; never modified)
  --blocks N              student blocks, one per stage
  --stages A,B,...        explicit stage sizes (default: even, teacher depth / N each)
  --init last|first|random  teacher block each student block starts from (default last)
  --p-init X              replacement rate at the start (default 0.5); warm-up and final phases 10%
  --constant-p X          fixed replacement rate instead of the progressive schedule (ablation)
  --no-replacement        train the student alone (ground truth and the enabled teacher terms)
  --no-guidance           drop the box loss against the teacher's boxes
  --no-mimic              drop stage-wise feature mimicking
  --dim N --heads N       a narrower student (projections bridge the widths during training)
${TRAINING_USAGE}`;

export const command: CliCommand = {
  name: 'compress',
  summary: 'compress a teacher into an N-block student (CompressTracker)',
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        teacher: { type: 'string' },
        blocks: { type: 'string' },
        stages: { type: 'string' },
        init: { type: 'string', default: 'last' },
        'p-init': { type: 'string' },
        'constant-p': { type: 'string' },
        'no-replacement': { type: 'boolean', default: false },
        'no-guidance': { type: 'boolean', default: false },
        'no-mimic': { type: 'boolean', default: false },
        dim: { type: 'string' },
        heads: { type: 'string' },
        ...TRAINING_FLAGS,
      },
      strict: true,
    });
    if (!values.teacher) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'name the teacher checkpoint with --teacher FILE');
    if (!values.blocks) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'give the number of student blocks with --blocks N');
    if (!['last', 'first', 'random'].includes(values.init!)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--init must be last, first or random, got '${values.init}'`);
    const setup = trainingSetup(values, 'compress', 2e-4);
    const rate = (text: string, flag: string) => {
      const v = Number(text);
      if (!(v >= 0 && v <= 1)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--${flag} must be in [0, 1], got '${text}'`);
      return v;
    };
    const schedule: ReplacementSchedule = values['constant-p'] !== undefined
      ? { kind: 'constant', p: rate(values['constant-p'], 'constant-p') }
      : { kind: 'progressive', pInit: values['p-init'] !== undefined ? rate(values['p-init'], 'p-init') : 0.5, a1: 0.1, a2: 0.1 };
    const options: CompressOptions = {
      studentBlocks: parseIntFlag(values.blocks, 'blocks', 1),
      stages: values.stages?.split(',').map((s) => parseIntFlag(s, 'stages', 1)),
      init: values.init as CompressOptions['init'],
      schedule,
      replacement: !values['no-replacement'],
      guidance: !values['no-guidance'],
      mimic: !values['no-mimic'],
      studentDim: values.dim ? parseIntFlag(values.dim, 'dim', 1) : undefined,
      studentHeads: values.heads ? parseIntFlag(values.heads, 'heads', 1) : undefined,
      batchSize: setup.batchSize,
      steps: setup.loop.steps,
      seed: setup.seed,
    };
    const backend = await initBackend();
    const workers = trainingWorkers(values.workers, backend, setup.batchSize);
    const { config, weights } = await readCheckpoint(values.teacher);
    const teacher = TrackerNet.fromWeights(config, weights, values.teacher);
    const threads = workers > 1 ? ` on ${workers} worker threads` : '';
    console.error(`ct-edge compress: TensorFlow.js backend ${backend}${threads}; teacher ${config.depth} blocks -> student ${options.studentBlocks}`);
    const data = { seed: setup.seed, clip: setup.clip, mix: setup.mix };
    const local = compressionObjective(teacher, syntheticPairs(config, data), options);
    const recipe = { kind: 'compress', teacher: { config, weights, source: values.teacher }, options } as const;
    const parallel = workers > 1 ? await parallelObjective(local, recipe, { data, workers, backend }) : undefined;
    try {
      const log = await trainLoop(parallel ?? local, setup.loop);
      await writeCheckpoint(setup.output, { config: local.student.config, weights: local.student.weights() });
      const last = log.slice(-Math.min(20, log.length));
      const mean = last.reduce((a, e) => a + e.losses.total, 0) / last.length;
      console.log(`wrote ${setup.output}: ${local.student.config.depth}-block student, stages [${local.stages.map((s) => s.end - s.start).join(',')}] (mean loss of the last ${last.length} steps ${mean.toFixed(4)}); next: ct-edge calibrate ${setup.output} -o CALIBRATED.safetensors`);
    } finally {
      await parallel?.dispose();
      local.dispose();
      teacher.dispose();
    }
    return 0;
  },
};
