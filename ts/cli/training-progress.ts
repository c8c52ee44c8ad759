/** The progress bar of `ct-edge train` and `ct-edge compress`, fed by the loop's progress callback. */
import cliProgress from 'cli-progress';
import type { TrainProgress } from '../train/loop.js';

/** A bar on stderr (a line every 10 s when stderr is no terminal); call stop() when the run ends. */
export function trainingProgressBar(label: string): { onProgress: (p: TrainProgress) => void; stop: () => void } {
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
  return {
    onProgress({ step, steps, entry }) {
      if (!started) {
        bar.start(steps, step, { loss: '-', msPerStep: '-' });
        started = true;
      } else {
        bar.update(step, { loss: entry?.losses.total.toFixed(4) ?? '-', msPerStep: entry?.ms.toFixed(0) ?? '-' });
      }
    },
    stop: () => bar.stop(),
  };
}
