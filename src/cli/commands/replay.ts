/**
 * `loopstream replay FILE`: replay an HDF5 scan file (own recording, NSID loops, USID SHO fit) through the full
 * pipeline — the same graph a live scan takes — and summarise it (with `--ingest-only`, just the source).
 */
import type { Command } from 'commander';
import { configFromOptions, loggerFor, withConfigOptions } from '../common.ts';
import { untilSignal } from './serve.ts';

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('replay')
      .description('replay an HDF5 scan file (loopstream scan file, NSID loops, USID SHO fit) through the pipeline as a live scan')
      .argument('<file>', 'HDF5 file to replay')
      .option('--pace <pace>', 'max, realtime, xN (N times real time) or Npxps (overrides replay.pace)')
      .option('--scan-id <id>', 'replay under this scan id')
      .option('--bundle <dir>', 'model bundle (overrides model.bundle)')
      .option('--data <dir>', 'folder for the results file (overrides data.dir)')
      .option('--summary-json', 'print the summary as one JSON object on the last stdout line')
      .option('--ingest-only', 'only read and pace the file (no model): counts pixels and missing')
      .option('--dashboard', 'serve the dashboard while replaying (URL on stderr)')
      .option('--keep-serving', 'with --dashboard: keep serving after the replay until Ctrl-C')
      .option('--finetune', 'fine-tune in the background while replaying; the summary adds modelVersions, errorBeforeFinetune, errorAfterFinetune'),
  ).action(async (file: string, opts) => {
    const config = configFromOptions(opts, { 'replay.pace': opts.pace, 'model.bundle': opts.bundle, 'data.dir': opts.data });
    const log = loggerFor(config);
    // heavy modules (onnxruntime, h5wasm) load only when the command runs: `--help` stays fast
    const { parsePace } = await import('../../sources/hdf5/index.ts');
    const pace = parsePace(config.replay.pace);
    const scanId = opts.scanId ? { scanId: opts.scanId as string } : {};
    let summary: { file: string; layout: string; kind: string | null; rows: number; cols: number; pixels: number; missing: number; seconds: number; pxPerSec: number; stopStatus: string | null; refused: number; refusedByCode: Record<string, number> };
    let modelText = '';
    if (opts.ingestOnly) {
      const { summarizeReplayFile } = await import('../../sources/hdf5/replay-summary.ts');
      const { replayRules } = await import('../../pipeline/replay-rules.ts');
      summary = await summarizeReplayFile(file, { pace, ...scanId, ...replayRules(config, log) });
    } else {
      const { replayThroughPipeline } = await import('../../app/replay-run.ts');
      const s = await replayThroughPipeline(config, log, file, {
        pace,
        ...scanId,
        dashboard: Boolean(opts.dashboard),
        finetune: Boolean(opts.finetune),
        ...(opts.keepServing ? { keepServing: untilSignal } : {}),
      });
      modelText = `, ${s.encoded} encoded, mean error ${s.meanError?.toFixed(4) ?? 'n/a'}, ${s.alerts} alert(s), results ${s.results}`;
      // the linear baselines on the same inputs, and whether the model fits this scan at all
      if (s.baselines) modelText += `; baselines (same units): PCA-5 ${s.baselines.pca5Mse?.toFixed(4) ?? 'n/a'}, dictionary learning ${s.baselines.dlMse?.toFixed(4) ?? 'n/a'} (${s.baselines.pixelsUsed} px, ${s.baselines.seconds.toFixed(1)} s)`;
      if (s.ood) modelText += s.ood.flag ? `; THE MODEL DOES NOT FIT THIS SCAN: ${s.ood.reasons.join('; ')}` : `; model fits (error ratio ${s.ood.errorRatio?.toFixed(2) ?? 'n/a'}, input shift ${s.ood.inputShift?.toFixed(2) ?? 'n/a'})`;
      if (s.alertsStatus && !s.alertsStatus.enabled) modelText += `; alerts off: ${s.alertsStatus.reason}`;
      // --finetune (src/finetune): versions used and the scan's mean error before → after
      if ('modelVersions' in s) modelText += `; fine-tuning: ${s.finetuneRounds} round(s), ${s.modelVersions} model version(s), mean error ${s.errorBeforeFinetune?.toFixed(4) ?? 'n/a'} → ${s.errorAfterFinetune?.toFixed(4) ?? 'n/a'}`;
      summary = s;
    }
    log.info(summary, 'replay finished');
    // refused by the live ingest rules (docs/protocol.md §Rules): the replay went on without them, and says so
    const refusedText = summary.refused
      ? `, ${summary.refused} refused (${Object.entries(summary.refusedByCode)
          .map(([c, n]) => `${c} ${n}`)
          .join(', ')})`
      : '';
    if (opts.summaryJson) {
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    } else {
      process.stdout.write(
        `${summary.file}: ${summary.layout} ${summary.kind} ${summary.rows}x${summary.cols}, ${summary.pixels} pixels, ${summary.missing} missing, ` +
          `${summary.seconds.toFixed(3)} s (${Math.round(summary.pxPerSec)} px/s), stop ${summary.stopStatus}${refusedText}${modelText}\n`,
      );
    }
  });
}
