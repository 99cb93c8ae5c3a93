/**
 * Access rules of a real `loopstream serve` process (docs/operations.md §Security): the dashboard token on HTTP and
 * Socket.IO, the refusal to bind beyond loopback without a token, and replays confined to `replay.roots` — names
 * that climb out, absolute paths, symlinks pointing outside and NUL bytes are refused. CURVE: test/e2e/curve.test.ts.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { DaemonProcess, ROOT } from './support/daemon-process.ts';
import { testBundle } from './support/test-bundle.ts';

const run = promisify(execFile);
type Reply = { ok: true; value: string } | { ok: false; code: string; message: string };

/** GET a raw, unnormalised path (fetch would resolve the dots itself). */
function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (body += c));
      r.on('end', () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on('error', rej);
    req.end();
  });
}

function connect(url: string, token?: string, extraHeaders?: Record<string, string>): Promise<Socket> {
  return new Promise((res, rej) => {
    const s = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, ...(token ? { auth: { token } } : {}), ...(extraHeaders ? { extraHeaders } : {}) });
    s.on('server:hello', () => res(s));
    s.on('connect_error', (err) => {
      s.close();
      rej(err);
    });
  });
}

describe('security: dashboard token, bind address, replay confinement', () => {
  let d: DaemonProcess | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await d?.kill();
    d = undefined;
  });

  it('requires the token on HTTP and Socket.IO when one is set (here bound to all interfaces)', async () => {
    const bundle = await testBundle();
    const token = 'e2e-token-7f3a9c';
    d = await DaemonProcess.start({ bundle: bundle.dir, config: { server: { host: '0.0.0.0', token } } });
    const url = String(d.logs.find((l) => typeof l.url === 'string')?.url);
    const local = url.replace('0.0.0.0', '127.0.0.1');
    expect(url).not.toContain(token); // the token is never logged
    expect((await fetch(new URL('/metrics', local))).status).toBe(401);
    expect((await fetch(new URL('/metrics', local), { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(new URL('/metrics', local), { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await fetch(new URL('/', local))).status).toBe(401);
    expect((await fetch(new URL(`/?token=${token}`, local))).status).toBe(200);
    expect((await fetch(new URL('/healthz', local))).status).toBe(200); // liveness stays open: counts only
    await expect(connect(local)).rejects.toThrow(/unauthorized/);
    await expect(connect(local, 'wrong')).rejects.toThrow(/unauthorized/);
    sockets.push(await connect(local, token));
  }, 60_000);

  it('refuses a malformed token cookie (401 / connect_error) and keeps running', async () => {
    const bundle = await testBundle();
    d = await DaemonProcess.start({ bundle: bundle.dir, config: { server: { token: 'tok-1' } } });
    const url = String(d.logs.find((l) => typeof l.url === 'string')?.url);
    for (const bad of ['%', '%zz', 'x%E0%A4%A']) {
      const err = await connect(url, undefined, { cookie: `loopstream_token=${bad}` }).then(
        (s) => (sockets.push(s), undefined),
        (e: Error & { data?: { code?: string } }) => e,
      );
      expect(err?.message, bad).toMatch(/unauthorized/);
      expect(err?.data?.code, bad).toBe('LS_SERVER_TOKEN');
      expect((await fetch(new URL('/metrics', url), { headers: { cookie: `loopstream_token=${bad}` } })).status, bad).toBe(401);
    }
    // the same without any token configured (the default): a cookie is then not even needed, and must not hurt
    await new Promise((r) => setTimeout(r, 300));
    expect(d.alive).toBe(true);
    const health = await fetch(new URL('/healthz', url));
    expect(health.status).toBe(200);
    expect(((await health.json()) as { status: string }).status).toBe('ok');
    sockets.push(await connect(url, 'tok-1', { cookie: 'loopstream_token=%' }));
    await d.kill();
    d = await DaemonProcess.start({ bundle: bundle.dir });
    const open = String(d.logs.find((l) => typeof l.url === 'string')?.url);
    sockets.push(await connect(open, undefined, { cookie: 'loopstream_token=%' }));
    expect((await fetch(new URL('/metrics', open), { headers: { cookie: 'loopstream_token=%' } })).status).toBe(200);
    expect(d.alive).toBe(true);
  }, 180_000);

  it('refuses web pages from other origins on Socket.IO and HTTP, serves its own and non-browser clients', async () => {
    const bundle = await testBundle();
    d = await DaemonProcess.start({ bundle: bundle.dir, config: { server: { allowedOrigins: ['https://proxy.example'] } } });
    const url = String(d.logs.find((l) => typeof l.url === 'string')?.url);
    const port = new URL(url).port;
    for (const origin of ['http://evil.example', `http://evil.example:${port}`, 'null', 'http://localhost:1']) {
      const err = await connect(url, undefined, { origin }).then(
        (s) => (sockets.push(s), undefined),
        (e: Error & { data?: { code?: string } }) => e,
      );
      expect(err?.message, origin).toMatch(/forbidden: origin/);
      expect(err?.data?.code, origin).toBe('LS_SERVER_ORIGIN');
      expect((await fetch(new URL('/metrics', url), { headers: { origin } })).status, origin).toBe(403);
    }
    // a refused page started nothing and read nothing; own and allowed origins, and clients without Origin, work
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`, 'https://proxy.example']) {
      const s = await connect(url, undefined, { origin });
      sockets.push(s);
      const list = await new Promise<{ ok: boolean }>((res) => s.emit('replay:list', (r: { ok: boolean }) => res(r)));
      expect(list.ok, origin).toBe(true);
    }
    sockets.push(await connect(url));
    const metrics = await (await fetch(new URL('/metrics', url))).text();
    expect(metrics).toMatch(/loopstream_dashboard_refused_total\{reason="origin"\} 8/);
    expect(d.logs.some((l) => l.msg.includes('refused a foreign web page') && l.origin === 'http://evil.example')).toBe(true);
    expect(d.alive).toBe(true);
  }, 60_000);

  it('refuses to serve beyond loopback without a token', async () => {
    const bundle = await testBundle();
    const err = await DaemonProcess.start({ bundle: bundle.dir, config: { server: { host: '0.0.0.0', token: '' } } }).then(
      (p) => {
        d = p;
        return undefined;
      },
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/daemon exited \(code [1-9]/);
    expect(err?.message).toMatch(/server\.host is "0\.0\.0\.0".*server\.token is empty/);
  }, 60_000);

  it('replays only files inside replay.roots', async () => {
    const bundle = await testBundle();
    const base = mkdtempSync(join(tmpdir(), 'loopstream-roots-'));
    const root = join(base, 'scans');
    const outside = join(base, 'private');
    mkdirSync(root);
    mkdirSync(outside);
    const make = (path: string) => run('/usr/bin/python3', [join(ROOT, 'examples/python/make_usid.py'), path, '--rows', '2', '--cols', '2', '--steps', String(bundle.T)]);
    await make(join(root, 'good.h5'));
    await make(join(outside, 'secret.h5'));
    symlinkSync(join(outside, 'secret.h5'), join(root, 'escape.h5'));
    symlinkSync(outside, join(root, 'linked-dir'));
    d = await DaemonProcess.start({ bundle: bundle.dir, config: { replay: { roots: [root] } } });
    const url = String(d.logs.find((l) => typeof l.url === 'string')?.url);
    const s = await connect(url);
    sockets.push(s);
    const replay = (file: string) => new Promise<Reply>((res) => s.emit('replay:start', { file }, (r: Reply) => res(r)));

    const good = await replay('good.h5');
    expect(good).toMatchObject({ ok: true });
    for (const file of ['../private/secret.h5', join(outside, 'secret.h5'), 'escape.h5', 'linked-dir/secret.h5', 'good.h5\0.txt', '..', '/etc/passwd', 'nope.h5']) {
      const r = await replay(file);
      expect(r, file).toMatchObject({ ok: false, code: 'LS_REPLAY_PATH' });
    }
    // The page's files come from memory: no request path reaches the file system.
    for (const path of ['/../../../../etc/passwd', '/..%2f..%2f..%2fetc%2fpasswd', '/%2e%2e/%2e%2e/etc/passwd', `/${'../'.repeat(8)}${root.slice(1)}/good.h5`]) {
      const r = await rawGet(url, path);
      expect(r.status, path).toBe(404);
      expect(r.body, path).not.toMatch(/root:|HDF/);
    }
    const list = await new Promise<Reply & { value?: string[] }>((res) => s.emit('replay:list', (r: Reply) => res(r as never)));
    expect(list.ok && list.value).toEqual(['good.h5']);
    expect(d.alive).toBe(true);
  }, 60_000);
});
