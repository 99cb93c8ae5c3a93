/**
 * The facility view end to end (issue 14 part 3): a real redis-server on a free loopback port, two live daemons
 * (`startLive`, as `loopstream serve` runs it, in this process) each receiving a simulated scan over ZeroMQ and
 * publishing to the facility stream, the facility server (`loopstream facility`) following it with XREAD BLOCK,
 * and Debian's chromium (playwright-core) reading the page. Then Redis is stopped mid-scan: both daemons keep
 * ingesting (every pixel sent is received, encoded and in the recording file, the scans complete) and count the
 * events they dropped.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { parseConfig } from '../../src/config/load.ts';
import { startFacilityServer, type FacilityServer } from '../../src/facility/server.ts';
import { startLive, type LiveDaemon } from '../../src/app/live.ts';
import { simulateScan } from '../../src/sim/index.ts';
import { openScanFile } from '../../src/sources/hdf5/index.ts';
import { silentLogger } from '../../src/util/log.ts';
import { Producer, until } from '../e2e/support/producer.ts';
import { testBundle } from '../e2e/support/test-bundle.ts';
import { freePort } from '../helpers/ports.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ROWS = 16;
const COLS = 16;
const N = ROWS * COLS;

describe('facility view: two daemons, one page, Redis stopped mid-scan', () => {
  let redis: TestRedis;
  let facility: FacilityServer;
  let browser: Browser;
  const daemons: LiveDaemon[] = [];
  const producers: Producer[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const bundle = await testBundle();
    for (const name of ['mic-a', 'mic-b']) {
      const dir = mkdtempSync(join(tmpdir(), `loopstream-facility-${name}-`));
      dirs.push(dir);
      const config = parseConfig(
        {
          ingest: { endpoint: `tcp://127.0.0.1:${await freePort()}`, statusEndpoint: '' },
          data: { dir, resultsFlushMs: 500 },
          model: { bundle: bundle.dir, threads: 1 },
          server: { port: 0 },
          finetune: { enabled: false },
          facility: { redis: redis.url, daemonId: name, progressMs: 200 },
        },
        'test',
      );
      daemons.push(await startLive(config, silentLogger));
    }
    facility = await startFacilityServer({ redis: redis.url, config: parseConfig({ facility: { port: 0, staleMs: 3000 } }, 'test'), log: silentLogger });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    for (const p of producers) p.close();
    await facility?.close();
    for (const d of daemons) await d.close();
    await redis?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('lists both daemons and their scans with progress, then keeps ingesting with Redis gone', async () => {
    const bundle = await testBundle();
    daemons.forEach((d, k) => producers.push(new Producer(d.endpoint, simulateScan({ rows: ROWS, cols: COLS, seed: 11 + k, steps: bundle.T, scanId: `scan-${k ? 'b' : 'a'}` }))));
    // first half of each scan
    for (const p of producers) {
      await p.start();
      await p.pixels(0, N / 2);
    }
    for (const [k, d] of daemons.entries()) await until(() => d.hub.scans()[0]?.received === N / 2, 60_000, `daemon ${k} received half its scan`);

    const page = await browser.newPage();
    await page.goto(facility.url);
    for (const [name, scan] of [['mic-a', 'scan-a'], ['mic-b', 'scan-b']]) {
      const row = page.locator(`section[data-daemon="${name}"] tr[data-scan="${scan}"]`);
      // progress as published: half the pixels received
      await row.locator('.progress').filter({ hasText: `${N / 2}/${N} px` }).waitFor({ timeout: 30_000 });
      await expect(row.locator('td').nth(2).textContent()).resolves.toBe('running');
      const link = page.locator(`section[data-daemon="${name}"] h2 a`);
      await expect(link.getAttribute('href')).resolves.toBe(daemons[name === 'mic-a' ? 0 : 1]!.url);
      await expect(page.locator(`section[data-daemon="${name}"] .model`).textContent()).resolves.toMatch(/^model .+ v\d+$/);
    }
    expect(await page.locator('section.daemon').count()).toBe(2);
    const view = facility.view();
    expect(view.daemons.map((d) => d.id)).toEqual(['mic-a', 'mic-b']);
    expect(view.daemons.every((d) => !d.stale && d.scans[0]!.meanError !== null && d.scans[0]!.encoded > 0)).toBe(true);

    // Redis goes away mid-scan: the rest of each scan still arrives, is recorded and encoded
    await redis.stop();
    await page.locator('#redis.down').waitFor({ timeout: 10_000 });
    for (const p of producers) {
      await p.pixels(N / 2, N);
      await p.stop();
    }
    for (const [k, d] of daemons.entries()) {
      await until(() => d.hub.scans()[0]?.state === 'completed', 60_000, `daemon ${k} completed its scan`);
      const scan = d.hub.scans()[0]!;
      expect(scan.received).toBe(N); // pixels recorded = pixels sent
      expect(scan.missing).toBe(0);
      expect(scan.encoded).toBe(N);
      // the dropped events are counted on the daemon's /metrics
      await until(() => d.facility!.publisher.dropped > 0, 10_000, `daemon ${k} counted a dropped event`);
      const metrics = await (await fetch(new URL('/metrics', d.url!))).text();
      const dropped = Number(/loopstream_facility_events_total\{outcome="dropped"\} (\d+)/.exec(metrics)?.[1] ?? 0);
      const published = Number(/loopstream_facility_events_total\{outcome="published"\} (\d+)/.exec(metrics)?.[1] ?? 0);
      expect(dropped).toBeGreaterThan(0);
      expect(published).toBeGreaterThan(0);
    }
    // with Redis gone nothing new reaches the page: both daemons turn stale there
    await page.locator('section.daemon.stale').nth(1).waitFor({ timeout: 15_000 });
    await page.close();
    // every pixel sent is in each daemon's recording (read back once the daemons closed their files)
    for (const d of daemons) await d.close();
    for (const [k, dir] of dirs.entries()) {
      const rec = await openScanFile(join(dir, `scan-${k ? 'b' : 'a'}.raw.h5`));
      try {
        expect(rec.count).toBe(N);
      } finally {
        rec.close();
      }
    }
  }, 180_000);
});
