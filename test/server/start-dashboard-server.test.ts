import { afterEach, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { ConfigError } from '../../src/config/errors.ts';
import { DEFAULTS } from '../../src/config/schema.ts';
import type { ClientToServerEvents, ServerToClientEvents, WireDelta, WireSnapshot } from '../../src/server/events.ts';
import { applyDelta, fromWireDelta, fromWireSnapshot, type DecodedSnapshot } from '../../src/server/map-wire.ts';
import { startDashboardServer, type DashboardServer } from '../../src/server/index.ts';
import { silentLogger } from '../../src/util/log.ts';
import { encode, makeMaps } from './support/maps.ts';
import { TEST_VOLTAGE, TestHub, testAlert } from './support/test-hub.ts';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const servers: DashboardServer[] = [];
const sockets: ClientSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  for (const s of servers.splice(0)) await s.close();
});

async function start(hub: TestHub, server: Partial<typeof DEFAULTS.server> = {}) {
  const srv = await startDashboardServer({ config: { server: { ...DEFAULTS.server, port: 0, ...server } }, hub, logger: silentLogger });
  servers.push(srv);
  return srv;
}

function client(url: string, auth: Record<string, string> = {}): ClientSocket {
  const s: ClientSocket = connect(url, { transports: ['websocket'], auth, reconnection: false, forceNew: true });
  sockets.push(s);
  return s;
}

