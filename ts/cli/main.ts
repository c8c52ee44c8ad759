#!/usr/bin/env node
/** `ct-edge <command> [options]`: dispatches to the commands in ./commands. */
import { CtEdgeError } from '../contract/errors.js';
import type { CliCommand } from './command.js';
import { command as benchCommand } from './commands/bench.js';
import { command as buildEngineCommand } from './commands/build-engine.js';
import { command as calibrateCommand } from './commands/calibrate.js';
import { command as compressCommand } from './commands/compress.js';
import { command as demoCommand } from './commands/demo.js';
import { command as doctorCommand } from './commands/doctor.js';
import { command as evalCommand } from './commands/eval.js';
import { command as exportCommand } from './commands/export.js';
import { command as generateCommand } from './commands/generate.js';
import { command as inspectCommand } from './commands/inspect.js';
import { command as trackCommand } from './commands/track.js';
import { command as trainCommand } from './commands/train.js';

const commands: CliCommand[] = [demoCommand, trackCommand, trainCommand, compressCommand, calibrateCommand, generateCommand, exportCommand, inspectCommand, evalCommand, benchCommand, buildEngineCommand, doctorCommand];

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: ct-edge <command> [options]',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `ct-edge <command> --help` for a command\'s options.',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? 0 : 1;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`ct-edge: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  return command.run(rest);
}

// `ct-edge eval ... | head`: a reader that stops early is no error. Drop the rest of stdout and let
// the command finish, so that the files it writes are still written.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof CtEdgeError) {
      console.error(`ct-edge: ${error.message} [${error.code}]`);
      process.exitCode = 1;
    } else if ((error as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`ct-edge: ${(error as Error).message} (see --help)`);
      process.exitCode = 2;
    } else {
      console.error(error);
      process.exitCode = 70;
    }
  },
);
