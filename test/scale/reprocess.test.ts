/**
 * Reprocessing across workers on a real Redis (redis-server on a free loopback port) with real BullMQ:
 * 2 `loopstream worker` processes re-encode 6 simulated scans queued by `loopstream reprocess`; every results
 * file holds the same datasets as the one `replay` writes for the same file and bundle; re-running queues
 * nothing; a worker killed (SIGKILL) mid-job loses nothing and duplicates nothing; SIGTERM lets the running job
 * finish; an unreadable file fails its job with its LS_ code after the configured attempts.
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { replayThroughPipeline } from '../../src/app/replay-run.ts';
import { parsePace } from '../../src/sources/hdf5/index.ts';
import { simulateScan } from '../../src/sim/index.ts';
import { writeSimulatedScan } from '../../src/sim/write-scan-file.ts';
import { createLogger } from '../../src/util/log.ts';
import { runCli, type CliProcess } from '../helpers/cli.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { readResults } from '../e2e/support/results.ts';

const BUNDLE = process.env.LOOPSTREAM_TEST_BUNDLE ?? 'fixtures/models/edge-sim';
const N = 6;

let redis: TestRedis;
let dir: string;
const files: string[] = [];
/** results file `replay` wrote, per scan file */
const reference = new Map<string, string>();
const procs: CliProcess[] = [];

function worker(queue: string, sets: string[] = []): CliProcess {
  const args = ['worker', '--redis', redis.url, '--log-format', 'json', '--set', `scale.queue=${queue}`, '--set', 'scale.lockMs=10000', '--set', 'scale.stalledMs=2000', '--set', 'scale.maxStalled=2', '--set', 'baselines.enabled=false'];
  for (const s of sets) args.push('--set', s);
  const p = runCli(args);
  procs.push(p);
  return p;
}

function reprocess(queue: string, results: string, more: string[] = [], fileList = files): CliProcess {
  return runCli(['reprocess', ...fileList, '--bundle', BUNDLE, '--redis', redis.url, '--results', results, '--summary-json', '--log-level', 'warn', '--set', `scale.queue=${queue}`, ...more]);
}

const lastJson = (p: CliProcess) => JSON.parse(p.stdout[p.stdout.length - 1]) as Record<string, unknown>;
const logged = (p: CliProcess, msg: string) => p.logs.filter((l) => l.msg === msg);
const resultsFiles = (d: string) => readdirSync(d).filter((n) => n.endsWith('.results.h5'));

/** The results datasets (embedding, log-free: error, missing, state, model version) equal the replay's. */
async function expectSameAsReplay(file: string, results: string): Promise<void> {
  const [got, want] = await Promise.all([readResults(results), readResults(reference.get(file)!)]);
  expect([got.rows, got.cols, got.latentDim]).toEqual([want.rows, want.cols, want.latentDim]);
  expect(got.state).toEqual(want.state);
  expect(got.missing).toEqual(want.missing);
  expect(got.modelVersion).toEqual(want.modelVersion);
  expect(got.embedding).toEqual(want.embedding);
  expect(got.error).toEqual(want.error);
  expect(got.attrs.complete).toBe(1);
}

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'ls-scale-'));
  const config = loadConfig(undefined, { 'data.dir': join(dir, 'replay'), 'model.bundle': BUNDLE, 'log.level': 'silent', 'baselines.enabled': false });
  const log = createLogger({ level: 'silent', format: 'json' });
  for (let i = 0; i < N; i++) {
    const file = join(dir, `scan${i}.h5`);
    await writeSimulatedScan(simulateScan({ rows: 8, cols: 8, seed: 100 + i, anomalies: 0 }), file);
    files.push(file);
    const s = await replayThroughPipeline(config, log, file, { pace: parsePace('max') });
    reference.set(file, s.results);
  }
}, 240_000);

afterAll(async () => {
  for (const p of procs) if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
  await redis?.stop();
});

