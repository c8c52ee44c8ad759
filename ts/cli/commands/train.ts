/** `ct-edge train`: trains a tracker (a teacher) from scratch on generated clips. */
import { parseArgs } from 'node:util';
import { readCheckpoint, writeCheckpoint } from '../../train/checkpoint/checkpoint.js';
import { initBackend } from '../../train/model/backend.js';
import { netConfig, PRESETS, type PresetName } from '../../train/model/config.js';
import { TrackerNet } from '../../train/model/network.js';
import { CtEdgeError } from '../../contract/errors.js';
import { syntheticPairs } from '../../train/data-source.js';
import { trainLoop } from '../../train/loop.js';
import { teacherObjective } from '../../train/objectives.js';
import { parallelObjective } from '../../train/parallel.js';
import type { CliCommand } from '../command.js';
import { parseIntFlag } from '../model-options.js';
import { TRAINING_FLAGS, TRAINING_USAGE, trainingSetup, trainingWorkers } from '../training-options.js';

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
  name: 'train',
  summary: 'train a tracker (teacher) on generated clips',
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { preset: { type: 'string', default: 'tiny' }, depth: { type: 'string' }, width: { type: 'string' }, heads: { type: 'string' }, 'head-channels': { type: 'string' }, init: { type: 'string' }, ...TRAINING_FLAGS },
      strict: true,
    });
    const setup = trainingSetup(values, 'train', 5e-4);
    if (!(values.preset! in PRESETS)) throw new CtEdgeError('ERR_INVALID_ARGUMENT', `unknown --preset '${values.preset}'; presets are ${Object.keys(PRESETS).join(', ')}`);
    const start = values.init ? await readCheckpoint(values.init) : undefined;
    const overrides = {
      ...(values.depth && { depth: parseIntFlag(values.depth, 'depth', 1) }),
      ...(values.width && { dim: parseIntFlag(values.width, 'width', 1) }),
      ...(values.heads && { heads: parseIntFlag(values.heads, 'heads', 1) }),
      ...(values['head-channels'] && { headChannels: parseIntFlag(values['head-channels'], 'head-channels', 8) }),
    };
    const config = start?.config ?? netConfig(values.preset as PresetName, overrides);
    const backend = await initBackend();
    const workers = trainingWorkers(values.workers, backend, setup.batchSize);
    const threads = workers > 1 ? ` on ${workers} worker threads` : '';
    console.error(`ct-edge train: TensorFlow.js backend ${backend}${threads}; ${config.depth} blocks of width ${config.dim}${start ? `, starting from ${values.init}` : ''}`);
    const net = start ? TrackerNet.fromWeights(config, start.weights, values.init!) : TrackerNet.random(config, setup.seed);
    const data = { seed: setup.seed, clip: setup.clip, mix: setup.mix };
    const local = teacherObjective(net, syntheticPairs(config, data), setup.batchSize, values.init);
    const parallel = workers > 1 ? await parallelObjective(local, { kind: 'teacher', config, batchSize: setup.batchSize }, { data, workers, backend }) : undefined;
    try {
      const log = await trainLoop(parallel ?? local, setup.loop);
      await writeCheckpoint(setup.output, { config, weights: net.weights() });
      const last = log.slice(-Math.min(20, log.length));
      const mean = last.reduce((a, e) => a + e.losses.total, 0) / last.length;
      console.log(`wrote ${setup.output} (mean loss of the last ${last.length} steps ${mean.toFixed(4)}); log ${setup.loop.logPath}, curves ${setup.loop.plotPath}; next: ct-edge calibrate ${setup.output} -o CALIBRATED.safetensors`);
    } finally {
      await parallel?.dispose();
      local.dispose();
      net.dispose();
    }
    return 0;
  },
};
