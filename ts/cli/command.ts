/** A `ct-edge` sub-command module: its usage text and entry point (ts/cli/main.ts names them). */
export interface CliCommand {
  usage: string;
  /** Returns the process exit code. Throw CtEdgeError for bad input: main prints its message. */
  run(argv: string[]): Promise<number>;
}