describe('loopstream reprocess + worker on BullMQ/Redis', () => {
  it('2 workers reprocess 6 scans into the same results as replay; a re-run queues nothing', { timeout: 240_000 }, async () => {
    const results = join(dir, 'res-a');
    const w1 = worker('a');
    const w2 = worker('a');
    await Promise.all([w1.waitForLog((l) => l.msg === 'worker ready', 'worker ready'), w2.waitForLog((l) => l.msg === 'worker ready', 'worker ready')]);
    const r = reprocess('a', results, ['--wait']);
    expect(await r.exited).toBe(0);
    const summary = lastJson(r) as { files: number; added: number; completed: number; pixels: number; pxPerSec: number; failed: unknown[]; results: Array<{ file: string; results: string; pixels: number }> };
    expect(summary).toMatchObject({ files: N, added: N, completed: N, pixels: N * 64, failed: [] });
    expect(summary.pxPerSec).toBeGreaterThan(0);
    for (const j of summary.results) await expectSameAsReplay(j.file, j.results);
    expect(resultsFiles(results)).toHaveLength(N);
    // both workers took jobs, and no job ran twice
    const done = [...logged(w1, 'job completed'), ...logged(w2, 'job completed')].map((l) => l.job);
    expect(new Set(done).size).toBe(N);
    if (done.length !== N) console.log([...w1.logs, ...w2.logs].filter((l) => Number(l.level) >= 40));
    expect(done).toHaveLength(N);
    console.log(`2 workers: ${N} scans of 8x8 in ${(summary as unknown as { seconds: number }).seconds.toFixed(1)} s; worker 1 ran ${logged(w1, 'job completed').length}, worker 2 ran ${logged(w2, 'job completed').length}`);

    // the same files and bundle again: all jobs found, none added, no worker starts a job
    const again = reprocess('a', results, ['--wait']);
    expect(await again.exited).toBe(0);
    expect(lastJson(again)).toMatchObject({ files: N, added: 0, existing: N, completed: N, failed: [] });
    await new Promise((r2) => setTimeout(r2, 1500));
    expect(logged(w1, 'job started').length + logged(w2, 'job started').length).toBe(N);

    // SIGTERM: workers stop cleanly
    w1.proc.kill('SIGTERM');
    w2.proc.kill('SIGTERM');
    expect(await w1.exited).toBe(0);
    expect(await w2.exited).toBe(0);
  });

  it('a worker killed with SIGKILL mid-job: its job is retried elsewhere; all 6 results, each once', { timeout: 240_000 }, async () => {
    const results = join(dir, 'res-b');
    // paced jobs (64 px at 80 px/s: about 0.8 s of reading each) so the kill lands mid-job
    const slow = ['replay.pace=80pxps'];
    const victim = worker('b', slow);
    const survivor = worker('b', slow);
    await Promise.all([victim.waitForLog((l) => l.msg === 'worker ready', 'worker ready'), survivor.waitForLog((l) => l.msg === 'worker ready', 'worker ready')]);
    const r = reprocess('b', results, ['--wait']);
    const started = await victim.waitForLog((l) => l.msg === 'scan started', 'a scan started in the victim');
    victim.proc.kill('SIGKILL');
    await victim.exited;
    const victimDone = logged(victim, 'job completed').map((l) => l.job);
    expect(victimDone).not.toContain(started.job);
    const code = await r.exited;
    // on failure the message carries the summary (failed jobs with reasons) and the survivor's warnings
    expect(code, `${r.stdout.at(-1)}\n${JSON.stringify(survivor.logs.filter((l) => Number(l.level) >= 40))}`).toBe(0);
    const summary = lastJson(r) as { completed: number; failed: unknown[]; results: Array<{ file: string; results: string }> };
    expect(summary).toMatchObject({ completed: N, failed: [] });
    expect(resultsFiles(results)).toHaveLength(N);
    expect(new Set(summary.results.map((j) => j.results)).size).toBe(N);
    for (const j of summary.results) await expectSameAsReplay(j.file, j.results);
    // the killed job was put back by the stalled-job check and run by the survivor; every job completed once
    const survivorDone = logged(survivor, 'job completed').map((l) => l.job);
    expect(survivorDone).toContain(started.job);
    expect(new Set([...victimDone, ...survivorDone]).size).toBe(N);
    expect(victimDone.length + survivorDone.length).toBe(N);
    // no half-written file anywhere: the killed attempt's folder was cleared by the retry
    expect(readdirSync(join(results, '.jobs'))).toEqual([]);
    survivor.proc.kill('SIGTERM');
    expect(await survivor.exited).toBe(0);
  });

  it('SIGTERM lets the running job finish; an unreadable file fails with its code after the configured attempts', { timeout: 240_000 }, async () => {
    const results = join(dir, 'res-c');
    mkdirSync(results, { recursive: true });
    const broken = join(dir, 'broken.h5');
    writeFileSync(broken, Buffer.from('this is not an HDF5 file, just bytes that a worker must refuse'.repeat(20)));
    const sets = ['replay.pace=80pxps', 'scale.attempts=2', 'scale.backoffMs=100'];
    const workers = [worker('c', sets), worker('c', sets)];
    await Promise.all(workers.map((w) => w.waitForLog((l) => l.msg === 'worker ready', 'worker ready')));
    const r = reprocess('c', results, ['--wait', '--set', 'scale.attempts=2', '--set', 'scale.backoffMs=100'], [files[0], broken]);
    // the worker that runs the good scan gets SIGTERM mid-scan
    const started = await Promise.any(workers.map((w) => w.waitForLog((l) => l.msg === 'scan started', 'the good scan started').then((l) => ({ w, l }))));
    const [w, w2] = started.w === workers[0] ? workers : [workers[1], workers[0]];
    w.proc.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    // the job running at SIGTERM finished before the worker left
    expect(logged(w, 'job completed').map((l) => l.job)).toContain(started.l.job);
    expect(await r.exited).toBe(1); // a job failed
    const summary = lastJson(r) as { completed: number; failed: Array<{ file: string; reason: string; attempts: number }> };
    expect(summary.completed).toBe(1);
    expect(summary.failed).toHaveLength(1);
    expect(summary.failed[0].file).toBe(broken);
    expect(summary.failed[0].reason).toMatch(/^\[LS_FILE_[A-Z0-9_]+\] /);
    expect(summary.failed[0].attempts).toBe(2);
    const tries = [...logged(w, 'job attempt failed'), ...logged(w2, 'job attempt failed')];
    expect(tries).toHaveLength(2);
    w2.proc.kill('SIGTERM');
    expect(await w2.exited).toBe(0);
  });
});
