import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { AlertEngine } from '../../src/alerts/alert-engine.ts';
import { DashboardSink } from '../../src/alerts/sinks/dashboard.ts';
import { JsonlSink } from '../../src/alerts/sinks/jsonl.ts';
import { WebhookSink } from '../../src/alerts/sinks/webhook.ts';
import { ZmqPubSink } from '../../src/alerts/sinks/zmq-pub.ts';
import { createAlertSinks, closeAlertSinks } from '../../src/alerts/sinks/create-sinks.ts';
import type { AlertEvent, AlertEventJson } from '../../src/alerts/types.ts';
import { alertsConfig, rasterBatches, syntheticMaps, syntheticReference } from './synthetic.ts';

const PLANTED = { rowMin: 4, rowMax: 7, colMin: 10, colMax: 14, errorFactor: 20 };
const scan = () => syntheticMaps({ rows: 20, cols: 30, seed: 21, planted: [PLANTED] });
const BOX = { rowMin: 4, rowMax: 7, colMin: 10, colMax: 14 };

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An HTTP server on port 0 with a request handler; closed after the test. */
async function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return { server, url: `http://127.0.0.1:${addr.port}/hook` };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => resolve(s));
  });
}

describe('ZeroMQ PUB sink', () => {
  it('a real zeromq Subscriber on topic "alert" receives the alert with its bounding box', async () => {
    const pub = await ZmqPubSink.create({ endpoint: 'tcp://127.0.0.1:*', topic: 'alert' });
    cleanups.push(() => pub.close());
    const sub = new zmq.Subscriber({ linger: 0 });
    cleanups.push(() => sub.close());
    sub.connect(pub.endpoint);
    sub.subscribe('alert');
    // PUB drops until the subscription has travelled (ZeroMQ's slow joiner): probe until one arrives
    const probe = { type: 'open', at: 0, alert: { id: 0, scanId: 'probe', pixels: new Uint32Array(0) } } as unknown as AlertEvent;
    const first = sub.receive();
    let got: Buffer[] | undefined;
    void first.then((m) => (got = m));
    for (let k = 0; k < 500 && !got; k++) {
      pub.deliver({ event: probe });
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(got).toBeDefined();
    // drain the probes still queued in the socket, then the engine's alerts follow in order
    const maps = scan();
    const engine = new AlertEngine(maps, syntheticReference(), alertsConfig({ warmupPixels: 0 }), [pub]);
    for (const b of rasterBatches(600, 60)) engine.onBatch(maps, b);
    engine.finish(maps);
    const received: AlertEventJson[] = [];
    while (received.length === 0 || received.at(-1)!.type !== 'closed') {
      const [topic, body] = await sub.receive();
      expect(topic!.toString()).toBe('alert');
      const ev = JSON.parse(body!.toString()) as AlertEventJson;
      if (ev.alert.scanId === 'probe') continue;
      received.push(ev);
    }
    expect(received[0]!.type).toBe('open');
    expect(received.at(-1)!.alert.bbox).toEqual(BOX);
    expect(received.at(-1)!.alert.area).toBe(20);
    expect(received.at(-1)!.alert.pixels).toHaveLength(20);
    expect(received.at(-1)!.alert.scanId).toBe('syn-21');
  });
});

describe('JSONL sink', () => {
  it('appends one JSON event per line, open … closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ls-alerts-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'sub', 'alerts.jsonl');
    const sink = new JsonlSink(path);
    const maps = scan();
    const engine = new AlertEngine(maps, syntheticReference(), alertsConfig({ warmupPixels: 0 }), [sink]);
    for (const b of rasterBatches(600, 60)) engine.onBatch(maps, b);
    engine.finish(maps);
    await sink.close();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as AlertEventJson);
    expect(lines.map((l) => l.type)).toEqual(['open', 'updated', 'closed']);
    expect(lines.at(-1)!.alert.bbox).toEqual(BOX);
    expect(() => sink.deliver({ event: { type: 'open', at: 0, alert: engine.alerts()[0]! } })).toThrow(/is closed/);
    // a second sink on the same file appends
    const again = new JsonlSink(path);
    again.deliver({ event: { type: 'closed', at: 1, alert: engine.alerts()[0]! } });
    await again.close();
    expect(readFileSync(path, 'utf8').trimEnd().split('\n')).toHaveLength(4);
  });
});

describe('dashboard sink', () => {
  it('emits each event to listeners; createAlertSinks builds the configured set', async () => {
    const d = new DashboardSink();
    const seen: string[] = [];
    d.on('alert', (e) => seen.push(e.type));
    const maps = scan();
    const engine = new AlertEngine(maps, syntheticReference(), alertsConfig({ warmupPixels: 0 }), [d]);
    for (const b of rasterBatches(600, 60)) engine.onBatch(maps, b);
    engine.finish(maps);
    expect(seen).toEqual(['open', 'updated', 'closed']);
    const sinks = await createAlertSinks(alertsConfig().sinks);
    expect(sinks.all.map((s) => s.name)).toEqual(['dashboard']);
    await closeAlertSinks(sinks);
  });
});

