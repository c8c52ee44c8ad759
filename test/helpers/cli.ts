/** Runs a CLI command in-process and captures what it prints to stdout. */
import type { CliCommand } from '../../ts/cli/command.js';

export async function runCommand(command: CliCommand, argv: string[]): Promise<{ code: number; stdout: string }> {
  const out: string[] = [];
  const { log } = console;
  console.log = (...a: unknown[]) => out.push(a.join(' '));
  try {
    return { code: await command.run(argv), stdout: out.join('\n') };
  } finally {
    console.log = log;
  }
}
