/**
 * Operator items of issue 12 #15, on real processes: pretty logs at a terminal (a pseudo-terminal from util-linux
 * `script`), JSON otherwise; package-relative defaults (serve and replay from another folder); `npx loopstream`;
 * and the `sim-corpus` command.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { openScanFile } from '../../src/sources/hdf5/index.ts';
import { resolveLogFormat } from '../../src/util/log.ts';
import { BIN, ROOT, daemonConfig } from '../helpers/cli.ts';

const run = promisify(execFile);
const SCRIPT = '/usr/bin/script';

/** Run `loopstream ...args` with cwd `cwd`; resolves with the exit code and both streams. */
async function loopstream(args: string[], cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { cwd, timeout: 240_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const jsonLines = (text: string) =>
  text.split('\n').filter(Boolean).flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });

/** A small simulated scan file written by the CLI (default bundle geometry: 96 steps, 2 cycles). */
async function smallScan(dir: string): Promise<string> {
  const file = join(dir, 'scan.h5');
  const r = await loopstream(['simulate', '--rows', '4', '--cols', '4', '--anomalies', '0', '--out', file]);
  expect(r.code).toBe(0);
  return file;
}

describe('log format', () => {
  it('auto is pretty exactly when stderr is a terminal; json and pretty are what they say', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('auto', undefined)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });

  it('writes JSON lines to a pipe, and pretty lines when --log-format pretty', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ls-logfmt-'));
    const piped = await loopstream(['simulate', '--rows', '4', '--cols', '4', '--anomalies', '0', '--out', join(dir, 'a.h5')]);
    expect(piped.code).toBe(0);
    expect(jsonLines(piped.stderr).find((l) => l.msg === 'scan file written')).toMatchObject({ level: 30, pixels: 16 });
    const pretty = await loopstream(['simulate', '--rows', '4', '--cols', '4', '--anomalies', '0', '--out', join(dir, 'b.h5'), '--log-format', 'pretty']);
    expect(pretty.code).toBe(0);
    expect(pretty.stderr).toMatch(/INFO.*scan file written/);
    expect(jsonLines(pretty.stderr)).toEqual([]);
  }, 300_000);

  it.skipIf(!existsSync(SCRIPT))('is pretty on a terminal (pseudo-terminal via script), JSON there with --log-format json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ls-logtty-'));
    const atTerminal = async (extra: string) => {
      // script runs the command on a pseudo-terminal: its stdout and stderr are both a TTY
      const cmd = `${process.execPath} ${BIN} simulate --rows 4 --cols 4 --anomalies 0 --out ${join(dir, 'x.h5')} ${extra}`;
      const { stdout } = await run(SCRIPT, ['-qec', cmd, '/dev/null'], { cwd: ROOT, timeout: 240_000 });
      // the terminal turns \n into \r\n, and pino-pretty colours
      return stdout.replace(/\r/g, '').replace(/\x1b\[[0-9;]*m/g, '');
    };
    const tty = await atTerminal('');
    expect(tty).toMatch(/INFO \(loopstream\/\d+\): scan file written/);
    expect(tty).toMatch(/pixels: 16/);
    expect(jsonLines(tty).some((l) => l.msg === 'scan file written')).toBe(false);
    const forced = await atTerminal('--log-format json');
    expect(jsonLines(forced).find((l) => l.msg === 'scan file written')).toMatchObject({ pixels: 16 });
  }, 300_000);
});

describe('default paths resolve against the package, not the working directory', () => {
  it('replay from another folder finds the default bundle; the results go to that folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ls-cwd-'));
    const file = await smallScan(dir);
    const r = await loopstream(['replay', file, '--summary-json'], dir);
    expect(r.stderr).not.toMatch(/LS_BUNDLE|ENOENT/);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as { encoded: number; results: string };
    expect(summary.encoded).toBe(16);
    expect(summary.results.startsWith(join(dir, 'data')) || existsSync(join(dir, summary.results))).toBe(true);
  }, 300_000);

  it('serve from another folder loads the default bundle and serves the dashboard', async () => {
    const { dir, configPath } = daemonConfig();
    const proc = spawn(process.execPath, [BIN, 'serve', '--config', configPath], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`serve did not log its url; stderr:\n${stderr.slice(-3000)}`)), 100_000);
        proc.stderr.setEncoding('utf8').on('data', (c: string) => {
          stderr += c;
          const line = jsonLines(stderr).find((l) => typeof l.url === 'string');
          if (line) (clearTimeout(timer), resolve(String(line.url)));
        });
        proc.on('exit', (code) => (clearTimeout(timer), reject(new Error(`serve exited ${code}; stderr:\n${stderr.slice(-3000)}`))));
      });
      const health = await fetch(new URL('/healthz', url));
      expect(health.status).toBe(200);
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<html/i);
    } finally {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
  }, 300_000);
});

describe('npx loopstream', () => {
  it('runs the package bin from the repository root', async () => {
    const { stdout } = await run('npx', ['loopstream', '--version'], { cwd: ROOT, timeout: 240_000 });
    expect(stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    const help = await run('npx', ['loopstream', '--help'], { cwd: ROOT, timeout: 240_000 });
    expect(help.stdout).toMatch(/sim-corpus/);
  }, 300_000);
});

describe('loopstream sim-corpus', () => {
  it('writes N scans and a manifest; a bad range is a usage error (exit 2)', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ls-corpus-cli-')), 'corpus');
    const r = await loopstream(['sim-corpus', '--out', out, '--scans', '2', '--seed', '3', '--grid', '5,6', '--protocol-tanh']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ out, scans: 3 });
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { seed: number; files: Array<{ file: string; params: { rows?: number } }> };
    expect(manifest.seed).toBe(3);
    expect(manifest.files.map((f) => f.file)).toEqual(['scan-0000.h5', 'scan-0001.h5', 'protocol-tanh.h5']);
    for (const f of manifest.files) expect(existsSync(join(out, f.file))).toBe(true);
    for (const f of manifest.files.slice(0, 2)) expect([5, 6]).toContain(f.params.rows);
    const bad = await loopstream(['sim-corpus', '--out', out, '--scans', '1', '--steps', '5,6']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/steps is \[5, 6\]; it must contain a multiple of 4/);
  }, 300_000);
});

describe('loopstream simulate --scenario protocol-tanh', () => {
  it('writes the docs/protocol.md scan; an unknown scenario is a usage error', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ls-scenario-')), 'tanh.h5');
    const before = process.exitCode;
    try {
      await main(['node', 'loopstream', 'simulate', '--scenario', 'protocol-tanh', '--rows', '6', '--cols', '5', '--out', out, '--log-level', 'silent']);
      expect(process.exitCode ?? 0).toBe(0);
      const r = await openScanFile(out);
      try {
        expect(r.start.metadata).toMatchObject({ scenario: 'protocol-tanh', f0Hz: 372e3, q: 180, vmax: 10 });
        expect(r.count).toBe(30);
        expect(Math.max(...r.start.dcVoltage)).toBe(10);
        expect(r.pixel(7).data[2][0]).toBeCloseTo(372e3, -3);
      } finally {
        r.close();
      }
      await main(['node', 'loopstream', 'simulate', '--scenario', 'nope', '--out', out, '--log-level', 'silent']);
      expect(process.exitCode).toBe(2);
    } finally {
      process.exitCode = before;
    }
  });
});
