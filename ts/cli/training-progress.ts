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
      format: `${label} {bar} {value}/{total} | loss {loss} | {msPerStep} ms/step | ETA {remaining}`,
      noTTYOutput: true,
      notTTYSchedule: 10_000,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let stopping = false;
  // The ETA comes from the steps this process ran (a resumed run's first step says nothing of the
  // ones before), and shows '-' until a few steps are timed.
  const recent: number[] = [];
  const removeStopHandler = onStopSignal(() => {
    stopping = true;
    console.error(`\nct-edge ${label}: stopping after this step (a resume checkpoint follows; while the teacher labels footage, at its next start); a second Ctrl-C stops at once`);
  });
  return {
    onProgress({ step, steps, entry }) {
      if (!started) {
        if (step > 0) console.error(`ct-edge ${label}: resuming from step ${step} of ${steps}`);
        bar.start(steps, step, { loss: '-', msPerStep: '-', remaining: '-' });
        started = true;
      } else {
        if (entry) recent.push(entry.ms);
        if (recent.length > 50) recent.shift();
        const remaining = recent.length < 3 ? '-' : formatDuration(((steps - step) * recent.reduce((a, b) => a + b, 0)) / recent.length / 1000);
        bar.update(step, { loss: entry?.losses.total.toFixed(4) ?? '-', msPerStep: entry?.ms.toFixed(0) ?? '-', remaining });
      }
    },
    stopRequested: () => stopping,
    stop: () => {
      bar.stop();
      removeStopHandler();
    },
  };
}

/** 95 s -> '1m35s', 7300 s -> '2h02m'. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The exit code of a run the loop stopped on a signal (its message printed), or undefined for any other error. */
export function stoppedRun(error: unknown, label: string): number | undefined {
  if ((error as CtEdgeError)?.code !== 'ERR_STOPPED') return undefined;
  console.error(`ct-edge ${label}: ${(error as Error).message}`);
  return signalExitCode(stopSignalReceived() ?? 'SIGINT');
}
