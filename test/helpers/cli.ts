import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { CliCommand } from '../../ts/cli/command.js';
import { repoRoot } from './data.js';

const main = join(repoRoot, 'ts', 'cli', 'main.ts');

/** Runs `ct-edge ARGS` as a child process (as a user would) and collects its output. */
export function cli(args: string[], cwd = repoRoot): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], { cwd, env: { ...process.env, CT_EDGE_DEBUG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs a CLI command in-process and captures what it prints to stdout. */
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
