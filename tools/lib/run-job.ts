/**
 * A study job in a child process of its own (tools/lib/jobs.ts runs them side by side, one core
 * each): `node --import tsx tools/lib/run-job.ts '<JobTask as JSON>' [--resume]`. It calls the
 * `ct-edge/train` library functions; progress lines go to stdout, which the pool sends to the job's log.
 */
import { pathToFileURL } from 'node:url';
import { readCheckpoint } from '../../ts/train/checkpoint/checkpoint.js';
import { calibrateCheckpoint, compressTracker, writeTrackerOnnx, type CalibrateCheckpointOptions, type CompressTrackerOptions } from '../../ts/train/index.js';

export type JobTask =
  | { verb: 'compress'; options: Omit<CompressTrackerOptions, 'onStart' | 'onProgress' | 'resume'> }
  | { verb: 'calibrate'; input: string; output: string; options: CalibrateCheckpointOptions }
  | { verb: 'export'; checkpoint: string; onnx: string };

/** One progress line per this many steps. */
const LOG_EVERY = 50;

export async function runTask(task: JobTask, resume: boolean): Promise<void> {
  switch (task.verb) {
    case 'compress': {
      const r = await compressTracker({
        ...task.options,
        resume,
        onStart: ({ backend, workers }) => console.log(`compress: backend ${backend}, ${workers} worker(s)`),
        onProgress: ({ step, steps, entry }) => {
          if (entry && (step % LOG_EVERY === 0 || step === steps)) console.log(`step ${step}/${steps} loss ${entry.losses.total.toFixed(4)} ${entry.ms.toFixed(0)} ms`);
        },
      });
      console.log(`wrote ${r.output}: stages [${r.stages.map((s) => s.end - s.start).join(',')}]`);
      return;
    }
    case 'calibrate': {
      const r = await calibrateCheckpoint(task.input, task.output, task.options);
      console.log(`wrote ${task.output}: size logits shifted by ${r.shift.map((d) => d.toFixed(4)).join(', ')} (${r.measured} of ${r.pairs} pairs)`);
      return;
    }
    case 'export': {
      const { config, weights } = await readCheckpoint(task.checkpoint);
      await writeTrackerOnnx(task.onnx, config, weights);
      console.log(`wrote ${task.onnx}`);
      return;
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runTask(JSON.parse(process.argv[2]) as JobTask, process.argv.includes('--resume'));
}
