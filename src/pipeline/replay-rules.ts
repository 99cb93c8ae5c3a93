/**
 * What every replay in the daemon shares (the CLI, the dashboard's replays, resumed recordings): the live ingest
 * bounds (`ingest.maxScanPixels`), the realtime pacing cap (`replay.maxGapSeconds`), and how refusals, warnings and
 * skipped timestamp gaps are logged — refusals with their code, rate-limited like live ingest's, so a file of a
 * million bad rows cannot flood the log.
 */
import type { Config } from '../config/schema.ts';
import type { ReplayOptions } from '../sources/hdf5/index.ts';
import type { Logger } from '../util/log.ts';

/** Refusals logged one by one per replay; the rest are only counted (and reported in the summary). */
const REJECT_LOG_LIMIT = 20;

/** The options of ReplayOptions that config and the log decide; `count` also sees every refusal's code. */
export function replayRules(config: Config, log: Logger, count?: (code: string) => void): Pick<ReplayOptions, 'maxGapSeconds' | 'maxScanPixels' | 'onReject' | 'onWarning' | 'onPaceSkip'> {
  let logged = 0;
  let skips = 0;
  return {
    maxGapSeconds: config.replay.maxGapSeconds,
    maxScanPixels: config.ingest.maxScanPixels,
    onReject: (r) => {
      count?.(r.code);
      if (logged++ < REJECT_LOG_LIMIT) log.warn({ code: r.code, ...r.at }, `replay: ${r.message}`);
      else if (logged === REJECT_LOG_LIMIT + 1) log.warn({ code: r.code }, `replay: more than ${REJECT_LOG_LIMIT} refusals; the rest are counted in the summary, not logged`);
    },
    onWarning: (w) => log.warn({ code: w.code, ...w.at }, w.message),
    onPaceSkip: (gap, seq) => {
      if (skips++ < REJECT_LOG_LIMIT) log.warn({ seq, gapSeconds: gap, maxGapSeconds: config.replay.maxGapSeconds }, `replay: timestamps jump ${gap} s before seq ${seq}; waited ${config.replay.maxGapSeconds} s (replay.maxGapSeconds) instead`);
    },
  };
}
