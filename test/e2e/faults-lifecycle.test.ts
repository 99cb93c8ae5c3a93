/**
 * Long-running daemon hygiene on a real `loopstream serve` process: finished scans beyond `data.keepFinishedScans`
 * leave memory (their files stay), and a producer that reuses a finished scan's id neither overwrites the old
 * files nor loses its own pixels (a new instance `<id>~2` is recorded beside them), and ingest goes on.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { simulateScan } from '../../src/sim/index.ts';
import { DaemonProcess } from './support/daemon-process.ts';
import { Producer } from './support/producer.ts';
import { encodedPixels, readResults } from './support/results.ts';
import { testBundle } from './support/test-bundle.ts';

describe('faults: scan lifecycle over a long run', () => {
  let d: DaemonProcess | undefined;
  afterEach(async () => {
    await d?.kill();
  });

  it('keeps only the newest finished scans in memory and survives a reused scan id', async () => {
    const bundle = await testBundle();
    d = await DaemonProcess.start({ bundle: bundle.dir, config: { data: { keepFinishedScans: 2 } } });
    const url = String(d.logs.find((l) => typeof l.url === 'string')?.url);
    const scanCount = async () => ((await (await fetch(new URL('/healthz', url))).json()) as { scans: number }).scans;
    const send = async (id: string, seed: number) => {
      const p = new Producer(d!.endpoint, simulateScan({ rows: 3, cols: 3, seed, steps: bundle.T, scanId: id }));
      await p.start();
      await p.pixels(0, 9);
      await p.stop();
      p.close();
    };
    for (let k = 0; k < 4; k++) {
      await send(`life-${k}`, k);
      await d.scanFinished(`life-${k}`);
    }
    expect(await scanCount()).toBe(2);
    for (let k = 0; k < 4; k++) expect(d.hasResults(`life-${k}`)).toBe(true); // evicted from memory, not from disk

    // The same id again: a new instance (life-0~2.*) beside the old files, recorded and encoded; ingest goes on.
    await send('life-0', 99);
    const renamed = await d.waitForLog((l) => l.scanId === 'life-0' && /was used before/.test(l.msg));
    expect(renamed).toMatchObject({ files: 'life-0~2' });
    await d.waitForLog((l) => l.scanId === 'life-0' && l.msg === 'scan finished' && l.results === d!.resultsPath('life-0~2'));
    await send('life-after', 5);
    await d.scanFinished('life-after');
    await d.stop();
    expect(encodedPixels(await readResults(d.resultsPath('life-after')))).toEqual(Array.from({ length: 9 }, (_, i) => i));
    expect(encodedPixels(await readResults(d.resultsPath('life-0~2')))).toEqual(Array.from({ length: 9 }, (_, i) => i));
    expect((await readResults(d.resultsPath('life-0'))).attrs.status).toBe('completed'); // the first scan's, untouched
  }, 360_000);
});
