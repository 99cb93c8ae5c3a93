/**
 * Large scans as pixel-range jobs on a real Redis (redis-server on a free loopback port) with real BullMQ flows:
 * a 24×24 simulated scan with anomalies, split into 3 ranges by `scale.rangePixels=200`, reprocessed by 2
 * `loopstream worker` processes, gives a results file equal to the one `replay` writes — every dataset and attribute
 * (embedding, errors, states, loop maps, alerts with their regions, fit verdict, baselines, input state), only the
 * wall-clock fields (alert timestamps, baseline seconds) aside. The range jobs encode other batches than replay does
 * (the warm-up batch is cut between two ranges), so this also checks that onnxruntime's outputs do not depend on
 * batch composition. A worker SIGKILLed mid-range still gives each file once and equal; a file that changes after it
 * was queued fails its ranges after the configured attempts and the scan with their code.
 */
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { replayRange, replayThroughPipeline } from '../../src/app/replay-run.ts';
import { h5 } from '../../src/hdf5/h5.ts';
import { parsePace } from '../../src/sources/hdf5/index.ts';
import { simulateScan } from '../../src/sim/index.ts';
import { writeSimulatedScan } from '../../src/sim/write-scan-file.ts';
import { planRanges, rangeConfig } from '../../src/scale/ranges.ts';
import { createLogger } from '../../src/util/log.ts';
import { runCli, type CliProcess } from '../helpers/cli.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

const BUNDLE = process.env.LOOPSTREAM_TEST_BUNDLE ?? 'fixtures/models/edge-sim';
const SIZE = 24;
const RANGE = ['--set', 'scale.rangePixels=200'];

let redis: TestRedis;
let dir: string;
let file: string;
let reference: string;
let referenceAlerts = 0;
const procs: CliProcess[] = [];

function worker(queue: string, sets: string[] = []): CliProcess {
  const args = ['worker', '--redis', redis.url, '--log-format', 'json', '--set', `scale.queue=${queue}`, '--set', 'scale.lockMs=10000', '--set', 'scale.stalledMs=2000', '--set', 'scale.maxStalled=2'];
  for (const s of sets) args.push('--set', s);
  const p = runCli(args);
  procs.push(p);
  return p;
}

function reprocess(queue: string, results: string, more: string[] = [], logLevel = 'warn'): CliProcess {
  const p = runCli(['reprocess', file, '--bundle', BUNDLE, '--redis', redis.url, '--results', results, '--wait', '--summary-json', '--log-level', logLevel, '--log-format', 'json', '--set', `scale.queue=${queue}`, ...RANGE, ...more]);
  procs.push(p);
  return p;
}

const lastJson = (p: CliProcess) => JSON.parse(p.stdout[p.stdout.length - 1]) as Record<string, unknown>;
const logged = (p: CliProcess, msg: string) => p.logs.filter((l) => l.msg === msg);
const ready = (ws: CliProcess[]) => Promise.all(ws.map((w) => w.waitForLog((l) => l.msg === 'worker ready', 'worker ready')));

/** Every attribute and dataset of an HDF5 file, as text, by path ('@name' for root attributes). */
async function contents(path: string): Promise<Record<string, string>> {
  const H = await h5();
  const f = new H.File(path, 'r');
  const out: Record<string, string> = {};
  try {
    for (const [k, a] of Object.entries(f.attrs)) out[`@${k}`] = String((a as { value: unknown }).value);
    const walk = (g: { keys(): string[]; get(k: string): unknown }, prefix: string) => {
      for (const k of g.keys()) {
        const node = g.get(k) as { type: string; value?: ArrayLike<number> } & { keys(): string[]; get(k: string): unknown };
        if (node.type === 'Group') walk(node, `${prefix}${k}/`);
        else out[`${prefix}${k}`] = Array.from(node.value as ArrayLike<number>, String).join(',');
      }
    };
    walk(f as never, '');
  } finally {
    f.close();
  }
  return out;
}

/** Wall-clock fields: when alerts opened, changed and closed, how long the baselines took. */
const TIMINGS = new Set(['@baseline_seconds', 'alerts/opened_at', 'alerts/updated_at', 'alerts/closed_at']);

async function expectSameAsReplay(results: string): Promise<void> {
  const [got, want] = await Promise.all([contents(results), contents(reference)]);
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const k of Object.keys(want)) if (!TIMINGS.has(k)) expect(got[k], k).toBe(want[k]);
}

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'ls-ranges-'));
  file = join(dir, 'large.h5');
  await writeSimulatedScan(simulateScan({ rows: SIZE, cols: SIZE, seed: 11, anomalies: 2 }), file);
  const config = loadConfig(undefined, { 'data.dir': join(dir, 'replay'), 'model.bundle': BUNDLE, 'log.level': 'silent' });
  const s = await replayThroughPipeline(config, createLogger({ level: 'silent', format: 'json' }), file, { pace: parsePace('max') });
  reference = s.results;
  referenceAlerts = s.alerts;
}, 240_000);

