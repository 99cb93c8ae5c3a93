/**
 * `npm run soak [-- --minutes 10 --rate 500 --interval 30 --rows 40 --cols 40 --keep-finished 50]`: start a real `loopstream serve`,
 * stream simulated scans into it at a steady pixel rate for the given time (one scan after another, each pixel
 * stamped with its send time), and report over time: daemon RSS, acquisition→encoding lag, queue depth, ingest rate,
 * pixels sent and encoded. At the end every scan must have finished with all its pixels encoded and none missing.
 * Prints a table and a summary (`--json` for one JSON object); exit code 1 when a check fails.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import * as zmq from 'zeromq';
import { encodePixel, encodeStart, encodeStop } from '../src/protocol/encode.ts';
import { simulateScan } from '../src/sim/index.ts';
import { DaemonProcess } from '../test/e2e/support/daemon-process.ts';
import { testBundle } from '../test/e2e/support/test-bundle.ts';

const { values: a } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '500' },
    interval: { type: 'string', default: '30' },
    rows: { type: 'string', default: '40' },
    cols: { type: 'string', default: '40' },
    bundle: { type: 'string' },
    'keep-finished': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const minutes = Number(a.minutes);
const rate = Number(a.rate);
const intervalSec = Number(a.interval);
const rows = Number(a.rows);
const cols = Number(a.cols);

const bundle = a.bundle ? { dir: a.bundle, T: 96 } : await testBundle();
const d = await DaemonProcess.start({ bundle: bundle.dir, config: a['keep-finished'] ? { data: { keepFinishedScans: Number(a['keep-finished']) } } : {} });
const url = String(d.logs.find((l) => typeof l.url === 'string')?.url ?? '');
void d.exited.then(() => {
  if (!stopping) process.stderr.write(`soak: the daemon exited unexpectedly (code ${d.exitCode}, signal ${d.exitSignal}); last output:\n${d.tail(30)}\n`);
});
let stopping = false;
process.stderr.write(`soak: daemon pid ${d.pid}, ${d.endpoint}, ${url}; ${rate} px/s for ${minutes} min, ${rows}x${cols} scans, bundle ${bundle.dir}\n`);

/** Gauges and counters from the daemon's /metrics (Prometheus text). */
async function scrape(): Promise<Record<string, number>> {
  const text = await (await fetch(new URL('/metrics', url))).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(loopstream_[a-z_]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m && !m[2]) out[m[1]] = Number(m[3]);
  }
  return out;
}

interface Sample {
  t: number;
  sent: number;
  encoded: number;
  scansFinished: number;
  rssMiB: number;
  lagSec: number;
  queueDepth: number;
  ingestPxPerSec: number;
}
const samples: Sample[] = [];
let sent = 0;
const finished = () => d.logs.filter((l) => l.msg === 'scan finished');
const t0 = performance.now();

async function sample(): Promise<Sample> {
  const m = await scrape().catch(() => ({}) as Record<string, number>);
  const fin = finished();
  // pixels encoded in finished scans (exact, from their 'scan finished' log lines); the running scan is not counted
  const s: Sample = {
    t: (performance.now() - t0) / 1000,
    sent,
    encoded: fin.reduce((n, l) => n + Number(l.encoded), 0),
    scansFinished: fin.length,
    rssMiB: d.rssKb() / 1024,
    lagSec: m.loopstream_lag_seconds ?? Number.NaN,
    queueDepth: m.loopstream_queue_depth ?? Number.NaN,
    ingestPxPerSec: m.loopstream_ingest_pixels_per_second ?? Number.NaN,
  };
  samples.push(s);
  if (!a.json) {
    process.stderr.write(
      `  ${s.t.toFixed(0).padStart(5)} s  sent ${String(s.sent).padStart(7)}  scans done ${String(s.scansFinished).padStart(3)}  encoded ${String(s.encoded).padStart(7)}  RSS ${s.rssMiB.toFixed(1)} MiB  lag ${(s.lagSec * 1000).toFixed(0)} ms  queue ${s.queueDepth}  ingest ${s.ingestPxPerSec.toFixed(0)} px/s\n`,
    );
  }
  return s;
}

