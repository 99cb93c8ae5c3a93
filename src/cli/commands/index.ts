/** Every subcommand of `loopstream`; only commands that work are listed. Add one line per new command file. */
import type { Command } from 'commander';
import { register as alertsEval } from './alerts-eval.ts';
import { register as replay } from './replay.ts';
import { register as simulate } from './simulate.ts';
import { register as train } from './train.ts';

export const COMMANDS: Array<(program: Command) => void> = [simulate, replay, train, alertsEval];