/** Poll until `cond()` holds (no fixed sleeps; vitest's timeout bounds it). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let k = 0; !cond(); k++) {
    if (k > 2000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('dashboard server over HTTP', () => {
  it('serves the page, /healthz and /metrics read from the hub and the metric objects', async () => {
    const hub = new TestHub();
    const maps = makeMaps('s1', 4, 4, 4);
    hub.add(maps);
    hub.setAlerts('s1', [testAlert('s1', 1, [0, 1], 4), testAlert('s1', 2, [9], 4, 'closed')]);
    const srv = await start(hub);
    expect(srv.url).toBe(`http://127.0.0.1:${srv.port}/`);
    srv.metrics.ingestPixels.inc(42);
    srv.metrics.batchLatency.observe(0.02);

    const health = await fetch(new URL('/healthz', srv.url));
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', scans: 1, clients: 0 });

    const html = await fetch(srv.url);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await html.text()).toContain('<script type="module" src="app.js">');
    const js = await fetch(new URL('/app.js', srv.url));
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await js.text()).length).toBeGreaterThan(10_000);

    const text = await (await fetch(new URL('/metrics', srv.url))).text();
    expect(text).toContain('loopstream_ingest_pixels_per_second 123.5');
    expect(text).toContain('loopstream_queue_depth 7');
    expect(text).toContain('loopstream_lag_seconds 0.25');
    expect(text).toContain('loopstream_alerts_open 1');
    expect(text).toContain('loopstream_model_version 3');
    expect(text).toContain('loopstream_finetune_state{state="training"} 1');
    expect(text).toContain('loopstream_finetune_state{state="idle"} 0');
    expect(text).toContain('loopstream_ingest_pixels_total 42');
    expect(text).toContain('loopstream_inference_batch_seconds_bucket{le="0.025"} 1');
    expect(text).toContain('loopstream_inference_batch_seconds_bucket{le="0.01"} 0');
    expect(text).toContain('loopstream_dashboard_dropped_updates_total 0');

    expect((await fetch(new URL('/nope', srv.url))).status).toBe(404);
    expect((await fetch(srv.url, { method: 'POST' })).status).toBe(405);
  });

  it('refuses to bind beyond loopback without a token', async () => {
    await expect(startDashboardServer({ config: { server: { ...DEFAULTS.server, host: '0.0.0.0', port: 0 } }, hub: new TestHub(), logger: silentLogger })).rejects.toThrow(
      ConfigError,
    );
  });

  it('requires the token on HTTP and on the Socket.IO handshake when one is set', async () => {
    const hub = new TestHub();
    const srv = await start(hub, { token: 'tok-123' });
    expect((await fetch(srv.url)).status).toBe(401);
    expect((await fetch(new URL('/metrics', srv.url))).status).toBe(401);
    expect((await fetch(new URL('/metrics', srv.url), { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(new URL('/metrics', srv.url), { headers: { authorization: 'Bearer tok-123' } })).status).toBe(200);
    expect((await fetch(new URL('/healthz', srv.url))).status).toBe(200);
    const opened = await fetch(new URL('/?token=tok-123', srv.url));
    expect(opened.status).toBe(200);
    const cookie = opened.headers.get('set-cookie')!;
    expect(cookie).toBe('loopstream_token=tok-123; Path=/; HttpOnly; SameSite=Strict');
    expect((await fetch(new URL('/app.js', srv.url), { headers: { cookie: cookie.split(';')[0] } })).status).toBe(200);

    const refused = client(srv.url);
    const err = await new Promise<Error & { data?: { code: string } }>((resolve) => refused.on('connect_error', resolve));
    expect(err.message).toBe('unauthorized: this dashboard needs its access token');
    expect(err.data).toEqual({ code: 'LS_SERVER_TOKEN' });

    const admitted = client(srv.url, { token: 'tok-123' });
    await new Promise<void>((resolve) => admitted.on('connect', resolve));
    expect(srv.clientCount()).toBe(1);
  });
});

describe('dashboard server over Socket.IO', () => {
  it('sends hello, scans, model, a snapshot on connect, then deltas the client can apply to reach the server maps', async () => {
    const hub = new TestHub();
    const maps = makeMaps('s1', 5, 6, 4);
    encode(maps, [0, 1, 2], 1.5);
    hub.add(maps);
    const srv = await start(hub, { maxDeltaHz: 50 });
    const c = client(srv.url);
    const seen: string[] = [];
    let copy: DecodedSnapshot | undefined;
    c.onAny((name) => seen.push(name));
    c.on('map:snapshot', (w: WireSnapshot, ack) => {
      copy = fromWireSnapshot(w);
      ack!();
    });
    c.on('map:delta', (w: WireDelta, ack) => {
      expect(applyDelta(copy!, fromWireDelta(w, copy!.latentDim))).toBe(true);
      ack!();
    });
    await until(() => copy !== undefined, 'the snapshot');
    expect(seen.slice(0, 4)).toEqual(['server:hello', 'scan:list', 'model:info', 'stats:update']);
    expect(copy!.encoded).toBe(3);
    expect(copy!.mu[4]).toBe(1.5);

    encode(maps, [10, 11], 2);
    encode(maps, [1], 7);
    await until(() => copy!.revision === maps.revision, 'the client to catch up');
    expect(Array.from(copy!.mu)).toEqual(Array.from(maps.mu));
    expect(Array.from(copy!.state)).toEqual(Array.from(maps.state));
    expect(seen).toContain('map:delta');
  });

  it('sends alert lists, answers pixel, traversal and replay requests, and reports bad requests by code', async () => {
    const hub = new TestHub();
    const maps = makeMaps('s1', 4, 4, 4);
    encode(maps, [5], 0.5, 3);
    hub.add(maps);
    const srv = await start(hub);
    const c = client(srv.url);
    const lists: Array<{ scanId: string; alerts: Array<{ id: number; pixels: number[] }> }> = [];
    c.on('alert:list', (l) => lists.push(l));
    c.on('map:snapshot', (_w, ack) => ack!());
    await new Promise<void>((resolve) => c.on('connect', resolve));
    hub.setAlerts('s1', [testAlert('s1', 4, [5, 6, 9], 4)]);
    await until(() => lists.some((l) => l.alerts.length === 1), 'the alert list');
    const alert = lists.at(-1)!.alerts[0];
    expect(alert.id).toBe(4);
    expect(alert.pixels).toEqual([5, 6, 9]);

    const px = await c.emitWithAck('pixel:get', { scanId: 's1', row: 1, col: 1 });
    expect(px.ok).toBe(true);
    if (!px.ok) return;
    expect(px.value.voltage).toEqual(TEST_VOLTAGE);
    expect(px.value.channels[0].input).toEqual(TEST_VOLTAGE.map((v) => 2 * v));
    expect(px.value.channels[0].reconstruction).toEqual(TEST_VOLTAGE.map((v) => 2 * v + 0.5));
    expect(px.value.version).toBe(3);
    expect(px.value.mu).toEqual([0.5, 0.6, 0.7, 0.8].map(Math.fround));

    expect(await c.emitWithAck('pixel:get', { scanId: 's1', row: 4, col: 0 })).toEqual({
      ok: false,
      code: 'LS_SERVER_PIXEL',
      message: "pixel (4, 0) is outside scan s1's 4x4 grid",
    });
    expect(await c.emitWithAck('pixel:get', { scanId: 'zz', row: 0, col: 0 })).toEqual({ ok: false, code: 'LS_SERVER_SCAN', message: 'scan zz is not known to this daemon' });

    // one decode at a time per page: a second request while the first runs is refused, not queued
    let open!: () => void;
    hub.gate = new Promise((resolve) => (open = resolve));
    const slow = c.emitWithAck('pixel:get', { scanId: 's1', row: 0, col: 0 });
    expect(await c.emitWithAck('latent:traverse', { scanId: 's1', latent: 0, values: [0] })).toEqual({
      ok: false,
      code: 'LS_SERVER_BUSY',
      message: 'the previous pixel or traversal request of this page is still decoding; try again when it answers',
    });
    open();
    expect((await slow).ok).toBe(true);
    hub.gate = undefined;

    const tr = await c.emitWithAck('latent:traverse', { scanId: 's1', latent: 2, values: [-1, 0, 2] });
    expect(tr.ok && tr.value.channels[0].curves[2]).toEqual(TEST_VOLTAGE.map((v) => 2 * v));
    expect(await c.emitWithAck('latent:traverse', { scanId: 's1', latent: 4, values: [0] })).toEqual({
      ok: false,
      code: 'LS_SERVER_TRAVERSE',
      message: 'latent 4 is not a channel of the 4-d model',
    });

    expect(await c.emitWithAck('replay:list')).toEqual({ ok: true, value: ['a.h5', 'sub/b.h5'] });
    expect(await c.emitWithAck('replay:start', { file: 'sub/b.h5' })).toEqual({ ok: true, value: 'replay-sub/b.h5' });
    expect(await c.emitWithAck('replay:start', { file: '../etc/passwd' })).toEqual({
      ok: false,
      code: 'LS_REPLAY_PATH',
      message: 'replay of "../etc/passwd" refused: not a file inside the replay roots',
    });
    expect(hub.replays).toEqual(['sub/b.h5']);
  });

  it('a client that stops acking gets nothing more, is counted as dropping updates, and then gets only the latest state', async () => {
    const hub = new TestHub();
    const maps = makeMaps('s1', 20, 20, 4);
    hub.add(maps);
    const srv = await start(hub, { maxDeltaHz: 50 });
    const c = client(srv.url);
    const got: Array<{ kind: string; revision: number; from?: number; ack: () => void }> = [];
    c.on('map:snapshot', (w, ack) => got.push({ kind: 'snapshot', revision: w.revision, ack: ack! }));
    c.on('map:delta', (w, ack) => got.push({ kind: 'delta', revision: w.revision, from: w.fromRevision, ack: ack! }));
    await until(() => got.length === 1, 'the snapshot');
    got[0].ack();

    // the client now holds revision 0 and stops acking after the first delta
    encode(maps, [0], 1);
    await until(() => got.length === 2, 'the first delta');
    const stalledRevision = got[1].revision;
    for (let k = 1; k <= 60; k++) {
      encode(maps, [k % 50], 100 + k);
      await new Promise((r) => setTimeout(r, 2));
    }
    const dropped = async () => (await srv.metrics.droppedUpdates.get()).values[0]?.value ?? 0;
    for (let k = 0; (await dropped()) < 3; k++) {
      if (k > 500) throw new Error('no dropped updates counted');
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(got.length).toBe(2);

    got[1].ack(); // it catches up
    await until(() => got.length === 3, 'the catch-up delta');
    expect(got[2]).toMatchObject({ kind: 'delta', from: stalledRevision, revision: maps.revision });
    const text = await (await fetch(new URL('/metrics', srv.url))).text();
    expect(text).toMatch(/loopstream_dashboard_dropped_updates_total [1-9]/);
    expect(text).toContain('loopstream_dashboard_map_messages_total{kind="snapshot"} 1');
    expect(text).toContain('loopstream_dashboard_map_messages_total{kind="delta"} 2');
  });

  it('answers a request whose hub call throws unexpectedly with its code, and keeps serving (no unhandled rejection)', async () => {
    const hub = new TestHub();
    hub.add(makeMaps('s1', 2, 2, 4));
    const srv = await start(hub);
    const c = client(srv.url);
    await new Promise<void>((resolve) => c.on('connect', resolve));
    // a hub whose model() throws: the traversal handler fails before its own try
    hub.model = () => {
      throw new Error('model slot is closed');
    };
    const res = await new Promise<unknown>((resolve) => c.emit('latent:traverse', { scanId: 's1', latent: 0, values: [0] }, resolve));
    expect(res).toEqual({ ok: false, code: 'LS_SERVER_TRAVERSE', message: 'latent:traverse failed on the server: model slot is closed' });
    // a connection whose setup reads the throwing hub is dropped, not left half set up or crashing the server
    const late = client(srv.url);
    const reason = await new Promise<string>((resolve) => late.on('disconnect', resolve));
    expect(reason).toBe('io server disconnect');
    await until(() => srv.clientCount() === 1, 'the dropped client to leave the count');
    const health = await fetch(new URL('/healthz', srv.url));
    expect(health.status).toBe(200);
  });

  it('follows the newest scan until the user selects one', async () => {
    const hub = new TestHub();
    hub.add(makeMaps('old', 2, 2, 4));
    const srv = await start(hub);
    const c = client(srv.url);
    const snaps: string[] = [];
    let listed: string[] = [];
    c.on('scan:list', (scans) => {
      listed = scans.map((s) => s.id);
    });
    c.on('map:snapshot', (w, ack) => {
      snaps.push(w.scanId);
      ack!();
    });
    await until(() => snaps.length === 1, 'the first snapshot');
    hub.add(makeMaps('new', 3, 3, 4));
    await until(() => snaps.length === 2, 'the new scan');
    expect(snaps).toEqual(['old', 'new']);
    c.emit('scan:select', 'old');
    await until(() => snaps.length === 3, 'the selected scan');
    hub.add(makeMaps('newest', 2, 2, 4));
    await until(() => listed[0] === 'newest', 'the scan list with the newest scan');
    expect(snaps).toEqual(['old', 'new', 'old']);
  });
});
