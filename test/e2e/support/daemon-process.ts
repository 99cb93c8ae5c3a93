/**
 * A real `loopstream serve` child process for end-to-end tests and benches: writes a YAML config (temp data
 * folder, dashboard on port 0, ingest on a free TCP port), spawns the CLI, parses its pino JSON log lines from
 * stderr, and reads its memory from /proc. Nothing is mocked: the child is the daemon users run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';

/** Repository root (this file is test/e2e/support/daemon-process.ts). */
export const ROOT = resolve(import.meta.dirname, '../../..');

/** One parsed log line of the daemon. */
export type LogLine = { level: number; msg: string; time: number } & Record<string, unknown>;

/** A free TCP port on 127.0.0.1 (the OS picks it; we release it for the daemon to bind). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

/** How to start the daemon process. */
export interface DaemonProcessOptions {
  /** data folder; a fresh temp folder when absent (pass the same one to restart over the same recordings) */
  dataDir?: string;
  /** ingest TCP port; a free one when absent */
  port?: number;
  bundle: string;
  /** extra config, deep-merged over the defaults written here */
  config?: Record<string, unknown>;
  /** extra CLI arguments after `serve` */
  args?: string[];
  /** RLIMIT_FSIZE of the daemon in KiB (`ulimit -f`, SIGXFSZ ignored): writes past it fail with EFBIG, like a full disk */
  fileSizeLimitKb?: number;
  /** how long to wait for the daemon's "serving" line (default 60 s, or LOOPSTREAM_E2E_START_MS) */
  startTimeoutMs?: number;
  /** run the daemon as this user and group (tests started as root, where permission bits do not bind) */
  uid?: number;
  gid?: number;
}


function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && typeof out[k] === 'object' ? merge(out[k] as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** A running `loopstream serve` child: its parsed logs, memory, files, and stop/kill. */
export class DaemonProcess {
  readonly logs: LogLine[] = [];
  /** stderr lines that were not JSON (crash traces) */
  readonly otherOutput: string[] = [];
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  readonly exited: Promise<void>;
  private readonly waiters = new Set<() => void>();

  private constructor(
    readonly child: ChildProcess,
    readonly dataDir: string,
    readonly endpoint: string,
    readonly configPath: string,
  ) {
    let buf = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          this.logs.push(JSON.parse(line) as LogLine);
        } catch {
          if (line.trim()) this.otherOutput.push(line);
        }
      }
      for (const w of [...this.waiters]) w();
    });
    child.stdout!.resume();
    this.exited = new Promise((res) =>
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        for (const w of [...this.waiters]) w();
        res();
      }),
    );
  }

  /** Write the config and spawn the daemon; resolves once it logged its ZeroMQ endpoint. */
  static async start(opts: DaemonProcessOptions): Promise<DaemonProcess> {
    const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'loopstream-e2e-'));
    const port = opts.port ?? (await freePort());
    const endpoint = `tcp://127.0.0.1:${port}`;
    const config = merge(
      {
        // the status channel on any free port (its `auto` default, ingest port + 1, may be taken on a busy machine)
        ingest: { endpoint, statusEndpoint: 'tcp://127.0.0.1:*' },
        data: { dir: dataDir, resultsFlushMs: 500 },
        model: { bundle: opts.bundle, threads: 1 },
        server: { port: 0 },
        log: { level: 'info' },
      },
      opts.config ?? {},
    );
    const configPath = join(dataDir, `config-${Date.now()}.yaml`);
    writeFileSync(configPath, stringify(config));
    let cmd = process.execPath;
    let argv = [join(ROOT, 'bin/loopstream.js'), 'serve', '--config', configPath, ...(opts.args ?? [])];
    if (opts.fileSizeLimitKb !== undefined) {
      // An ignored signal stays ignored across exec, so the write returns EFBIG instead of killing the process.
      argv = ['-c', `trap '' XFSZ; ulimit -f ${opts.fileSizeLimitKb}; exec "$@"`, 'bash', cmd, ...argv];
      cmd = '/bin/bash';
    }
    const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOOPSTREAM_DEBUG: '1' }, uid: opts.uid, gid: opts.gid });
    const d = new DaemonProcess(child, dataDir, endpoint, configPath);
    const timeoutMs = opts.startTimeoutMs ?? Number(process.env.LOOPSTREAM_E2E_START_MS ?? 60_000);
    try {
      await d.waitForLog((l) => typeof l.endpoint === 'string' && l.msg.startsWith('loopstream serving'), timeoutMs);
    } catch (err) {
      await d.kill(); // a daemon that never came up must not outlive the test
      throw err;
    }
    return d;
  }

  /** the status channel's bound endpoint (from the `loopstream serving` line); undefined when it is off */
  get statusEndpoint(): string | undefined {
    const line = this.logs.find((l) => l.msg.startsWith('loopstream serving'));
    return typeof line?.statusEndpoint === 'string' ? line.statusEndpoint : undefined;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exitCode === null && this.exitSignal === null;
  }

  /** The first log line (from `from` on) matching `pred`; rejects on timeout or when the daemon exits first. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 30_000, from = 0): Promise<LogLine> {
    return new Promise((res, rej) => {
      const check = () => {
        const hit = this.logs.slice(from).find(pred);
        if (hit) return done(() => res(hit));
        if (!this.alive) return done(() => rej(new Error(`daemon exited (code ${this.exitCode}, signal ${this.exitSignal}) before the expected log line; last lines:\n${this.tail()}`)));
      };
      const timer = setTimeout(() => done(() => rej(new Error(`timed out after ${timeoutMs} ms waiting for a log line; last lines:\n${this.tail()}`))), timeoutMs);
      const done = (f: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        f();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves when scan `scanId` logged 'scan finished'. */
  scanFinished(scanId: string, timeoutMs = 60_000): Promise<LogLine> {
    return this.waitForLog((l) => l.scanId === scanId && l.msg === 'scan finished', timeoutMs);
  }

  /** Last log lines, for failure messages. */
  tail(n = 15): string {
    return [...this.logs.slice(-n).map((l) => JSON.stringify(l)), ...this.otherOutput.slice(-10)].join('\n');
  }

  /** Resident set size in kB (VmRSS of /proc/<pid>/status). */
  rssKb(): number {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return m ? Number(m[1]) : Number.NaN;
  }

  /** SIGTERM, wait for exit; returns the final 'stopped' line (rejected counts by code, messages received). */
  async stop(timeoutMs = 30_000): Promise<{ rejected: Record<string, number>; received: number } | undefined> {
    if (this.alive) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      await this.exited;
      clearTimeout(t);
    }
    const line = this.logs.find((l) => l.msg === 'stopped');
    return line ? { rejected: line.rejected as Record<string, number>, received: line.received as number } : undefined;
  }

  /** Kill without warning (a crash). */
  async kill(): Promise<void> {
    if (this.alive) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** `<data>/<scanId>.results.h5` */
  resultsPath(scanId: string): string {
    return join(this.dataDir, `${scanId}.results.h5`);
  }

  recordingPath(scanId: string): string {
    return join(this.dataDir, `${scanId}.raw.h5`);
  }

  hasResults(scanId: string): boolean {
    return existsSync(this.resultsPath(scanId));
  }
}
