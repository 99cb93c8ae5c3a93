/**
 * No zombie daemons (issue 12 items 5, 14, 15): the real `loopstream serve` CLI with a bad configuration, a busy
 * port or a signal during start-up must end — non-zero with a clear message for a fatal error, so a supervisor
 * (systemd Restart=on-failure) restarts it — never keep serving HTTP while ingesting nothing.
 */
import { createServer, type Server } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.ts';
import { daemonConfig, runCli, type CliProcess } from '../helpers/cli.ts';
import { testBundle } from './support/test-bundle.ts';

const procs: CliProcess[] = [];
const servers: Server[] = [];
afterAll(() => {
  for (const p of procs) p.proc.kill('SIGKILL');
  for (const s of servers) s.close();
});

/** Run `serve` with these config overrides; resolves with the exit code and all stderr. */
async function serve(overrides: Record<string, unknown>, timeoutMs: number): Promise<{ code: number | null; stderr: string; p: CliProcess }> {
  const bundle = await testBundle();
  const { configPath } = daemonConfig({ model: { bundle: bundle.dir, threads: 1 }, ...overrides });
  const p = runCli(['serve', '--config', configPath]);
  procs.push(p);
  const timer = setTimeout(() => p.proc.kill('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, stderr: p.stderrText(), p };
}

/** Occupy a TCP port on 127.0.0.1 with a plain listener. */
async function busyPort(): Promise<number> {
  const port = await freePort();
  const srv = createServer();
  await new Promise<void>((res) => srv.listen(port, '127.0.0.1', res));
  servers.push(srv);
  return port;
}

describe('no zombie daemons', () => {
  // concurrent: each is one short process, but node + tsx alone take tens of seconds on a loaded 2-core machine
  it.concurrent.each([
    ['ingest.endpoint=nonsense', { endpoint: 'nonsense' }, /ingest\.endpoint.*a ZeroMQ endpoint/],
    ['a TCP port beyond 65535', { endpoint: 'tcp://127.0.0.1:70000' }, /ingest\.endpoint.*TCP port must be 1-65535/],
    ['ingest.highWaterMark=3000000000', { highWaterMark: 3_000_000_000 }, /ingest\.highWaterMark/],
    ['a short CURVE secret key', { curve: { serverSecretKey: 'tooshort', serverPublicKey: '' } }, /ingest\.curve\.serverSecretKey.*40 characters/],
    ['a status endpoint that is not one', { statusEndpoint: 'udp://x' }, /ingest\.statusEndpoint/],
  ])('exits 2 at once on %s, naming the key', async (_name, ingest, message) => {
    const { code, stderr } = await serve({ ingest: { endpoint: 'tcp://127.0.0.1:*', ...ingest } }, 170_000);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/model loaded/); // refused before anything started
  }, 200_000);

  it('exits 1 with a fatal line when the ingest port is already in use', async () => {
    const port = await busyPort();
    const { code, stderr, p } = await serve({ ingest: { endpoint: `tcp://127.0.0.1:${port}`, statusEndpoint: '' } }, 150_000);
    expect(code).toBe(1);
    expect(stderr).toMatch(new RegExp(`fatal \\(start-up\\): cannot bind ZeroMQ pull socket to tcp://127\\.0\\.0\\.1:${port}: Address already in use`));
    expect(p.logs.some((l) => l.level === 60 && /Address already in use/.test(String(l.msg)))).toBe(true);
  }, 180_000);

  it('exits 1 when the status channel port is already in use', async () => {
    const port = await busyPort();
    const { code, stderr } = await serve({ ingest: { endpoint: 'tcp://127.0.0.1:*', statusEndpoint: `tcp://127.0.0.1:${port}` } }, 150_000);
    expect(code).toBe(1);
    expect(stderr).toMatch(/cannot bind the ZeroMQ status channel \(PUB\) to tcp:\/\/127\.0\.0\.1:\d+: Address already in use/);
  }, 180_000);

  it('warns when ingest is bound beyond loopback without CURVE, and ends on SIGTERM', async () => {
    const bundle = await testBundle();
    const { configPath } = daemonConfig({ model: { bundle: bundle.dir, threads: 1 }, ingest: { endpoint: 'tcp://0.0.0.0:*', statusEndpoint: '' } });
    const p = runCli(['serve', '--config', configPath]);
    procs.push(p);
    const warning = await p.waitForLog((l) => l.code === 'LS_INGEST_EXPOSED', 'the exposure warning', 150_000);
    expect(warning.msg).toMatch(/reachable beyond this machine, and ingest\.curve\.serverSecretKey is empty/);
    await p.waitForLog((l) => String(l.msg).startsWith('loopstream serving'), 'serving', 60_000);
    p.proc.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  }, 240_000);

  it('ends on SIGTERM while still starting up', async () => {
    const bundle = await testBundle();
    const { configPath } = daemonConfig({ model: { bundle: bundle.dir, threads: 1 }, ingest: { endpoint: 'tcp://127.0.0.1:*', statusEndpoint: '' } });
    const p = runCli(['serve', '--config', configPath]);
    procs.push(p);
    await p.waitForLog((l) => l.msg === 'model loaded', 'the model loaded', 150_000);
    p.proc.kill('SIGTERM');
    const timer = setTimeout(() => p.proc.kill('SIGKILL'), 30_000);
    const code = await p.exited;
    clearTimeout(timer);
    expect(p.proc.signalCode).toBeNull(); // it exited by itself, not by the SIGKILL above
    expect(code).toBe(0);
  }, 200_000);
});