const push = new zmq.Push({ linger: 30_000 });
push.connect(d.endpoint);
const endAt = t0 + minutes * 60_000;
const scans: Array<{ id: string; pixels: number }> = [];
let nextSample = t0;
let k = 0;
// Pixel i of the whole soak is due at t0 + i/rate: one clock over all scans, so scan boundaries do not drift the rate.
while (performance.now() < endAt) {
  const id = `soak-${String(k).padStart(4, '0')}`;
  const scan = simulateScan({ rows, cols, seed: 100 + k, steps: bundle.T, scanId: id });
  await push.send(encodeStart(scan.start));
  let n = 0;
  for (const p of scan.pixels()) {
    if (performance.now() >= endAt) break;
    const wait = t0 + (sent * 1000) / rate - performance.now();
    if (wait > 2) await sleep(wait);
    // stamped with the send time, so the daemon's lag metric is acquisition → encoding
    await push.send(encodePixel({ type: 'pixel', scanId: id, seq: p.seq, row: p.row, col: p.col, t: Date.now() / 1000 }, p.data, scan.start));
    sent++;
    n++;
    if (performance.now() >= nextSample) {
      nextSample += intervalSec * 1000;
      void sample();
    }
  }
  // A scan cut short by the end of the soak is stopped as aborted at its last seq: no pixel is reported missing.
  await push.send(encodeStop({ type: 'stop', scanId: id, status: n === rows * cols ? 'completed' : 'aborted', pixelsSent: n, lastSeq: n - 1 }));
  scans.push({ id, pixels: n });
  k++;
}
push.close();
await d.waitForLog(() => finished().length >= scans.length, 120_000).catch(() => undefined);
const last = await sample();
const alive = d.alive;
stopping = true;
await d.stop();

const fin = new Map(finished().map((l) => [String(l.scanId), l]));
const lags = samples.map((s) => s.lagSec).filter(Number.isFinite).sort((x, y) => x - y);
const q = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))];
const rss = samples.map((s) => s.rssMiB);
const secondHalf = samples.filter((s) => s.t >= last.t / 2).map((s) => s.rssMiB);
const summary = {
  minutes,
  ratePxPerSec: rate,
  achievedPxPerSec: sent / ((endAt - t0) / 1000),
  pixelsSent: sent,
  pixelsEncoded: [...fin.values()].reduce((n, l) => n + Number(l.encoded), 0),
  pixelsMissing: [...fin.values()].reduce((n, l) => n + Number(l.missing), 0),
  scans: scans.length,
  scansFinished: fin.size,
  rssMiB: { first: rss[0], min: Math.min(...rss), max: Math.max(...rss), last: rss[rss.length - 1], secondHalfGrowth: Math.max(...secondHalf) - secondHalf[0] },
  /** over the samples: the daemon's acquisition→encoding lag of its latest batch at each sample time */
  lagMs: { p50: q(0.5) * 1000, p95: q(0.95) * 1000, max: lags[lags.length - 1] * 1000 },
};
const checks = {
  'daemon alive to the end': alive,
  'clean exit on SIGTERM': d.exitCode === 0,
  'every scan finished': fin.size === scans.length,
  'every pixel sent was encoded, none missing': summary.pixelsEncoded === sent && summary.pixelsMissing === 0 && scans.every((s) => Number(fin.get(s.id)?.encoded) === s.pixels),
};
if (a.json) {
  console.log(JSON.stringify({ summary, checks, samples }, null, 2));
} else {
  console.log('\n| t (s) | sent | encoded (finished scans) | RSS MiB | lag ms | queue | ingest px/s |\n|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of samples) console.log(`| ${s.t.toFixed(0)} | ${s.sent} | ${s.encoded} | ${s.rssMiB.toFixed(1)} | ${(s.lagSec * 1000).toFixed(0)} | ${s.queueDepth} | ${s.ingestPxPerSec.toFixed(0)} |`);
  console.log(`\n${JSON.stringify(summary)}`);
  console.log('\nchecks:');
  for (const [name, ok] of Object.entries(checks)) console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${name}`);
}
process.exitCode = Object.values(checks).every(Boolean) ? 0 : 1;
