/**
 * Runs `loopstream serve` exactly as src/cli/commands/serve.ts registers it, for as long as the command is not yet
 * listed in src/cli/commands/index.ts (daemon-process.ts prefers bin/loopstream.js once it is).
 */
import { Command } from 'commander';
import { register } from '../../../src/cli/commands/serve.ts';

const program = new Command('loopstream');
register(program);
await program.parseAsync(process.argv);
