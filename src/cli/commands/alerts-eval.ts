/**
 * `loopstream alerts-eval`: alert quality on simulated scans through the bundle's model — region-level precision
 * and recall per anomaly kind over several seeds, and false alerts on clean scans (docs/alerts.md).
 * `--calibrate` first (re)writes the bundle's alerts-reference.json from clean simulated scans.
 */
import { writeFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { simulateScan } from '../../sim/index.ts';
import { configFromOptions, loggerFor, withConfigOptions } from '../common.ts';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be an integer ≥ 1; got "${v}"`);
  return n;
};

/** Threshold grid tried by --sweep on the same encodings. */
const SWEEP = { latentMethod: ['mahalanobis', 'knn', 'lof'] as const, errorThreshold: [3, 3.5, 4, 5], latentThreshold: [0, 4, 4.5, 5, 6, 8], minArea: [4, 6] };

export function register(program: Command): void {
  withConfigOptions(
    program
      .command('alerts-eval')
      .description('alert precision/recall per anomaly kind on simulated scans through the model bundle, and false alerts on clean scans')
      .option('--bundle <dir>', 'model bundle (overrides model.bundle)')
      .option('--seeds <n>', 'scans per anomaly kind, and clean scans', int('--seeds'), 5)
      .option('--first-seed <n>', 'index of the first seed (a later range checks thresholds tuned on seeds 1…)', int('--first-seed'), 1)
      .option('--rows <n>', 'grid rows of each scan', int('--rows'), 48)
      .option('--cols <n>', 'grid columns of each scan', int('--cols'), 48)
      .option('--anomalies <n>', 'planted regions per scan', int('--anomalies'), 3)
      .option('--calibrate', 'recompute the bundle\'s alerts-reference.json first: from --from files, else from clean simulated scans')
      .option('--from <files...>', 'with --calibrate: your own clean scan files (loopstream, NSID or USID HDF5) to calibrate on, for any bundle kind')
      .option('--calibration-scans <n>', 'clean scans (seeds 9001…) used by --calibrate', int('--calibration-scans'), 3)
      .option('--sweep', 'also score a grid of errorThreshold × latentThreshold × minArea on the same encodings')
      .option('--json <file>', 'write the report(s) as JSON'),
  ).action(async (opts) => {
    // heavy modules load only when the command runs: `loopstream --help` and the other commands stay fast
    const { calibrateAlerts, encodeQualityScans, fileScans, memoryScan } = await import('../../app/calibrate.ts');
    const { formatQualityReport, scoreQuality } = await import('../../alerts/quality.ts');
    const { loadAlertsReference } = await import('../../alerts/reference.ts');
    const { loadBundle } = await import('../../model/bundle.ts');
    const config = configFromOptions(opts, opts.bundle ? { 'model.bundle': opts.bundle } : {});
    const log = loggerFor(config);
    const dir = config.model.bundle;
    const t0 = performance.now();
    const from = (opts.from as string[] | undefined) ?? [];
    if (from.length && !opts.calibrate) throw new InvalidArgumentError('--from names the files --calibrate calibrates on; add --calibrate');
    if (opts.calibrate) {
      let ref;
      if (from.length) {
        // The user's own scans, replayed through the daemon's pipeline like `loopstream replay` (any layout openScanFile knows).
        const files = await fileScans(config, log, from);
        try {
          ref = await calibrateAlerts(config, log, dir, files.scans);
        } finally {
          files.close();
        }
      } else {
        const scans = Array.from({ length: opts.calibrationScans as number }, (_, k) => memoryScan(simulateScan({ rows: opts.rows, cols: opts.cols, seed: 9001 + k })));
        ref = await calibrateAlerts(config, log, dir, scans);
      }
      const floored = ref.latent.knn?.flooredScales ?? [];
      if (floored.length) log.warn({ bundle: dir, latents: floored }, `latent channel(s) ${floored.join(', ')} are constant on the calibration pixels (a collapsed encoder); their scale was floored, so they add nothing to the latent score`);
      log.info({ bundle: dir, pixels: ref.source.pixels, seconds: (performance.now() - t0) / 1000 }, `wrote ${dir}/alerts-reference.json`);
      process.stdout.write(`wrote ${dir}/alerts-reference.json from ${ref.source.description}: ${ref.source.pixels} pixels, median error ${Math.exp(ref.error.logMedian).toPrecision(4)}\n`);
    }
    const ref = await loadAlertsReference(dir);
    const bundle = await loadBundle(dir);
    // The quality evaluation plants anomalies in simulated sho scans: only for bundles that read them.
    const { checkBundleAgainstScan } = await import('../../model/bundle.ts');
    try {
      checkBundleAgainstScan(bundle, simulateScan({ rows: 2, cols: 2, seed: 1 }).start);
    } catch (err) {
      process.stdout.write(`quality evaluation skipped: it uses simulated sho scans, which this bundle cannot read (${(err as Error).message})\n`);
      return;
    }
    const t1 = performance.now();
    const plan = { rows: opts.rows, cols: opts.cols, seeds: opts.seeds, firstSeed: opts.firstSeed as number, anomalies: opts.anomalies };
    const scans = await encodeQualityScans(config, log, dir, plan, (done, total) => log.debug({ done, total }, 'encoded'));
    const encodeSec = (performance.now() - t1) / 1000;
    const t2 = performance.now();
    const report = scoreQuality(scans, ref, config.alerts);
    const scoreSec = (performance.now() - t2) / 1000;
    const a = config.alerts;
    const out: unknown[] = [{ config: a, report }];
    process.stdout.write(
      `bundle ${dir} (version ${bundle.manifest.version}); ${plan.seeds} seeds per kind (seed indices ${plan.firstSeed}–${plan.firstSeed + plan.seeds - 1}), ${plan.rows}×${plan.cols} scans, ${plan.anomalies} planted regions each\n` +
        `alerts: latentMethod ${a.latentMethod}, errorThreshold ${a.errorThreshold}, latentThreshold ${a.latentThreshold}, growFactor ${a.growFactor}, minArea ${a.minArea}, warmupPixels ${a.warmupPixels}\n\n` +
        `${formatQualityReport(report)}\nencoded ${scans.length} scans in ${encodeSec.toFixed(1)} s (${((scans.length * plan.rows * plan.cols) / encodeSec).toFixed(0)} px/s); ` +
        `alert engine ${((scans.length * plan.rows * plan.cols) / scoreSec).toFixed(0)} px/s\n`,
    );
    if (opts.sweep) {
      process.stdout.write('\nsweep (min over kinds of precision / recall; false alerts per clean scan):\n');
      for (const latentMethod of SWEEP.latentMethod) for (const errorThreshold of SWEEP.errorThreshold) {
        for (const latentThreshold of SWEEP.latentThreshold) {
          for (const minArea of SWEEP.minArea) {
            if (latentThreshold === 0 && latentMethod !== 'mahalanobis') continue;
            const cfg = { ...a, latentMethod, errorThreshold, latentThreshold, minArea };
            const r = scoreQuality(scans, ref, cfg);
            out.push({ config: cfg, report: r });
            const minP = Math.min(...r.kinds.map((k) => k.precision));
            const minR = Math.min(...r.kinds.map((k) => k.recall));
            process.stdout.write(
              `${latentMethod} err ${errorThreshold} lat ${latentThreshold} area ${minArea}: P ${minP.toFixed(2)} R ${minR.toFixed(2)} clean ${r.clean.alertsPerScan.toFixed(2)} | ${r.kinds.map((k) => `${k.kind} ${k.precision.toFixed(2)}/${k.recall.toFixed(2)}`).join(' ')}\n`,
            );
          }
        }
      }
    }
    if (opts.json) writeFileSync(opts.json, JSON.stringify(out, null, 2));
  });
}
