/** Every subcommand of `loopstream`; only commands that work are listed. Add one line per new command file. */
import type { Command } from 'commander';

export const COMMANDS: Array<(program: Command) => void> = [];
