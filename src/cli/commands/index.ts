/** Every subcommand of `loopstream`, in the order `--help` lists them; only commands that work are listed. */
import type { Command } from 'commander';
import { register as alertsEval } from './alerts-eval.ts';
import { register as demo } from './demo.ts';
import { register as exportOnnx } from './export.ts';
import { register as facility } from './facility.ts';
import { register as models } from './models.ts';
import { register as replay } from './replay.ts';
import { register as reprocess } from './reprocess.ts';
import { register as scans } from './scans.ts';
import { register as serve } from './serve.ts';
import { register as simCorpus } from './sim-corpus.ts';
import { register as simulate } from './simulate.ts';
import { register as train } from './train.ts';
import { register as validate } from './validate.ts';
import { register as worker } from './worker.ts';

export const COMMANDS: Array<(program: Command) => void> = [serve, demo, replay, simulate, simCorpus, train, exportOnnx, validate, alertsEval, models, scans, reprocess, worker, facility];
