/** Run `loopstream` as a real child process and watch its structured (pino JSON) log lines on stderr. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';

export const BIN = new URL('../../bin/loopstream.js', import.meta.url).pathname;
export const ROOT = new URL('../..', import.meta.url).pathname;

export interface CliProcess {
  proc: ChildProcess;
  /** parsed JSON log lines so far */
  logs: Array<Record<string, unknown>>;
  stdout: string[];
  /** everything written to stderr so far */
  stderrText(): string;
  /** resolves with the first log line matching `pred` (already seen or future); rejects on exit or after `timeoutMs` */
  waitForLog(pred: (line: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

/** Start `loopstream ...args` from the repository root. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const proc = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
  const stdout: string[] = [];
  const waiters = new Set<{ pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }>();
  let stderrTail = '';
  let stderrAll = '';
  let buf = '';
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderrAll += chunk;
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      stderrTail = (stderrTail + line + '\n').slice(-4000);
      try {
        const obj = JSON.parse(line) as Record<string, unknown>;
        logs.push(obj);
        for (const w of waiters) if (w.pred(obj)) (waiters.delete(w), w.resolve(obj));
      } catch {
        /* not a log line */
      }
    }
  });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      stdout.push(out.slice(0, nl));
      out = out.slice(nl + 1);
    }
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    logs,
    stdout,
    exited,
    stderrText: () => stderrAll,
    waitForLog(pred, what, timeoutMs = 100_000) {
      const seen = logs.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        // The failure says what the process logged, so a hang is diagnosable from the test output alone.
        const timer = setTimeout(() => reject(new Error(`loopstream did not log ${what} within ${timeoutMs} ms; stderr tail:\n${stderrTail}`)), timeoutMs);
        waiters.add({ pred, resolve: (l) => (clearTimeout(timer), resolve(l)) });
        void exited.then((code) => (clearTimeout(timer), reject(new Error(`loopstream exited (${code}) before logging ${what}; stderr tail:\n${stderrTail}`))));
      });
    },
  };
}

/** A temp folder with a config file for a daemon: data dir inside it, dashboard on port 0, ZeroMQ on a free port. */
export function daemonConfig(overrides: Record<string, unknown> = {}): { dir: string; configPath: string; dataDir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ls-daemon-'));
  const dataDir = join(dir, 'data');
  const config = {
    ingest: { endpoint: 'tcp://127.0.0.1:*' },
    data: { dir: dataDir, resultsFlushMs: 500 },
    server: { port: 0 },
    log: { level: 'info' },
    // LOOPSTREAM_TEST_BUNDLE runs the process tests against another bundle than the configured default
    ...(process.env.LOOPSTREAM_TEST_BUNDLE ? { model: { bundle: process.env.LOOPSTREAM_TEST_BUNDLE } } : {}),
    ...overrides,
  };
  const configPath = join(dir, 'loopstream.yaml');
  writeFileSync(configPath, YAML.stringify(config));
  return { dir, configPath, dataDir };
}

/** Run a Python snippet with Debian's python3 (h5py, zmq, numpy) and parse its stdout as JSON. */
export async function python<T>(code: string, args: string[] = []): Promise<T> {
  const proc = spawn('/usr/bin/python3', ['-c', code, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const code_ = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
  if (code_ !== 0) throw new Error(`python3 failed (${code_}): ${err}`);
  return JSON.parse(out) as T;
}
