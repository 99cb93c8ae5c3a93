/** `loopstream replay FILE`: replay an HDF5 scan file (own, NSID or USID SHO fit) as a live scan and summarise it. */
import type { Command } from 'commander';
import { parsePace } from '../../sources/hdf5/index.ts';
import { summarizeReplayFile } from '../../sources/hdf5/replay-summary.ts';
import { configFromOptions, loggerFor, withConfigOptions } from '../common.ts';

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('replay')
      .description('replay an HDF5 scan file (loopstream scan file, NSID loops, USID SHO fit) as a live scan')
      .argument('<file>', 'HDF5 file to replay')
      .option('--pace <pace>', 'max, realtime, xN (N times real time) or Npxps (overrides replay.pace)')
      .option('--scan-id <id>', 'replay under this scan id')
      .option('--summary-json', 'print the summary as one JSON object on the last stdout line'),
  ).action(async (file: string, opts) => {
    const config = configFromOptions(opts, { 'replay.pace': opts.pace });
    const log = loggerFor(config);
    const pace = parsePace(config.replay.pace);
    const summary = await summarizeReplayFile(file, { pace, ...(opts.scanId ? { scanId: opts.scanId } : {}) });
    log.info(summary, 'replay finished');
    if (opts.summaryJson) {
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    } else {
      process.stdout.write(
        `${summary.file}: ${summary.layout} ${summary.kind} ${summary.rows}x${summary.cols}, ${summary.pixels} pixels, ${summary.missing} missing, ` +
          `${summary.seconds.toFixed(3)} s (${Math.round(summary.pxPerSec)} px/s), stop ${summary.stopStatus}\n`,
      );
    }
  });
}
