/**
 * Concurrency faults on a real `loopstream serve` process: two producers stream two scans at once (their pixels
 * interleave at the daemon's socket) while dashboard clients connect and vanish — frozen tabs that never acknowledge,
 * processes SIGKILLed mid-stream, clients that drop right after connecting. Both scans must come through whole and
 * unmixed, the daemon must keep serving, and the vanished clients must be forgotten.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { simulateScan } from '../../src/sim/index.ts';
import { openScanFile } from '../../src/sources/hdf5/index.ts';
import { DaemonProcess, ROOT } from './support/daemon-process.ts';
import { Producer, until } from './support/producer.ts';
import { encodedPixels, readResults } from './support/results.ts';
import { testBundle } from './support/test-bundle.ts';

interface ClientProc {
  child: ChildProcess;
  lines: string[];
}

function spawnClient(url: string, scanId: string, mode: 'ack' | 'stall'): ClientProc {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/e2e/support/dashboard-client.ts'), url, scanId, mode], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const c: ClientProc = { child, lines: [] };
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (s: string) => c.lines.push(...s.split('\n').filter(Boolean)));
  return c;
}

async function healthz(url: string): Promise<{ clients: number; scans: number }> {
  return (await fetch(new URL('/healthz', url))).json() as Promise<{ clients: number; scans: number }>;
}

describe('faults: interleaved scans and vanishing dashboard clients', () => {
  let d: DaemonProcess | undefined;
  const procs: ClientProc[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const p of procs.splice(0)) p.child.kill('SIGKILL');
    for (const s of sockets.splice(0)) s.close();
    await d?.kill();
  });

  it('two scans at once stay whole and unmixed while clients freeze, crash and drop', async () => {
    const bundle = await testBundle();
    d = await DaemonProcess.start({ bundle: bundle.dir, config: { batch: { maxSize: 32 } } });
    const url = String(d.logs.find((l) => typeof l.url === 'string')?.url);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);

    const A = simulateScan({ rows: 12, cols: 12, seed: 31, steps: bundle.T, scanId: 'scan-A' });
    const B = simulateScan({ rows: 10, cols: 14, seed: 32, steps: bundle.T, scanId: 'scan-B' });
    const pa = new Producer(d.endpoint, A);
    const pb = new Producer(d.endpoint, B);
    await pa.start();
    await pb.start();
    await pa.pixels(0, 10);
    await pb.pixels(0, 10);

    // Clients in their own processes: frozen tabs (never ack) and normal ones, on both scans.
    for (const [scan, mode] of [['scan-A', 'stall'], ['scan-B', 'stall'], ['scan-A', 'ack'], ['scan-B', 'ack'], ['scan-A', 'stall'], ['scan-B', 'ack']] as const) procs.push(spawnClient(url, scan, mode));
    await until(() => procs.every((p) => p.lines.includes('hello')), 30_000, 'every client process to be greeted');
    // Clients that connect and drop at once, some without a clean disconnect (transport torn down).
    for (let i = 0; i < 20; i++) {
      const s = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
      sockets.push(s);
      s.on('server:hello', () => (i % 2 ? s.disconnect() : s.io.engine.close()));
    }

    // Both producers at once: their messages interleave at the daemon's PULL socket (fair-queued).
    const sending = Promise.all([pa.pixels(10, 144).then(() => pa.stop()), pb.pixels(10, 140).then(() => pb.stop())]);
    await until(() => procs.every((p) => p.lines.some((l) => l.startsWith('snapshot'))), 30_000, 'every client to get a snapshot');
    for (const p of procs) p.child.kill('SIGKILL'); // vanish mid-stream
    await sending;
    pa.close();
    pb.close();
    await d.scanFinished('scan-A');
    await d.scanFinished('scan-B');

    // The daemon still serves: a fresh client gets scan A's complete maps; the vanished ones are forgotten.
    const fresh = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(fresh);
    const snapshot = await new Promise<{ scanId: string; encoded: number; missing: number }>((res) => {
      fresh.on('server:hello', () => fresh.emit('scan:select', 'scan-A'));
      fresh.on('map:snapshot', (s: { scanId: string; encoded: number; missing: number }, ack: () => void) => {
        ack();
        if (s.scanId === 'scan-A' && s.encoded === 144) res(s);
      });
    });
    expect(snapshot).toMatchObject({ encoded: 144, missing: 0 });
    let clients = -1;
    const t0 = Date.now();
    while (Date.now() - t0 < 20_000) {
      clients = (await healthz(url)).clients;
      if (clients === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(clients).toBe(1);
    expect(d.alive).toBe(true);

    await d.stop();
    expect(d.exitCode).toBe(0);
    for (const [scan, n] of [[A, 144], [B, 140]] as const) {
      const id = scan.start.scanId;
      const r = await readResults(d.resultsPath(id));
      expect(encodedPixels(r)).toEqual(Array.from({ length: n }, (_, i) => i));
      // Unmixed: each recording holds exactly its own scan's pixels, value for value.
      const rec = await openScanFile(d.recordingPath(id));
      try {
        expect(rec.count).toBe(n);
        for (const p of rec.pixels()) {
          const q = scan.pixel(p.seq);
          expect([p.scanId, p.row, p.col]).toEqual([id, q.row, q.col]);
          for (let b = 0; b < q.data.length; b++) expect(p.data[b]).toEqual(Float32Array.from(q.data[b]));
        }
      } finally {
        rec.close();
      }
    }
  }, 90_000);
});
