/**
 * What the page says about a scan beyond its maps, in a real browser (Debian's chromium, playwright-core) against the
 * real server and Socket.IO, fed by the in-process simulated-replay hub (test/server/support/sim-replay-hub.ts):
 * a replay started from the page that fails shows its code and message (not "completed · 0%"), a scan the model
 * does not fit shows the out-of-distribution banner, and one outlier pixel does not turn the error map black.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEFAULTS } from '../../src/config/schema.ts';
import { startDashboardServer, type DashboardServer } from '../../src/server/index.ts';
import { silentLogger } from '../../src/util/log.ts';
import { MultiReplayHub, SimReplayHub } from '../server/support/sim-replay-hub.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ROWS = 16;
const COLS = 16;
const SPIKE = 37;

let browser: Browser;
let page: Page;
let server: DashboardServer;
let hub: SimReplayHub;
let multi: MultiReplayHub;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
  hub = new SimReplayHub({
    rows: ROWS,
    cols: COLS,
    seed: 5,
    anomalies: 0,
    batch: 64,
    tickMs: 30,
    ood: { flag: true, errorRatio: 41, inputShift: 0.5, reasons: ['reconstruction error 41× the training level', 'inputs shifted 6.2 training std'], pixels: 256 },
    alerts: { enabled: true },
    spike: { seqs: [SPIKE], factor: 1e6 },
  });
  multi = new MultiReplayHub(hub, { rows: ROWS, cols: COLS, anomalies: 0, batch: 16, tickMs: 30 });
  multi.files = ['sim-7.h5', 'broken-9.h5'];
  server = await startDashboardServer({ config: { server: { ...DEFAULTS.server, port: 0, maxDeltaHz: 10 } }, hub: multi, logger: silentLogger });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  hub.play();
});

afterAll(async () => {
  multi?.pauseAll();
  await browser?.close();
  await server?.close();
});

describe('dashboard: scan status in chromium', () => {
  it('shows the out-of-distribution banner and keeps one outlier from blacking out the error map', async () => {
    await page.goto(server.url);
    await page.waitForFunction((n) => Number(document.body.dataset.encoded) === n, ROWS * COLS, { timeout: 60_000 });
    await page.waitForFunction(() => document.body.dataset.ood === '1');
    expect(await page.textContent('#ood-banner')).toBe(
      'model does not fit this scan (out of distribution): reconstruction error 41× the training level; inputs shifted 6.2 training std — its maps are unreliable until the model is fine-tuned',
    );
    expect(await page.isVisible('#alerts-off')).toBe(false);
    expect(await page.isVisible('#alert-table')).toBe(true);

    const spikeValue = hub.scanMaps.error[SPIKE];
    const ordinary = Array.from(hub.scanMaps.error).filter((_, i) => i !== SPIKE);
    expect(spikeValue).toBeGreaterThan(1e4 * Math.max(...ordinary));
    await page.waitForFunction(() => /1–99th pct/.test(document.querySelector('figure[data-key="error"] .range')?.textContent ?? ''));
    const hi = await page.$eval('figure[data-key="error"]', (f) => Number((f as HTMLElement).dataset.hi));
    expect(hi).toBeLessThanOrEqual(Math.max(...ordinary) * 1.0001); // the limit is set by ordinary pixels, not the spike
    // the ordinary pixels spread over the colormap: min…max scaling would have put all 255 in its bottom 1/1e4
    const colours = await page.$eval('figure[data-key="error"] canvas.map', (el, [rows, cols, spike]) => {
      const c = el as HTMLCanvasElement;
      const sx = c.width / cols;
      const sy = c.height / rows;
      const g = c.getContext('2d')!;
      const seen = new Set<string>();
      for (let i = 0; i < rows * cols; i++) {
        if (i === spike) continue;
        const d = g.getImageData(Math.floor((i % cols) * sx + sx / 2), Math.floor(Math.floor(i / cols) * sy + sy / 2), 1, 1).data;
        seen.add(`${d[0]},${d[1]},${d[2]}`);
      }
      return seen.size;
    }, [ROWS, COLS, SPIKE] as const);
    expect(colours).toBeGreaterThan(40);
  });

  it('shows a replay started from the page that fails with its code and message', async () => {
    await page.waitForFunction(() => document.querySelectorAll('#replay-file option').length === 2);
    await page.selectOption('#replay-file', 'broken-9.h5');
    await page.click('#replay-start');
    await page.waitForFunction(() => document.body.dataset.failure === 'LS_FILE_UNREADABLE', undefined, { timeout: 30_000 });
    const banner = await page.textContent('#scan-failure');
    expect(banner).toMatch(/^sim-s9-16x16 failed: \[LS_FILE_UNREADABLE\] replay of broken-9\.h5 failed: HDF5 failed while reading row 128/);
    expect(await page.isVisible('#scan-failure')).toBe(true);
    expect(await page.textContent('#error-line')).toMatch(/^replay sim-s9-16x16 failed: \[LS_FILE_UNREADABLE\]/);
    const option = await page.$eval('#scan-select', (s) => (s as HTMLSelectElement).selectedOptions[0]?.textContent ?? '');
    expect(option).toMatch(/· failed \[LS_FILE_UNREADABLE\] · 50%$/);
    expect(option).not.toMatch(/completed/);
    expect(pageErrors).toEqual([]);
  });

  it('decodes a traversal for each active latent channel under its map, with the count shown', async () => {
    await page.selectOption('#scan-select', hub.scanMaps.scanId);
    await page.waitForFunction((id) => (document.getElementById('progress-text')?.textContent ?? '').startsWith(id), hub.scanMaps.scanId);
    const info = hub.model();
    const active = info.channelsByKl.slice(0, info.activeCount);
    expect(active.length).toBeGreaterThan(1);
    await page.waitForFunction((n) => document.body.dataset.activeChannels === String(n), active.length);
    expect(await page.textContent('#trav-count')).toBe(`${active.length} active latent channels (of ${info.latentDim}): ${active.map((c) => `μ${c}`).join(', ')}`);
    // one traversal chart under each active channel's map, none under the others
    expect(await page.$$eval('figure.map-card canvas.trav', (cs) => cs.map((c) => (c.closest('figure') as HTMLElement).dataset.key))).toEqual(active.map((c) => `mu${c}`));
    const visible = () => page.$$eval('canvas.trav', (cs) => cs.filter((c) => (c as HTMLCanvasElement).getBoundingClientRect().height > 0).length);
    expect(await visible()).toBe(0); // nothing decoded yet: no empty charts under the maps
    await page.click('#trav-all');
    await page.waitForFunction((n) => document.body.dataset.travAll === String(n), active.length, { timeout: 30_000 });
    expect(await visible()).toBe(active.length);
    await page.screenshot({ path: 'test-artifacts/dashboard-status.png', fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
