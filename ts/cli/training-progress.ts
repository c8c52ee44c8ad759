/**
 * The progress of `ct-edge train` and `ct-edge compress`, fed by the loop's progress callback, and
 * their Ctrl-C: the first SIGINT or SIGTERM lets the running step finish, writes a resume
 * checkpoint and exits 130 or 143 with the step it stopped at (a second one exits at once).
 */
import cliProgress from 'cli-progress';
import type { CtEdgeError } from '../contract/errors.js';
import type { TrainProgress } from '../train/loop.js';
import { onStopSignal, signalExitCode, stopSignalReceived } from './signals.js';

/** A bar on stderr (a line every 10 s when stderr is no terminal); call stop() when the run ends. */
export function trainingProgressBar(label: string): { onProgress: (p: TrainProgress) => void; stopRequested: () => boolean; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} {bar} {value}/{total} | loss {loss} | {msPerStep} ms/step | ETA {eta_formatted}`,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
      etaBuffer: 50,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let stopping = false;
  const removeStopHandler = onStopSignal(() => {
    stopping = true;
    console.error(`\nct-edge ${label}: stopping after this step (a resume checkpoint follows); a second Ctrl-C stops at once`);
  });
  return {
    onProgress({ step, steps, entry }) {
      if (!started) {
        if (step > 0) console.error(`ct-edge ${label}: resuming from step ${step} of ${steps}`);
        bar.start(steps, step, { loss: '-', msPerStep: '-' });
        started = true;
      } else {
        bar.update(step, { loss: entry?.losses.total.toFixed(4) ?? '-', msPerStep: entry?.ms.toFixed(0) ?? '-' });
      }
    },
    stopRequested: () => stopping,
    stop: () => {
      bar.stop();
      removeStopHandler();
    },
  };
}

/** The exit code of a run the loop stopped on a signal (its message printed), or undefined for any other error. */
export function stoppedRun(error: unknown, label: string): number | undefined {
  if ((error as CtEdgeError)?.code !== 'ERR_STOPPED') return undefined;
  console.error(`ct-edge ${label}: ${(error as Error).message}`);
  return signalExitCode(stopSignalReceived() ?? 'SIGINT');
}
