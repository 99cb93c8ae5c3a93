/**
 * The dashboard against the real daemon: `node bin/loopstream.js replay FILE --dashboard` replaying a simulated scan
 * file at 80 px/s through the pipeline (the model bundle encoding it, the alert engine watching it) as a child process,
 * and Debian's chromium driven by playwright-core. The maps fill in, a clicked pixel shows its loops and the model's reconstruction, an
 * alert region is outlined, and the page reconnects when the daemon is restarted on the same port.
 *
 * Runs with the e2e bundle (test/e2e/support/test-bundle.ts: the shipped fixtures/models/edge-sim, else an untrained
 * bundle of the same dims) or LOOPSTREAM_E2E_BUNDLE. The alert check needs a bundle with an alerts reference (the
 * shipped one); without it the daemon runs with alerts off and that check is skipped. LOOPSTREAM_E2E_SET adds
 * `--set` overrides (space-separated key=value), e.g. lower alert thresholds for a barely trained bundle.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ALERTS_REFERENCE_FILE } from '../../src/alerts/reference.ts';
import { SHIPPED_BUNDLE, testBundle } from './support/test-bundle.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ARTIFACTS = 'test-artifacts';
const ENV_BUNDLE = process.env.LOOPSTREAM_E2E_BUNDLE;
/** alerts need the bundle's reference statistics; the untrained fallback bundle has none */
const HAVE_ALERTS = existsSync(join(ENV_BUNDLE ?? SHIPPED_BUNDLE, ALERTS_REFERENCE_FILE));
let bundleDir: string;
const EXTRA_SET = (process.env.LOOPSTREAM_E2E_SET ?? '').split(' ').filter(Boolean);
const ROWS = 32;
const COLS = 32;

interface Daemon {
  child: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

/** Write a simulated scan file with the simulate command; its planted regions are noise bursts, which any bundle with an alerts reference flags. */
async function simulateFile(path: string, seed: number): Promise<void> {
  const child = spawn(process.execPath, ['bin/loopstream.js', 'simulate', '--rows', String(ROWS), '--cols', String(COLS), '--seed', String(seed), '--anomalies', '3', '--anomaly-kinds', 'noiseBurst', '--out', path, '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`loopstream simulate exited ${code}`);
}

/**
 * Start `loopstream replay FILE --dashboard --keep-serving` at 80 px/s and resolve with the dashboard URL from its pino
 * log line (field `url`) on stderr.
 */
function startDaemon(file: string, port: number, scanId: string): Promise<Daemon> {
  const args = [
    'bin/loopstream.js',
    'replay',
    file,
    '--dashboard',
    '--keep-serving',
    '--pace',
    '80pxps',
    '--scan-id',
    scanId,
    '--bundle',
    bundleDir,
    '--data',
    dataDir,
    '--set',
    `server.port=${port}`,
    ...EXTRA_SET.flatMap((kv) => ['--set', kv]),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines: string[] = [];
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stderr! });
    rl.on('line', (line) => {
      lines.push(line);
      try {
        const rec = JSON.parse(line) as { url?: string };
        if (rec.url) resolve({ child, url: rec.url, exited });
      } catch {
        // not a log line (a stack trace): kept for the failure message
      }
    });
    void exited.then((code) => reject(new Error(`loopstream replay exited (${code}) before serving:\n${lines.slice(-20).join('\n')}`)));
  });
}

async function stopDaemon(d: Daemon | undefined): Promise<void> {
  if (!d || d.child.exitCode !== null) return;
  d.child.kill('SIGTERM');
  const timer = setTimeout(() => d.child.kill('SIGKILL'), 10_000);
  await d.exited;
  clearTimeout(timer);
}

let browser: Browser;
let page: Page;
/** uncaught errors in the page's scripts; none are expected */
const pageErrors: string[] = [];
let daemon: Daemon | undefined;
let dataDir: string;
let scanFile: string;

