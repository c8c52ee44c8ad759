/**
 * Ctrl-C (SIGINT) and SIGTERM for the whole CLI. A command that can stop cleanly (track: stop the
 * source, then finish the annotated video so that it stays playable) registers a stop handler;
 * the command then exits with 130 (SIGINT) or 143 (SIGTERM) once it has wound down. Without one,
 * or on a second signal, the process exits at once with that code (child processes are killed on
 * the way out, see ts/deploy/io/child.ts).
 */
const CODES = { SIGINT: 130, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof CODES;

let stopHandler: ((signal: StopSignal) => void) | undefined;
let received: StopSignal | undefined;

/** The exit code for a signal: 128 + its number. */
export function signalExitCode(signal: StopSignal): number {
  return CODES[signal];
}

/** The signal that asked the command to stop, if one did. */
export function stopSignalReceived(): StopSignal | undefined {
  return received;
}

/** Lets the running command wind down on the first SIGINT/SIGTERM; returns the way to remove it. */
export function onStopSignal(handler: (signal: StopSignal) => void): () => void {
  stopHandler = handler;
  return () => {
    if (stopHandler === handler) stopHandler = undefined;
  };
}

/** Installed once by main. */
export function installSignalHandlers(): void {
  for (const signal of Object.keys(CODES) as StopSignal[]) {
    process.on(signal, () => {
      if (received || !stopHandler) process.exit(CODES[signal]);
      received = signal;
      stopHandler(signal);
    });
  }
}
