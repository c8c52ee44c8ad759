/** `ct-edge compress`: CompressTracker, from a teacher checkpoint to an N-block student. */
import { parseArgs } from 'node:util';
import { CtEdgeError } from '../../contract/errors.js';
import { DEFAULT_SCHEDULE, type ReplacementSchedule } from '../../train/compress.js';
import { compressTracker } from '../../train/train-tracker.js';
import type { CliCommand } from '../command.js';
import { parseIntFlag } from '../model-options.js';
import { dataSources, lastLossSummary, TRAINING_FLAGS, TRAINING_USAGE, trainingSetup } from '../training-options.js';
import { stoppedRun, trainingProgressBar } from '../training-progress.js';

const usage = `usage: ct-edge compress --teacher teacher.safetensors --blocks N --steps N -o student.safetensors [options]

Compresses a teacher into an N-block student with CompressTracker: stage division, replacement
training with a progressive replacement rate, prediction guidance from the teacher's boxes and
stage-wise feature mimicking. Then \`ct-edge calibrate\` and \`ct-edge export\`. A student trained on
labelled or generated data only gets the box-size calibration (boxes trained on labels come out a
few percent too large); one trained on unlabeled footage learnt the teacher's boxes instead, and
gets its lost threshold matched to the teacher's (\`ct-edge calibrate --lost-from TEACHER --data
FOOTAGE\`).

A real run: the recommended VitTrack student (--blocks 3 --mlp-ratio 1, asymmetric) trains 3,600
steps at batch 16 (docs/TRAINING.md, "Your own video"); losses still falling at the end mean more
steps (--resume --steps extends a run).

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
  --distill dense|boxes   dense (default): the teacher's score, size and offset maps at every cell
                          are targets, and its stem tokens are mimicked; without labels no
                          ground-truth term. boxes: only the teacher's boxes (the paper's objective)
  --attention joint|asymmetric  asymmetric: the student's template tokens attend only to the
                          template, so its template part runs once per init (default: the teacher's)
  --dim N --heads N       a narrower student, N up to the teacher's width (projections bridge the widths during training)
  --mlp-ratio N           a narrower MLP in each student block: hidden units = width x N (default the teacher's ratio)
  --head-channels N       a narrower box head: its towers' widths N, N/2, N/4, N/8 (a multiple of 8; default the teacher's)
  --narrow-start stats|cut  which teacher channels (and MLP units, head channels) a narrower student keeps: stats (default) the
                          ones with the most energy in the teacher's activations on the first
                          training crops; cut the first ones
${TRAINING_USAGE}`;

/** A line every 10 s while the teacher labels footage (minutes on real video), so that the wait is never silent. */
function labellingProgress(): (input: string, done: number, total: number, tracks: number) => void {
  let last = performance.now();
  return (input, done, total, tracks) => {
    if (performance.now() - last < 10_000) return;
    last = performance.now();
    console.error(`ct-edge compress: the teacher is labelling ${input}: ${done}/${total} ${input === 'still images' ? 'images' : 'frames'}, ${tracks} targets kept so far`);
  };
}

