/** `ct-edge train`: trains a tracker (a teacher) from scratch on generated clips. */
import { parseArgs } from 'node:util';
import { CtEdgeError } from '../../contract/errors.js';
import { netConfig, PRESETS, type PresetName } from '../../train/model/config.js';
import { trainTracker } from '../../train/train-tracker.js';
import type { CliCommand } from '../command.js';
import { parseIntFlag } from '../model-options.js';
import { dataSources, lastLossSummary, TRAINING_FLAGS, TRAINING_USAGE, trainingSetup } from '../training-options.js';
import { stoppedRun, trainingProgressBar } from '../training-progress.js';

const usage = `usage: ct-edge train --preset NAME --steps N -o teacher.safetensors [options]

Trains an OSTrack-style tracker from scratch with OSTrack's losses (2 GIoU + 5 L1 + focal) on
generated tracking clips (ct-edge generate shows what they look like). Then \`ct-edge calibrate\` the
result (boxes trained this way come out a few percent too large) and \`ct-edge export\` it.

Options:
  --preset NAME           network geometry: ${Object.keys(PRESETS).join(', ')} (default tiny)
  --depth N               override the preset's number of blocks
  --width N               override the preset's token width (ViT embedding dimension)
  --heads N               override the preset's attention heads (must divide the width)
  --head-channels N       override the width of the box head's towers (multiple of 8)
  --init FILE             start from this checkpoint's weights (its network config wins over
                          the size flags), e.g. to continue with a new schedule
${TRAINING_USAGE}`;

export const command: CliCommand = {
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { preset: { type: 'string', default: 'tiny' }, depth: { type: 'string' }, width: { type: 'string' }, heads: { type: 'string' }, 'head-channels': { type: 'string' }, init: { type: 'string' }, ...TRAINING_FLAGS },
      strict: true,
    });
    const setup = trainingSetup(values, 'train');
    const sources = await dataSources(values.data, 'train');
    if (sources) setup.data.sources = sources;
    if (!(values.preset! in PRESETS)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `unknown --preset '${values.preset}'; presets are ${Object.keys(PRESETS).join(', ')}`);
    const overrides = {
      ...(values.depth && { depth: parseIntFlag(values.depth, 'depth', 1) }),
      ...(values.width && { dim: parseIntFlag(values.width, 'width', 1) }),
      ...(values.heads && { heads: parseIntFlag(values.heads, 'heads', 1) }),
      ...(values['head-channels'] && { headChannels: parseIntFlag(values['head-channels'], 'head-channels', 8) }),
    };
    const config = values.init ? undefined : netConfig(values.preset as PresetName, overrides);
    const bar = trainingProgressBar('train');
    let result;
    try {
      result = await trainTracker({
        ...setup,
        config,
        init: values.init,
        onStart: ({ backend, workers }) => {
          const threads = workers > 1 ? ` on ${workers} worker threads` : '';
          const net = config ? `${config.depth} blocks of width ${config.dim}` : `starting from ${values.init}`;
          console.error(`ct-edge train: TensorFlow.js backend ${backend}${threads}; ${net}`);
        },
        onProgress: bar.onProgress,
        stopRequested: bar.stopRequested,
      });
    } catch (error) {
      const code = stoppedRun(error, 'train');
      if (code !== undefined) return code;
      throw error;
    } finally {
      bar.stop();
    }
    console.log(`wrote ${result.output} (${lastLossSummary(result.log)}); log and curves beside it; next: ct-edge calibrate ${result.output} -o CALIBRATED.safetensors`);
    return 0;
  },
};
