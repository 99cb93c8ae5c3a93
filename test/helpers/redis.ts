/**
 * A real Redis (Debian's redis-server) for a test: on a free loopback port, nothing saved to disk, stopped by
 * `stop()`. Fails with a clear message when redis-server is not installed (.ci/run installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort } from './ports.ts';

export interface TestRedis {
  url: string;
  port: number;
  proc: ChildProcess;
  /** SIGTERM and wait for the exit */
  stop(): Promise<void>;
}

const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));

export async function startRedis(extraArgs: string[] = []): Promise<TestRedis> {
  if (!REDIS_SERVER) throw new Error('redis-server is not installed: apt-get install redis-server (see .ci/run)');
  const port = await freePort();
  const proc = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s: ${out}`)), 10_000);
    proc.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (out.includes('Ready to accept connections')) (clearTimeout(timer), resolve());
    });
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
    void exited.then(() => (clearTimeout(timer), reject(new Error(`redis-server exited: ${out}`))));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    proc,
    async stop() {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