export const command: CliCommand = {
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
        distill: { type: 'string', default: 'dense' },
        attention: { type: 'string' },
        heads: { type: 'string' },
        'mlp-ratio': { type: 'string' },
        'head-channels': { type: 'string' },
        'narrow-start': { type: 'string' },
        ...TRAINING_FLAGS,
      },
      strict: true,
    });
    if (!values.teacher) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'name the teacher checkpoint with --teacher FILE');
    if (!values.blocks) throw new CtEdgeError('ERR_INVALID_ARGUMENT', 'give the number of student blocks with --blocks N');
    if (!['last', 'first', 'random'].includes(values.init!)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--init must be last, first or random, got '${values.init}'`);
    if (values.distill !== 'dense' && values.distill !== 'boxes') throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--distill must be dense or boxes, got '${values.distill}'`);
    const narrowStart = values['narrow-start'];
    if (narrowStart !== undefined && narrowStart !== 'stats' && narrowStart !== 'cut') {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--narrow-start must be stats or cut, got '${narrowStart}'`);
    }
    if (values['narrow-start'] !== undefined && values.dim === undefined && values['mlp-ratio'] === undefined && values['head-channels'] === undefined) {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', '--narrow-start goes with --dim, --mlp-ratio or --head-channels (a student narrower than its teacher)');
    }
    if (values.attention !== undefined && values.attention !== 'joint' && values.attention !== 'asymmetric') {
      throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--attention must be joint or asymmetric, got '${values.attention}'`);
    }
    const setup = trainingSetup(values, 'compress');
    const sources = await dataSources(values.data, undefined);
    if (sources) setup.data.sources = sources;
    const rate = (text: string, flag: string) => {
      const v = Number(text);
      if (!(v >= 0 && v <= 1)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `--${flag} must be in [0, 1], got '${text}'`);
      return v;
    };
    const schedule: ReplacementSchedule = values['constant-p'] !== undefined
      ? { kind: 'constant', p: rate(values['constant-p'], 'constant-p') }
      : { ...DEFAULT_SCHEDULE, ...(values['p-init'] !== undefined && { pInit: rate(values['p-init'], 'p-init') }) };
    const compress = {
      studentBlocks: parseIntFlag(values.blocks, 'blocks', 1),
      stages: values.stages?.split(',').map((s) => parseIntFlag(s, 'stages', 1)),
      init: values.init as 'last' | 'first' | 'random',
      schedule,
      replacement: !values['no-replacement'],
      guidance: !values['no-guidance'],
      mimic: !values['no-mimic'],
      distill: values.distill as 'dense' | 'boxes',
      attention: values.attention as 'joint' | 'asymmetric' | undefined,
      studentDim: values.dim ? parseIntFlag(values.dim, 'dim', 1) : undefined,
      studentHeads: values.heads ? parseIntFlag(values.heads, 'heads', 1) : undefined,
      studentMlpRatio: values['mlp-ratio'] ? parseIntFlag(values['mlp-ratio'], 'mlp-ratio', 1) : undefined,
      studentHeadChannels: values['head-channels'] ? parseIntFlag(values['head-channels'], 'head-channels', 8) : undefined,
      ...(narrowStart !== undefined && { narrowStart: narrowStart as 'stats' | 'cut' }),
    };
    const bar = trainingProgressBar('compress');
    let result;
    try {
      result = await compressTracker({
        ...setup,
        teacher: values.teacher,
        compress,
        onStart: ({ backend, workers }) => {
          const threads = workers > 1 ? ` on ${workers} worker threads` : '';
          console.error(`ct-edge compress: TensorFlow.js backend ${backend}${threads}; student of ${compress.studentBlocks} blocks`);
        },
        onFootage: (video, tracks) => console.error(`ct-edge compress: the teacher followed ${tracks} targets through ${video}`),
        onLabelling: labellingProgress(),
        onProgress: bar.onProgress,
        stopRequested: bar.stopRequested,
      });
    } catch (error) {
      const code = stoppedRun(error, 'compress');
      if (code !== undefined) return code;
      throw error;
    } finally {
      bar.stop();
    }
    // Unlabeled data: the student learnt the teacher's boxes, which carry no box-size bias to calibrate away.
    const unlabeled = sources?.some((s) => s.kind === 'footage');
    const next = unlabeled
      ? `ct-edge calibrate ${result.output} --lost-from ${values.teacher} --data FOOTAGE -o CALIBRATED.safetensors (its lost threshold, on the footage it trained on), then ct-edge export`
      : `ct-edge calibrate ${result.output} -o CALIBRATED.safetensors, then ct-edge export`;
    console.log(`wrote ${result.output}: ${result.config.depth}-block student, stages [${result.stages.map((s) => s.end - s.start).join(',')}] (${lastLossSummary(result.log)}); next: ${next}`);
    return 0;
  },
};