describe('dashboard against the daemon', () => {
  beforeAll(async () => {
    bundleDir = ENV_BUNDLE ?? (await testBundle()).dir;
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does`);
    mkdirSync(ARTIFACTS, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'loopstream-dash-'));
    scanFile = join(dataDir, 'scan.h5');
    await simulateFile(scanFile, 11);
    // the browser first, so the page opens as soon as the daemon serves and watches the scan from its start
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
    page = await browser.newPage({ viewport: { width: 1500, height: 1250 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    daemon = await startDaemon(scanFile, 0, 'dash-e2e-1');
  });

  afterAll(async () => {
    await browser?.close();
    await stopDaemon(daemon);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('fills the maps in while the scan streams, and shows a clicked pixel’s loops with the reconstruction', async () => {
    await page.goto(daemon!.url);
    await page.waitForFunction(() => Number(document.body.dataset.encoded) > 0, undefined, { timeout: 60_000 });
    const first = Number(await page.evaluate(() => document.body.dataset.encoded));
    expect(first).toBeLessThan(ROWS * COLS); // a scan in progress
    // it grows while we watch, through deltas
    await page.waitForFunction((n) => Number(document.body.dataset.encoded) > n, first, { timeout: 60_000 });
    await page.waitForFunction((n) => Number(document.body.dataset.encoded) >= n, (ROWS * COLS) / 2, { timeout: 60_000 });
    expect(await page.evaluate(() => (window as unknown as { loopstream: { deltas: number } }).loopstream.deltas)).toBeGreaterThan(0);
    const box = (await (await page.$('figure[data-key="error"] canvas.map'))!.boundingBox())!;
    await page.mouse.click(box.x + ((1 + 0.5) * box.width) / COLS, box.y + ((2 + 0.5) * box.height) / ROWS);
    await page.waitForFunction(() => document.body.dataset.pixel === '2,1' && document.body.dataset.pixelCurves === '2');
    const shown = await page.evaluate(
      () => (window as unknown as { loopstream: { pixel: { voltage: number[]; channels: Array<{ input: number[]; reconstruction: number[] | null }> } } }).loopstream.pixel,
    );
    expect(shown.channels).toHaveLength(2);
    for (const ch of shown.channels) {
      expect(ch.input).toHaveLength(shown.voltage.length);
      expect(ch.reconstruction).toHaveLength(shown.voltage.length);
      expect(ch.input.every(Number.isFinite)).toBe(true);
    }
    // a traversal of the first channel by KL, decoded by the daemon's model
    await page.click('#trav-go');
    await page.waitForFunction(() => document.body.dataset.traversal === '7');
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-daemon-half-scan.png`, fullPage: true });
    // the docs picture: a half-finished scan with an alert outline, when one is up before the scan ends
    await page.waitForFunction((n) => document.querySelectorAll('#alert-list tr').length > 0 || Number(document.body.dataset.encoded) === n, ROWS * COLS, {
      timeout: 60_000,
    });
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-daemon-first-alert.png`, fullPage: true });
    const state = await page.evaluate(() => ({ alerts: document.querySelectorAll('#alert-list tr').length, encoded: Number(document.body.dataset.encoded) }));
    if (process.env.LOOPSTREAM_DOCS_IMG === '1' && state.alerts > 0 && state.encoded < ROWS * COLS) {
      mkdirSync('docs/img', { recursive: true });
      copyFileSync(`${ARTIFACTS}/dashboard-daemon-first-alert.png`, 'docs/img/dashboard-half-scan.png');
    }
  });

  it.skipIf(!HAVE_ALERTS)('outlines an alert region raised by the daemon', async () => {
    await page.waitForFunction(() => document.querySelectorAll('#alert-list tr').length > 0, undefined, { timeout: 60_000 });
    await page.waitForFunction((n) => Number(document.body.dataset.encoded) === n, ROWS * COLS, { timeout: 60_000 });
    const alerts = await page.evaluate(() => (window as unknown as { loopstream: { alerts: Array<{ pixels: number[] }> } }).loopstream.alerts);
    const top = alerts[0].pixels[0];
    const scale = await page.$eval('figure[data-key="error"] canvas.map', (el, cols) => (el as HTMLCanvasElement).width / cols, COLS);
    const rgb = await page.$eval(
      'figure[data-key="error"] canvas.map',
      (el, [x, y]) => Array.from((el as HTMLCanvasElement).getContext('2d')!.getImageData(x, y, 1, 1).data.slice(0, 3)),
      [(top % COLS) * scale + scale / 2, Math.floor(top / COLS) * scale] as const,
    );
    expect([[255, 159, 28], [224, 224, 224]]).toContainEqual(rgb); // an open (orange) or closed (light grey) outline
    await page.screenshot({ path: `${ARTIFACTS}/dashboard-daemon-complete.png`, fullPage: true });
  });

  it('reconnects when the daemon is restarted on the same port and follows its new replay', async () => {
    const port = Number(new URL(daemon!.url).port);
    await stopDaemon(daemon);
    await page.waitForSelector('#conn.down');
    daemon = await startDaemon(scanFile, port, 'dash-e2e-2');
    await page.waitForFunction(() => document.body.dataset.connects === '2', undefined, { timeout: 30_000 });
    await page.waitForFunction(() => (document.getElementById('progress-text')?.textContent ?? '').startsWith('dash-e2e-2:'), undefined, { timeout: 60_000 });
    await page.waitForFunction(() => Number(document.body.dataset.encoded) > 0, undefined, { timeout: 60_000 });
  });

  it('ran without an uncaught error in the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
