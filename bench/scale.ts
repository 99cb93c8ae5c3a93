/**
 * `node --import tsx bench/scale.ts [--scans 6] [--size 24] [--workers 1,2]`: reprocessing on BullMQ/Redis on this
 * machine (docs/scale.md). Starts its own redis-server on a free loopback port, writes simulated scans, and for
 * each worker count runs `loopstream worker` processes and `loopstream reprocess --wait` over the scans.
 * Prints: wall time and px/s per worker count (and the ratio); per-job time split into a fixed overhead and a
 * per-pixel cost (fitted over two scan sizes from BullMQ's processedOn/finishedOn); Redis commands per job and
 * round-trip time; redis-benchmark's SET/GET rate; bytes read and written per job. From those, the model
 * docs/scale.md uses to predict 10 and 100 workers.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { simulateScan } from '../src/sim/index.ts';
import { writeSimulatedScan } from '../src/sim/write-scan-file.ts';
import { runCli, type CliProcess } from '../test/helpers/cli.ts';
import { startRedis } from '../test/helpers/redis.ts';

const { values: args } = parseArgs({ options: { scans: { type: 'string', default: '6' }, size: { type: 'string', default: '24' }, workers: { type: 'string', default: '1,2' } } });
const SCANS = Number(args.scans);
const SIZE = Number(args.size);
const WORKERS = args.workers.split(',').map(Number);
const BUNDLE = 'fixtures/models/edge-sim';

const redis = await startRedis();
const dir = mkdtempSync(join(tmpdir(), 'ls-bench-scale-'));
const cliRedis = (...a: string[]) => spawnSync('/usr/bin/redis-cli', ['-p', String(redis.port), ...a], { encoding: 'utf8' }).stdout;
const commandsProcessed = () => Number(/total_commands_processed:(\d+)/.exec(cliRedis('info', 'stats'))![1]);

async function scans(size: number, n: number, seed0: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const f = join(dir, `s${size}-${i}.h5`);
    await writeSimulatedScan(simulateScan({ rows: size, cols: size, seed: seed0 + i, anomalies: 0 }), f);
    out.push(f);
  }
  return out;
}

interface Run { workers: number; size: number; jobs: number; pixels: number; seconds: number; pxPerSec: number; jobSeconds: number[]; commandsPerJob: number; bytesIn: number; bytesOut: number }

async function run(queue: string, nWorkers: number, files: string[], size: number): Promise<Run> {
  const sets = ['--set', `scale.queue=${queue}`, '--set', 'log.level=info'];
  const workers: CliProcess[] = [];
  for (let i = 0; i < nWorkers; i++) workers.push(runCli(['worker', '--redis', redis.url, '--log-format', 'json', ...sets]));
  try {
    return await measure(queue, nWorkers, files, size, workers);
  } finally {
    for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
  }
}

async function measure(queue: string, nWorkers: number, files: string[], size: number, workers: CliProcess[]): Promise<Run> {
  const sets = ['--set', `scale.queue=${queue}`, '--set', 'log.level=info'];
  await Promise.all(workers.map((w) => w.waitForLog((l) => l.msg === 'worker ready', 'worker ready')));
  const results = join(dir, `res-${queue}`);
  const before = commandsProcessed();
  const r = runCli(['reprocess', ...files, '--bundle', BUNDLE, '--redis', redis.url, '--results', results, '--wait', '--summary-json', '--log-level', 'warn', ...sets]);
  if ((await r.exited) !== 0) throw new Error(`reprocess failed: ${r.stderrText()}`);
  const commands = commandsProcessed() - before;
  const s = JSON.parse(r.stdout.at(-1)!) as { pixels: number; seconds: number; pxPerSec: number };
  const q = new Queue(queue, { connection: { url: redis.url } });
  const done = await q.getJobs(['completed']);
  await q.close();
  const bytesOut = readdirSync(results).filter((n) => n.endsWith('.results.h5')).reduce((t, n) => t + statSync(join(results, n)).size, 0);
  return {
    workers: nWorkers,
    size,
    jobs: files.length,
    pixels: s.pixels,
    seconds: s.seconds,
    pxPerSec: s.pxPerSec,
    jobSeconds: done.map((j) => (j.finishedOn! - j.processedOn!) / 1000),
    // the reprocess client's polls are included: they grow with --wait's length, not with the work
    commandsPerJob: commands / files.length,
    bytesIn: files.reduce((t, f) => t + statSync(f).size, 0) / files.length,
    bytesOut: bytesOut / files.length,
  };
}

const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
try {
  const big = await scans(SIZE, SCANS, 500);
  const small = await scans(8, SCANS, 700);
  const runs: Run[] = [];
  for (const n of WORKERS) runs.push(await run(`bench-w${n}`, n, big, SIZE));
  const smallRun = await run('bench-small', 1, small, 8);
  // Redis round trip (one PING from a client on this machine) and its SET/GET rate
  const rtt = spawnSync('/usr/bin/redis-cli', ['-p', String(redis.port), '--latency', '-i', '1', '--raw'], { encoding: 'utf8', timeout: 2500 }).stdout.trim().split('\n').at(-1);
  const bench = spawnSync('/usr/bin/redis-benchmark', ['-p', String(redis.port), '-q', '-n', '50000', '-t', 'set,get', '-c', '20'], { encoding: 'utf8' }).stdout.replace(/\r/g, '\n').split('\n').filter((l) => /requests per second/.test(l));

  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model}), load ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`\n${SCANS} scans of ${SIZE}x${SIZE} (${SIZE * SIZE} px), bundle ${BUNDLE}`);
  console.log('workers | wall s | px/s  | mean job s | Redis cmds/job | in B/job | out B/job');
  for (const r of runs) console.log(`${String(r.workers).padStart(7)} | ${r.seconds.toFixed(1).padStart(6)} | ${r.pxPerSec.toFixed(0).padStart(5)} | ${mean(r.jobSeconds).toFixed(2).padStart(10)} | ${r.commandsPerJob.toFixed(0).padStart(14)} | ${r.bytesIn.toFixed(0).padStart(8)} | ${r.bytesOut.toFixed(0)}`);
  if (runs.length >= 2) console.log(`throughput ratio ${runs[1].workers} vs ${runs[0].workers} workers: ${(runs[1].pxPerSec / runs[0].pxPerSec).toFixed(2)}`);
  // per-job time = a + b·pixels, from the single-worker runs at two sizes
  const one = runs.find((r) => r.workers === 1)!;
  const tBig = mean(one.jobSeconds);
  const tSmall = mean(smallRun.jobSeconds);
  const b = (tBig - tSmall) / (SIZE * SIZE - 64);
  const a = tSmall - b * 64;
  console.log(`\nper job (1 worker): ${tSmall.toFixed(3)} s at 8x8, ${tBig.toFixed(3)} s at ${SIZE}x${SIZE} → overhead a = ${a.toFixed(3)} s, per pixel b = ${(b * 1000).toFixed(3)} ms; Redis commands per job at 8x8: ${smallRun.commandsPerJob.toFixed(0)}`);
  console.log(`Redis: round trip ${rtt} (min max avg ms, samples: redis-cli --latency); ${bench.join('; ')}`);
  for (const px of [60 * 60, 256 * 256]) console.log(`predicted job of ${px} px: ${(a + b * px).toFixed(1)} s on one worker core`);
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
