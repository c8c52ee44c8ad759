/** A `ct-edge` sub-command: its name, one-line summary, usage text and entry point. */
export interface CliCommand {
  name: string;
  summary: string;
  usage: string;
  /** Returns the process exit code. Throw CtEdgeError for bad input: main prints its message. */
  run(argv: string[]): Promise<number>;
}