describe('webhook sink', () => {
  it('POSTs each event as JSON', async () => {
    const bodies: AlertEventJson[] = [];
    const { url } = await httpServer(async (req, res) => {
      bodies.push(JSON.parse(await readBody(req)) as AlertEventJson);
      res.end('ok');
    });
    const hook = new WebhookSink({ url, retries: 0, timeoutMs: 5000, backoffMs: 0, maxQueue: 100 });
    cleanups.push(() => hook.close());
    const maps = scan();
    const engine = new AlertEngine(maps, syntheticReference(), alertsConfig({ warmupPixels: 0 }), [hook]);
    for (const b of rasterBatches(600, 60)) engine.onBatch(maps, b);
    engine.finish(maps);
    await hook.idle();
    expect(bodies.map((b) => b.type)).toEqual(['open', 'updated', 'closed']);
    expect(bodies.at(-1)!.alert.bbox).toEqual(BOX);
    expect(hook.stats).toEqual({ attempts: 3, attemptsSettled: 3, sent: 3, failed: 0, dropped: 0 });
  });

  it('retries a failing endpoint (HTTP 500) retries+1 times, then gives the event up', async () => {
    let hits = 0;
    const { url } = await httpServer((_req, res) => {
      hits++;
      res.statusCode = 500;
      res.end();
    });
    const hook = new WebhookSink({ url, retries: 2, timeoutMs: 5000, backoffMs: 1, maxQueue: 100 });
    cleanups.push(() => hook.close());
    hook.deliver({ event: { type: 'open', at: 0, alert: { id: 1, pixels: new Uint32Array(0) } } as unknown as AlertEvent });
    await hook.idle();
    expect(hits).toBe(3);
    expect(hook.stats).toEqual({ attempts: 3, attemptsSettled: 3, sent: 0, failed: 1, dropped: 0 });
  });

  it('a hanging webhook does not slow the pipeline: every batch is processed while the first POST is still open', async () => {
    let firstRequest!: () => void;
    const requested = new Promise<void>((r) => (firstRequest = r));
    let requests = 0;
    const { url } = await httpServer((_req) => {
      requests++;
      firstRequest(); // never answers
    });
    const hook = new WebhookSink({ url, retries: 3, timeoutMs: 60_000, backoffMs: 10, maxQueue: 4 });
    cleanups.push(() => hook.close());
    const maps = syntheticMaps({
      rows: 60,
      cols: 60,
      seed: 22,
      planted: [0, 1, 2, 3, 4, 5, 6, 7].map((k) => ({ rowMin: 2 + 7 * k, rowMax: 5 + 7 * k, colMin: 5 + 6 * k, colMax: 9 + 6 * k, errorFactor: 20 })),
    });
    const engine = new AlertEngine(maps, syntheticReference(), alertsConfig({ warmupPixels: 0, cooldownMs: 0 }), [hook]);
    const batches = rasterBatches(3600, 60);
    let processed = 0;
    // the first region opens within the first 6 batches; wait until its POST has reached the server
    for (const b of batches.slice(0, 6)) {
      engine.onBatch(maps, b);
      processed++;
    }
    await requested;
    // the rest of the scan, yielding to the event loop between batches like the pipeline does
    for (const b of batches.slice(6)) {
      engine.onBatch(maps, b);
      processed++;
      await new Promise((r) => setImmediate(r));
    }
    engine.finish(maps);
    expect(processed).toBe(batches.length);
    expect(engine.alerts()).toHaveLength(8);
    // the first attempt is still hanging: nothing has settled, nothing was sent; the bounded queue dropped the overflow
    expect(hook.stats.attemptsSettled).toBe(0);
    expect(hook.stats.attempts).toBe(1);
    expect(requests).toBe(1);
    expect(hook.stats.sent).toBe(0);
    expect(hook.stats.dropped).toBeGreaterThan(0);
    expect(engine.stats.eventsSent).toBeGreaterThan(4 + 1);
    await hook.close();
    expect(hook.stats.attemptsSettled).toBe(1);
    expect(hook.stats.failed).toBe(1);
  });

  it('a port nothing listens on: onBatch returns, failures are counted in the background', async () => {
    const { url, server } = await httpServer(() => undefined);
    await new Promise<void>((r) => server.close(() => r())); // the port is now closed
    const hook = new WebhookSink({ url, retries: 1, timeoutMs: 1000, backoffMs: 1, maxQueue: 100 });
    cleanups.push(() => hook.close());
    const maps = scan();
    const engine = new AlertEngine(maps, syntheticReference(), alertsConfig({ warmupPixels: 0 }), [hook]);
    for (const b of rasterBatches(600, 60)) engine.onBatch(maps, b);
    engine.finish(maps);
    expect(hook.stats.attemptsSettled).toBe(0); // nothing could have run yet: deliver only queues
    await hook.idle();
    expect(hook.stats).toMatchObject({ attempts: 6, attemptsSettled: 6, sent: 0, failed: 3, dropped: 0 });
  });
});
