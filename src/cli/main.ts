/**
 * `loopstream` command line: parse, load config, call one exported function, map a typed error to an exit code.
 * Each subcommand lives in src/cli/commands/<name>.ts and exports `register(program)`.
 */
import { Command, CommanderError } from 'commander';
import { COMMANDS } from './commands/index.ts';
import { exitCodeOf } from './errors.ts';

/** Build the program with every working subcommand registered. */
export function buildProgram(): Command {
  const program = new Command('loopstream')
    .description('Streaming edge daemon for live BEPS microscopy: LSTM beta-VAE embeddings, live maps and alerts')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  for (const register of COMMANDS) register(program);
  return program;
}

/** Run the CLI on `argv` (process.argv form). */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    const e = err as Error & { code?: string };
    process.stderr.write(`loopstream: ${e.code ? `[${e.code}] ` : ''}${e.message}\n`);
    if (process.env.LOOPSTREAM_DEBUG) process.stderr.write(`${e.stack}\n`);
    process.exitCode = exitCodeOf(err);
  }
}