afterAll(async () => {
  for (const p of procs) if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
  await redis?.stop();
});

describe('large scans as pixel-range jobs (BullMQ flows)', () => {
  it('plans equal ranges that tile the grid, one range up to the threshold', () => {
    expect(planRanges(576, 200)).toEqual([{ from: 0, to: 192 }, { from: 192, to: 384 }, { from: 384, to: 576 }]);
    expect(planRanges(200, 200)).toEqual([{ from: 0, to: 200 }]);
    expect(planRanges(201, 200)).toEqual([{ from: 0, to: 100 }, { from: 100, to: 201 }]);
    expect(planRanges(576, 0)).toEqual([{ from: 0, to: 576 }]);
  });

  it('a range job of a scan beyond the replay backpressure window finishes; its rows equal replay\'s bitwise', { timeout: 120_000 }, async () => {
    // 80 x 80: more pixels outside the range than the reader lets wait for the encoder (max(4096, 4 x warm-up)); the
    // pixels a range leaves out are not waiting (Daemon.queueDepth), or the reader would stop for good
    const big = join(dir, 'big.h5');
    await writeSimulatedScan(simulateScan({ rows: 80, cols: 80, seed: 3, anomalies: 0 }), big);
    const sets = { 'model.bundle': BUNDLE, 'log.level': 'silent', 'alerts.enabled': false, 'ood.enabled': false, 'baselines.enabled': false };
    const log = createLogger({ level: 'silent', format: 'json' });
    const whole = await replayThroughPipeline(loadConfig(undefined, { ...sets, 'data.dir': join(dir, 'big-replay') }), log, big, { pace: parsePace('max') });
    const want = await contents(whole.results);
    const { part } = await replayRange(rangeConfig(loadConfig(undefined, { ...sets, 'data.dir': join(dir, 'big-range') })), log, big, { from: 5000, to: 6400 }, { pace: parsePace('max') });
    expect(part.unmergeable).toBeNull();
    const index = part.batches.flatMap((b) => Array.from(b.index));
    expect(index).toHaveLength(1400);
    expect(Math.min(...index)).toBe(5000);
    const mu = want.embedding.split(',').map(Number);
    const error = want.error.split(',').map(Number);
    const d = part.mu.length / index.length;
    index.forEach((i, k) => {
      expect(part.error[k]).toBe(error[i]);
      for (let j = 0; j < d; j++) expect(part.mu[k * d + j]).toBe(mu[i * d + j]);
    });
  });

  it('2 workers: 3 range jobs and a merge give the results file replay writes; a re-run queues nothing', { timeout: 240_000 }, async () => {
    expect(referenceAlerts).toBeGreaterThan(0); // the alert table is part of what is compared
    const results = join(dir, 'res-a');
    const ws = [worker('a'), worker('a')];
    await ready(ws);
    const r = reprocess('a', results);
    expect(await r.exited, r.stdout.at(-1)).toBe(0);
    const summary = lastJson(r) as { completed: number; pixels: number; failed: unknown[]; results: Array<{ results: string; pixels: number; ranges: number; replayedWhole?: string }> };
    expect(summary).toMatchObject({ files: 1, added: 1, completed: 1, pixels: SIZE * SIZE, failed: [] });
    expect(summary.results[0]).toMatchObject({ ranges: 3, pixels: SIZE * SIZE });
    expect(summary.results[0].replayedWhole).toBeUndefined();
    await expectSameAsReplay(summary.results[0].results);
    // 3 ranges and the merge, each run once; the parts and attempt folders are gone
    const done = ws.flatMap((w) => logged(w, 'job completed'));
    expect(done).toHaveLength(4);
    expect(new Set(done.map((l) => l.job)).size).toBe(4);
    expect(done.filter((l) => l.range !== undefined)).toHaveLength(3);
    expect(readdirSync(join(results, '.jobs'))).toEqual([]);
    console.log(`ranges: worker 1 ran ${logged(ws[0], 'job completed').length} job(s), worker 2 ${logged(ws[1], 'job completed').length}`);

    const again = reprocess('a', results);
    expect(await again.exited).toBe(0);
    expect(lastJson(again)).toMatchObject({ added: 0, existing: 1, completed: 1, failed: [] });
    expect(ws.flatMap((w) => logged(w, 'job started'))).toHaveLength(4);
    for (const w of ws) w.proc.kill('SIGTERM');
    for (const w of ws) expect(await w.exited).toBe(0);
  });

  it('a worker SIGKILLed mid-range: the range is retried elsewhere; one results file, equal to replay', { timeout: 240_000 }, async () => {
    const results = join(dir, 'res-b');
    // each range job reads the whole file at 300 px/s (about 2 s), in full micro-batches as at max pace: alerts
    // depend on batch boundaries, and a paced replay would otherwise cut batches by time (batch.maxWaitMs)
    const slow = ['replay.pace=300pxps', 'batch.maxWaitMs=60000'];
    const victim = worker('b', slow);
    await ready([victim]);
    const r = reprocess('b', results);
    const started = await victim.waitForLog((l) => l.msg === 'job started' && l.range !== undefined, 'a range job started in the victim');
    await victim.waitForLog((l) => l.msg === 'scan started', 'its scan started');
    const survivor = worker('b', slow);
    victim.proc.kill('SIGKILL');
    await victim.exited;
    expect(await r.exited, `${r.stdout.at(-1)}\n${JSON.stringify(survivor.logs.filter((l) => Number(l.level) >= 40))}`).toBe(0);
    const summary = lastJson(r) as { completed: number; failed: unknown[]; results: Array<{ results: string; ranges: number }> };
    expect(summary).toMatchObject({ completed: 1, failed: [] });
    expect(summary.results[0].ranges).toBe(3);
    await expectSameAsReplay(summary.results[0].results);
    expect(readdirSync(results).filter((n) => n.endsWith('.results.h5'))).toHaveLength(1);
    const victimDone = logged(victim, 'job completed').map((l) => l.job);
    const survivorDone = logged(survivor, 'job completed').map((l) => l.job);
    expect(victimDone).not.toContain(started.job);
    expect(survivorDone).toContain(started.job);
    expect(new Set([...victimDone, ...survivorDone]).size).toBe(4);
    expect(victimDone.length + survivorDone.length).toBe(4);
    expect(readdirSync(join(results, '.jobs'))).toEqual([]);
    survivor.proc.kill('SIGTERM');
    expect(await survivor.exited).toBe(0);
  });

  it('a scan with a missing pixel: its ranges say so, the merge replays it whole; same results as replay', { timeout: 240_000 }, async () => {
    const sim = simulateScan({ rows: SIZE, cols: SIZE, seed: 12, anomalies: 1 });
    const gappy = join(dir, 'gappy.h5');
    // seq 300 never sent: a gap, which replay marks missing between pixels (not something ranges rebuild)
    await writeSimulatedScan({ ...sim, pixels: function* () { for (const px of sim.pixels()) if (px.seq !== 300) yield px; } }, gappy);
    const config = loadConfig(undefined, { 'data.dir': join(dir, 'replay-gappy'), 'model.bundle': BUNDLE, 'log.level': 'silent' });
    const want = await replayThroughPipeline(config, createLogger({ level: 'silent', format: 'json' }), gappy, { pace: parsePace('max') });
    expect(want.missing).toBe(1);
    const results = join(dir, 'res-d');
    const w = worker('d');
    await ready([w]);
    const r = runCli(['reprocess', gappy, '--bundle', BUNDLE, '--redis', redis.url, '--results', results, '--wait', '--summary-json', '--log-level', 'warn', '--set', 'scale.queue=d', ...RANGE]);
    procs.push(r);
    expect(await r.exited, r.stdout.at(-1)).toBe(0);
    const summary = lastJson(r) as { results: Array<{ results: string; ranges: number; replayedWhole?: string; missing: number }> };
    expect(summary.results[0]).toMatchObject({ ranges: 3, missing: 1 });
    expect(summary.results[0].replayedWhole).toMatch(/1 pixel\(s\) missing/);
    const [got, ref] = await Promise.all([contents(summary.results[0].results), contents(want.results)]);
    expect(Object.keys(got).sort()).toEqual(Object.keys(ref).sort());
    for (const k of Object.keys(ref)) if (!TIMINGS.has(k)) expect(got[k], k).toBe(ref[k]);
    w.proc.kill('SIGTERM');
    expect(await w.exited).toBe(0);
  });

  it('a file changed after it was queued: its ranges fail after the configured attempts, the scan with their code', { timeout: 240_000 }, async () => {
    const results = join(dir, 'res-c');
    const attempts = ['--set', 'scale.attempts=2', '--set', 'scale.backoffMs=100'];
    const r = reprocess('c', results, attempts, 'info');
    await r.waitForLog((l) => l.msg === 'jobs queued', 'jobs queued');
    writeFileSync(file, Buffer.from('no longer the scan that was queued'.repeat(40)));
    const w = worker('c', ['scale.attempts=2', 'scale.backoffMs=100']);
    expect(await r.exited).toBe(1);
    const summary = lastJson(r) as { completed: number; failed: Array<{ file: string; reason: string; attempts: number }> };
    expect(summary.completed).toBe(0);
    expect(summary.failed).toHaveLength(1);
    expect(summary.failed[0].file).toBe(file);
    expect(summary.failed[0].reason).toMatch(/^\[LS_SCALE_FILE_CHANGED\] /);
    expect(summary.failed[0].attempts).toBe(2);
    // the merge never ran: no results file
    expect(existsSync(results) ? readdirSync(results).filter((n) => n.endsWith('.results.h5')) : []).toEqual([]);
    expect(logged(w, 'job attempt failed').every((l) => String(l.err).includes('changed since it was queued'))).toBe(true);
    w.proc.kill('SIGTERM');
    expect(await w.exited).toBe(0);
  });
});
