/**
 * `npm run fuzz [-- --frames 100000 --seed 1 --rows 32 --cols 32]`: start a real `loopstream serve`, send N
 * malformed frames (fast-check arbitraries + raw random bytes, test/e2e/support/fuzz-frames.ts) over ZeroMQ with a
 * valid scan interleaved, then print: daemon alive, refusals by code (daemon's count vs prescribed), messages
 * received vs sent, RSS over the run, and the valid scan's results. Exit code 1 when any check fails.
 */
import { parseArgs } from 'node:util';
import { DaemonProcess } from '../test/e2e/support/daemon-process.ts';
import { fuzzDaemon } from '../test/e2e/support/fuzz-run.ts';
import { testBundle } from '../test/e2e/support/test-bundle.ts';

const { values: a } = parseArgs({
  options: {
    frames: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    rows: { type: 'string', default: '32' },
    cols: { type: 'string', default: '32' },
    'pending-limit': { type: 'string', default: '1000' },
    bundle: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

const bundle = a.bundle ? { dir: a.bundle, T: 96 } : await testBundle();
const pendingLimit = Number(a['pending-limit']);
const d = await DaemonProcess.start({ bundle: bundle.dir, config: { ingest: { pendingLimit } } });
const frames = Number(a.frames);
process.stderr.write(`fuzz: daemon pid ${d.pid} on ${d.endpoint}, bundle ${bundle.dir}; sending ${frames} malformed frames\n`);
const r = await fuzzDaemon(d, {
  frames,
  seed: Number(a.seed),
  pendingLimit,
  steps: bundle.T,
  validRows: Number(a.rows),
  validCols: Number(a.cols),
  onProgress: (sent, kb) => process.stderr.write(`  ${sent} messages sent, daemon RSS ${(kb / 1024).toFixed(1)} MiB\n`),
}).catch(async (err) => {
  await d.kill();
  throw err;
});

const sorted = (o: Record<string, number>) => JSON.stringify(Object.entries(o).sort(([x], [y]) => x.localeCompare(y)));
const half = r.rss.filter(([n]) => n >= r.messagesSent / 2).map(([, kb]) => kb);
const secondHalfGrowthKb = Math.max(...half) - half[0];
const refused = Object.values(r.actualRejects).reduce((s, v) => s + v, 0);
const checks = {
  'daemon alive after the fuzz': r.aliveAfter,
  'clean exit on SIGTERM': d.exitCode === 0,
  'every message received': r.received === r.messagesSent,
  'refusals by code == prescribed': sorted(r.actualRejects) === sorted(r.expectedRejects),
  '/metrics refusals by code == prescribed': sorted(r.metricsRejects) === sorted(r.expectedRejects),
  'RSS flat over the second half (< 48 MiB growth)': secondHalfGrowthKb < 48 * 1024,
  'valid scan fully encoded': r.valid.encodedCoordsOk && r.valid.missing === 0,
};
if (a.json) {
  console.log(JSON.stringify({ ...r, checks }, null, 2));
} else {
  const mib = (kb: number) => (kb / 1024).toFixed(1);
  const rssVals = r.rss.map(([, kb]) => kb);
  console.log(`\nfuzz: ${r.frames} malformed frames (${r.messagesSent} messages, ${(r.bytesSent / 1e6).toFixed(1)} MB) in ${r.seconds.toFixed(1)} s (${(r.messagesSent / r.seconds).toFixed(0)} msg/s)`);
  console.log(`refused ${refused}, held ${r.held} (pending limit ${pendingLimit}), received ${r.received}/${r.messagesSent}`);
  console.log('\n| code | prescribed | daemon counted (log) | /metrics |\n|---|---:|---:|---:|');
  for (const code of Object.keys({ ...r.expectedRejects, ...r.actualRejects }).sort()) console.log(`| ${code} | ${r.expectedRejects[code] ?? 0} | ${r.actualRejects[code] ?? 0} | ${r.metricsRejects[code] ?? 0} |`);
  console.log(`\nvalid scan ${r.valid.scanId}: ${r.valid.encoded}/${r.valid.pixels} pixels encoded, ${r.valid.missing} missing`);
  console.log(`daemon RSS MiB: start ${mib(rssVals[0])}, min ${mib(Math.min(...rssVals))}, max ${mib(Math.max(...rssVals))}, end ${mib(rssVals[rssVals.length - 1])}`);
  console.log(`RSS growth over the second half: ${mib(secondHalfGrowthKb)} MiB`);
  console.log(`RSS trace (messages → MiB): ${r.rss.map(([n, kb]) => `${n}→${mib(kb)}`).join(', ')}`);
  console.log('\nchecks:');
  for (const [k, v] of Object.entries(checks)) console.log(`  ${v ? 'ok  ' : 'FAIL'} ${k}`);
}
process.exitCode = Object.values(checks).every(Boolean) ? 0 : 1;
