/**
 * Issue 12, the recording side, on a real `loopstream serve` process and real files:
 *  - item 4: a start with metadata nested 100,000 deep (~200 KB) is refused (LS_FRAME_METADATA); it no longer
 *    overflows JSON.stringify in the recorder and halts ingest for everyone — the next scan records normally;
 *  - item 7: scan ids `.` and `..` are refused (LS_FRAME_SCAN_ID); nothing is written beside or above data.dir;
 *  - item 11: a scan id used again after its scan completed gets a new instance (`<id>~2.*`); both scans' files
 *    are kept and readable, the first one's results untouched;
 *  - item 12: a re-sent start with another phaseUnit or grid order is refused (LS_FRAME_START_LAYOUT) and the
 *    running scan keeps its first start;
 *  - item 15: `loopstream scans list` shows an abandoned (unfinished) recording, `scans discard` moves it into
 *    data.dir/discarded/ and the next daemon start no longer resumes it.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import * as zmq from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeStart } from '../../src/protocol/encode.ts';
import { simulateScan } from '../../src/sim/index.ts';
import { openScanFile } from '../../src/sources/hdf5/index.ts';
import { DaemonProcess, ROOT } from './support/daemon-process.ts';
import { Producer } from './support/producer.ts';
import { readResults } from './support/results.ts';
import { testBundle } from './support/test-bundle.ts';

const run = promisify(execFile);
const cli = (args: string[]) => run(process.execPath, [join(ROOT, 'bin/loopstream.js'), ...args], { cwd: ROOT });

describe('integrity of the recordings (issue 12: items 4, 7, 11, 12, scans list|discard)', () => {
  let d: DaemonProcess | undefined;
  afterEach(async () => {
    await d?.kill();
    d = undefined;
  });

  it('refuses hostile starts with codes, keeps reused ids apart, and lists/discards abandoned recordings', async () => {
    const t0 = Date.now();
    const step = (what: string) => console.info(`integrity-store +${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
    const bundle = await testBundle();
    d = await DaemonProcess.start({ bundle: bundle.dir, config: { batch: { maxSize: 8 } } });
    const sim = (scanId: string, seed: number) => simulateScan({ rows: 3, cols: 4, seed, steps: bundle.T, scanId });
    const raw = new zmq.Push({ linger: 5000 });
    raw.connect(d.endpoint);
    const base = sim('base', 1).start;

    // item 7: `.` and `..` — before, `..` wrote `<parent of data.dir>/..raw.h5`-style files and overwrote a sibling
    for (const scanId of ['.', '..']) await raw.send([Buffer.from('start'), Buffer.from(JSON.stringify({ ...base, scanId }))]);
    // item 4: depth 100,000, ~200 KB
    const deep = JSON.stringify({ ...base, scanId: 'deep', metadata: {} }).replace('"metadata":{}', `"metadata":{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    await raw.send([Buffer.from('start'), Buffer.from(deep)]);

    step('hostile starts sent');
    // a normal scan right after: ingest is not halted
    const ok = new Producer(d.endpoint, sim('after-hostile', 2));
    await ok.start();
    await ok.pixels(0, 12);
    await ok.stop();
    await d.scanFinished('after-hostile');

    step('after-hostile finished');
    // item 12: a restarted producer re-sends its start with another phaseUnit, then another grid order
    const relayout = new Producer(d.endpoint, sim('relayout', 3));
    await relayout.start();
    await relayout.pixels(0, 5);
    await raw.send(encodeStart({ ...relayout.scan.start, phaseUnit: 'deg' }));
    await raw.send(encodeStart({ ...relayout.scan.start, grid: { ...relayout.scan.start.grid, order: 'serpentine' } }));
    await raw.send(encodeStart({ ...relayout.scan.start, metadata: { restarted: true } })); // same layout: continues
    await relayout.pixels(5, 12);
    await relayout.stop();
    await d.scanFinished('relayout');

    step('relayout finished');
    // item 11: the same scan id twice, each scan completed
    const first = sim('reused', 4);
    const second = sim('reused', 5);
    for (const s of [first, second]) {
      const p = new Producer(d.endpoint, s);
      const from = d.logs.length;
      await p.start();
      await p.pixels(0, 12);
      await p.stop();
      await d.waitForLog((l) => l.scanId === 'reused' && l.msg === 'scan finished', 60_000, from);
      p.close();
    }

    step('reused twice finished');
    // an abandoned scan: started, a few pixels, never stopped
    const abandoned = new Producer(d.endpoint, sim('abandoned', 6));
    await abandoned.start();
    await abandoned.pixels(0, 4);
    await d.waitForLog((l) => l.scanId === 'abandoned' && l.msg === 'scan started');
    const { url } = await d.waitForLog((l) => typeof l.url === 'string');
    await new Promise((r) => setTimeout(r, 1500)); // let the batch of 4 flush
    const health = (await (await fetch(new URL('healthz', String(url)))).json()) as { status: string };
    expect(health.status).toBe('ok');
    for (const p of [ok, relayout, abandoned]) p.close();
    raw.close();
    const stopped = await d.stop();
    expect(stopped?.rejected).toMatchObject({ LS_FRAME_SCAN_ID: 2, LS_FRAME_METADATA: 1, LS_FRAME_START_LAYOUT: 2 });
    expect(d.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith('recording failed'))).toBe(false);

    step('daemon stopped');
    // item 7: nothing outside data.dir
    const parent = dirname(d.dataDir);
    expect(readdirSync(parent).filter((n) => n.endsWith('.raw.h5') || n.endsWith('.results.h5'))).toEqual([]);
    expect(existsSync(join(d.dataDir, '..raw.h5')) || existsSync(join(d.dataDir, '...raw.h5'))).toBe(false);

    // item 4: the scan after the hostile start is complete
    const after = await readResults(d.resultsPath('after-hostile'));
    expect(after.attrs).toMatchObject({ status: 'completed', pixels_encoded: 12 });

    // item 12: the stored start is the first one
    const rl = await readResults(d.resultsPath('relayout'));
    expect(JSON.parse(String(rl.attrs.start_header_json))).toMatchObject({ phaseUnit: 'rad', grid: { order: 'raster' } });
    expect(rl.attrs).toMatchObject({ status: 'completed', pixels_encoded: 12 });

    // item 11: both scans kept, each with its own pixels
    for (const [name, s] of [['reused', first], ['reused~2', second]] as const) {
      const r = await openScanFile(join(d.dataDir, `${name}.raw.h5`));
      try {
        expect(r.start.scanId).toBe('reused');
        expect(r.stop?.status).toBe('completed');
        expect(r.count).toBe(12);
        for (const p of r.pixels()) expect(p.data[0]).toEqual(Float32Array.from(s.pixel(p.seq).data[0]));
      } finally {
        r.close();
      }
      const res = await readResults(join(d.dataDir, `${name}.results.h5`));
      expect(res.attrs).toMatchObject({ status: 'completed', pixels_encoded: 12, scan_id: 'reused' });
    }

    step('files checked');
    // scans list / discard through the real CLI
    const listed = JSON.parse((await cli(['scans', 'list', '--json', '--config', d.configPath])).stdout) as Array<Record<string, unknown>>;
    expect(listed.map((s) => [s.name, s.scanId, s.pixels, s.lastSeq])).toEqual([['abandoned', 'abandoned', 4, 3]]);
    const text = (await cli(['scans', 'list', '--config', d.configPath])).stdout;
    expect(text).toMatch(/^name\s+scan id\s+pixels\s+last seq\s+last write/);
    expect(text).toMatch(/\nabandoned\s+abandoned\s+4\s+3\s+\d{4}-/);
    const unknown = await cli(['scans', 'discard', 'no-such-scan', '--config', d.configPath]).catch((e: { code: number; stderr: string }) => e);
    expect(unknown).toMatchObject({ code: 3 });
    expect((unknown as { stderr: string }).stderr).toMatch(/\[LS_FILE_NOT_FOUND\] no unfinished recording named no-such-scan/);
    const discarded = (await cli(['scans', 'discard', 'abandoned', '--config', d.configPath])).stdout;
    expect(discarded).toContain(`moved ${join(d.dataDir, 'abandoned.raw.h5')} -> ${join(d.dataDir, 'discarded', 'abandoned.raw.h5')}`);
    expect(JSON.parse((await cli(['scans', 'list', '--json', '--config', d.configPath])).stdout)).toEqual([]);
    const kept = await openScanFile(join(d.dataDir, 'discarded', 'abandoned.raw.h5'));
    expect(kept.count).toBe(4);
    kept.close();

    step('CLI done');
    // the next start resumes nothing
    d = await DaemonProcess.start({ bundle: bundle.dir, dataDir: d.dataDir });
    const serving = d.logs.find((l) => l.msg.startsWith('loopstream serving'));
    expect(serving?.resumed).toBe(0);
  }, 420_000);
});
