/**
 * The dashboard shows a scan on its OWN axes, against the real daemon (`loopstream serve` child process) and Debian's
 * chromium: a ±10 V USID file (examples/python/make_usid.py --vmax 10) replayed from the page is plotted and exported
 * on ±10 V whatever the model's bias grid (the shipped bundle's is ±16 V), the maps carry their axes and robust colour
 * limits, and with alerting off the alerts panel says "alerts off: <why>" instead of showing an empty table.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DaemonProcess, ROOT } from './support/daemon-process.ts';
import { testBundle } from './support/test-bundle.ts';

const run = promisify(execFile);
const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ROWS = 6;
const COLS = 7;

let browser: Browser;
let page: Page;
let d: DaemonProcess | undefined;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)`);
  const bundle = await testBundle();
  const root = mkdtempSync(join(tmpdir(), 'loopstream-axis-'));
  mkdirSync(join(root, 'scans'));
  await run('/usr/bin/python3', [join(ROOT, 'examples/python/make_usid.py'), join(root, 'scans/pm10V.h5'), '--rows', String(ROWS), '--cols', String(COLS), '--steps', String(bundle.T), '--vmax', '10']);
  d = await DaemonProcess.start({ bundle: bundle.dir, config: { replay: { roots: [join(root, 'scans')] }, alerts: { enabled: false } } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  page = await browser.newPage({ viewport: { width: 1400, height: 1100 }, acceptDownloads: true });
  page.on('pageerror', (err) => pageErrors.push(err.message));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await d?.kill();
});

describe('dashboard: the scan’s own axes (real daemon, chromium)', () => {
  it('plots and exports a ±10 V scan on ±10 V, with map axes, robust limits and "alerts off: <why>"', async () => {
    const url = String(d!.logs.find((l) => typeof l.url === 'string')?.url);
    await page.goto(url);
    await page.waitForFunction(() => document.querySelectorAll('#replay-file option').length === 1);
    await page.click('#replay-start');
    await page.waitForFunction((n) => Number(document.body.dataset.encoded) === n, ROWS * COLS, { timeout: 90_000 });

    // alerting is off in this daemon: the panel says why instead of an empty table that reads "no anomalies"
    await page.waitForFunction(() => document.body.dataset.alertsOff === '1');
    expect(await page.textContent('#alerts-off')).toBe('alerts off: alerts are disabled in the configuration (alerts.enabled = false)');
    expect(await page.isVisible('#alert-table')).toBe(false);

    // maps carry their axes (pixel indices: the file gives no pixel size) and percentile colour limits
    expect(await page.textContent('figure[data-key="error"] .axes')).toBe(`x: column 0–${COLS - 1}, y: row 0–${ROWS - 1} (origin top left)`);
    // (a card rebuilt by a late model or scan-list message is redrawn on the next frame)
    await page.waitForFunction(() => /\(log\) · 1–99th pct of /.test(document.querySelector('figure[data-key="error"] .range')?.textContent ?? ''));
    const lim = await page.$eval('figure[data-key="error"]', (f) => [Number((f as HTMLElement).dataset.lo), Number((f as HTMLElement).dataset.hi)]);
    expect(lim[0]).toBeGreaterThan(0);
    expect(lim[1]).toBeGreaterThan(lim[0]);

    const box = (await page.$('figure[data-key="error"] canvas.map'))!;
    const b = (await box.boundingBox())!;
    await page.mouse.click(b.x + (2.5 * b.width) / COLS, b.y + (3.5 * b.height) / ROWS);
    await page.waitForFunction(() => document.body.dataset.pixel === '3,2');
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    const lines = readFileSync((await csv.path())!, 'utf8').trim().split('\n');
    expect(lines[2].split(',').slice(0, 2)).toEqual(['step', 'voltage_V']);
    const volts = lines.slice(3).map((l) => Number(l.split(',')[1]));
    expect(volts.length).toBeGreaterThan(8);
    // the file's own bias values: exactly ±10 V at the ends, never the model's ±16 V
    expect(Math.max(...volts)).toBe(10);
    expect(Math.min(...volts)).toBe(-10);
    const xTitle = await page.evaluate(() => {
      const c = (window as unknown as { loopstream: { pixel: { voltage: number[]; voltageUnit?: string } } }).loopstream.pixel;
      return { max: Math.max(...c.voltage), unit: c.voltageUnit };
    });
    expect(xTitle).toEqual({ max: 10, unit: 'V' });

    // a traversal decoded by the model is drawn on the followed scan's volts too
    await page.click('#trav-go');
    await page.waitForFunction(() => Number(document.body.dataset.traversal) > 0);
    const trav = await page.evaluate(() => (window as unknown as { loopstream: { traversal: { voltage: number[] } } }).loopstream.traversal.voltage);
    expect([Math.min(...trav), Math.max(...trav)]).toEqual([-10, 10]);
    expect(pageErrors).toEqual([]);
    expect(d!.alive).toBe(true);
  }, 180_000);
});
