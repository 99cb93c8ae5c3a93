/**
 * The dashboard server: HTTP (page, /metrics, /healthz) and Socket.IO (maps, alerts, model, stats, requests).
 *
 * Everything it sends is pulled from the hub on its own timers: map messages by each client's `MapFeed`
 * (≤ server.maxDeltaHz, drop-to-latest), stats once a second (volatile), and scan lists, alerts and model info
 * when a hub notification marked them dirty. Hub notifications only set flags, so the pipeline never waits here.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { alertEventToJson } from '../alerts/types.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../util/log.ts';
import { TOKEN_COOKIE, checkBind, tokenMatches, tokenOf } from './access.ts';
import { buildDashboard, type StaticFile } from './dashboard-bundle.ts';
import { ServerError } from './errors.ts';
import { DASHBOARD_PROTOCOL, type ClientToServerEvents, type Reply, type ServerToClientEvents } from './events.ts';
import type { DashboardHub } from './hub.ts';
import { MapFeed, type FeedMessage } from './map-feed.ts';
import { toWireDelta, toWireSnapshot } from './map-wire.ts';
import { createDashboardMetrics, type DashboardMetrics } from './metrics.ts';

/** What `startDashboardServer` needs. */
export interface DashboardServerOptions {
  /** the whole config; `server.*` is used */
  config: Pick<Config, 'server'>;
  hub: DashboardHub;
  logger: Logger;
  /** the daemon's metrics (the pipeline updates them); a fresh registry when absent */
  metrics?: DashboardMetrics;
}

/** A running dashboard server. */
export interface DashboardServer {
  /** http://host:port/ (no token in it) */
  url: string;
  port: number;
  metrics: DashboardMetrics;
  /** connected Socket.IO clients */
  clientCount(): number;
  /** stop timers, disconnect clients, close the port */
  close(): Promise<void>;
}

type DashSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** Bytes a Socket.IO connection has queued and not yet handed to the kernel (engine.io's write buffer, ws backlog). */
function backlogOf(socket: DashSocket): number {
  const conn = socket.conn as unknown as { writeBuffer?: unknown[]; transport?: { writable?: boolean } };
  return (conn.writeBuffer?.length ?? 0) + (conn.transport?.writable === false ? 1 : 0);
}

function mapBytes(m: FeedMessage): number {
  if (m.kind === 'snapshot') {
    const s = m.snapshot;
    return s.mu.byteLength + s.error.byteLength + s.version.byteLength + s.state.byteLength;
  }
  const d = m.delta;
  return d.index.byteLength + d.mu.byteLength + d.error.byteLength + d.version.byteLength + d.state.byteLength;
}

function fail<T>(code: string, message: string): Reply<T> {
  return { ok: false, code, message };
}

function busy<T>(): Reply<T> {
  return fail('LS_SERVER_BUSY', 'the previous pixel or traversal request of this page is still decoding; try again when it answers');
}

/**
 * Start the dashboard server on `config.server.host:port` (port 0 = any free port).
 * @throws ConfigError when binding beyond loopback without `server.token`; ServerError LS_SERVER_LISTEN when the port cannot be bound
 */
export async function startDashboardServer(opts: DashboardServerOptions): Promise<DashboardServer> {
  const { hub, logger } = opts;
  const cfg = opts.config.server;
  checkBind(cfg);
  const log = logger; // the caller binds its context (the daemon passes a child with stage: 'server')
  const metrics = opts.metrics ?? createDashboardMetrics();
  metrics.readFrom(hub);
  const files: Map<string, StaticFile> = await buildDashboard();
  const startedAt = Date.now();

  const http = createServer((req, res) => {
    handleHttp(req, res).catch((err: Error) => {
      log.error({ err, url: req.url }, 'dashboard request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET only\n');
      return;
    }
    if (url.pathname === '/healthz') {
      // open without a token: liveness probes carry none, and it reveals only counts
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ status: 'ok', uptimeSec: (Date.now() - startedAt) / 1000, scans: hub.scans().length, clients: io.engine.clientsCount }));
      return;
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const presented = tokenOf(req);
    if (!tokenMatches(presented, cfg.token)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="loopstream"' });
      res.end('401: this dashboard needs its access token (?token=…, Authorization: Bearer …, or the loopstream_token cookie)\n');
      return;
    }
    const headers: Record<string, string> = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    if (cfg.token && url.searchParams.get('token')) {
      // the page was opened with ?token=: keep it in a cookie so its scripts and socket need not repeat it
      headers['set-cookie'] = `${TOKEN_COOKIE}=${encodeURIComponent(cfg.token)}; Path=/; HttpOnly; SameSite=Strict`;
    }
    if (url.pathname === '/metrics') {
      const body = await metrics.registry.metrics();
      res.writeHead(200, { ...headers, 'content-type': metrics.registry.contentType }).end(body);
      return;
    }
    const file = files.get(url.pathname === '/index.html' ? '/' : url.pathname);
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`404: ${url.pathname}\n`);
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': file.contentType, 'content-length': String(file.body.length) });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  }

  const io = new Server<ClientToServerEvents, ServerToClientEvents>(http, {
    serveClient: false,
    // clients only send small requests; maps flow the other way
    maxHttpBufferSize: 64 * 1024,
    // Socket.IO's defaults (ping every 25 s, 20 s to answer): a client stalled for up to ~45 s stays connected and
    // catches up through drop-to-latest; one that stays silent longer is disconnected and gets a snapshot on return
    pingInterval: 25_000,
    pingTimeout: 20_000,
  });
  io.use((socket, next) => {
    const presented = tokenOf(socket.request, (socket.handshake.auth as { token?: unknown }).token);
    if (tokenMatches(presented, cfg.token)) next();
    else next(Object.assign(new Error('unauthorized: this dashboard needs its access token'), { data: { code: 'LS_SERVER_TOKEN' } }));
  });

  interface Client {
    socket: DashSocket;
    feed: MapFeed;
    /** follows the newest scan until the user picks one */
    followNewest: boolean;
    /** a pixel or traversal request is running: decoding shares the inference engine, so one at a time per client */
    decoding: boolean;
  }
  const clients = new Set<Client>();
  let scansDirty = false;
  let lastScanList = '';
  let modelDirty = false;
  const alertsDirty = new Set<string>();

  const sendAlerts = (socket: DashSocket, scanId: string) => {
    socket.emit('alert:list', { scanId, alerts: hub.alerts(scanId).map((a) => alertEventToJson({ type: a.state, alert: a, at: a.updatedAt }).alert) });
  };
  const select = (c: Client, scanId: string) => {
    c.feed.select(scanId);
    sendAlerts(c.socket, scanId);
  };

  io.on('connection', (socket) => {
    const client: Client = {
      socket,
      followNewest: true,
      decoding: false,
      feed: new MapFeed({
        maps: (id) => hub.maps(id),
        minIntervalMs: 1000 / cfg.maxDeltaHz,
        transport: {
          send: (message, ack) => {
            metrics.mapMessages.inc({ kind: message.kind });
            metrics.mapBytes.inc(mapBytes(message));
            if (message.kind === 'snapshot') socket.emit('map:snapshot', toWireSnapshot(message.snapshot), ack);
            else socket.emit('map:delta', toWireDelta(message.delta), ack);
          },
          backlog: () => backlogOf(socket),
        },
        onDropped: () => metrics.droppedUpdates.inc(),
      }),
    };
    clients.add(client);
    metrics.clients.set(clients.size);
    log.info({ client: socket.id, address: socket.handshake.address }, 'dashboard client connected');
    socket.emit('server:hello', { protocol: DASHBOARD_PROTOCOL, maxDeltaHz: cfg.maxDeltaHz, replay: typeof hub.replay === 'function' });
    const scans = hub.scans();
    socket.emit('scan:list', scans);
    socket.emit('model:info', hub.model());
    socket.emit('stats:update', hub.stats());
    if (scans.length > 0) select(client, scans[0].id);
    client.feed.tick(Date.now());

    socket.on('scan:select', (scanId) => {
      if (typeof scanId !== 'string') return;
      client.followNewest = false;
      select(client, scanId);
      client.feed.tick(Date.now());
    });
    socket.on('map:resync', () => {
      client.feed.resync();
      client.feed.tick(Date.now());
    });
    socket.on('pixel:get', async (req, reply) => {
      if (typeof reply !== 'function') return;
      const { scanId, row, col } = req ?? ({} as never);
      const maps = typeof scanId === 'string' ? hub.maps(scanId) : undefined;
      if (!maps) return reply(fail('LS_SERVER_SCAN', `scan ${String(scanId)} is not known to this daemon`));
      if (!Number.isInteger(row) || !Number.isInteger(col) || row < 0 || col < 0 || row >= maps.rows || col >= maps.cols) {
        return reply(fail('LS_SERVER_PIXEL', `pixel (${String(row)}, ${String(col)}) is outside scan ${scanId}'s ${maps.rows}x${maps.cols} grid`));
      }
      if (client.decoding) return reply(busy());
      client.decoding = true;
      try {
        const detail = await hub.pixel(scanId, row, col);
        reply(detail ? { ok: true, value: detail } : fail('LS_SERVER_PIXEL', `pixel (${row}, ${col}) of scan ${scanId} has not been received yet`));
      } catch (err) {
        log.warn({ err, scanId, row, col }, 'pixel inspection failed');
        reply(fail('LS_SERVER_PIXEL', `pixel (${row}, ${col}) of scan ${scanId}: ${(err as Error).message}`));
      } finally {
        client.decoding = false;
      }
    });
    socket.on('latent:traverse', async (req, reply) => {
      if (typeof reply !== 'function') return;
      const info = hub.model();
      const values = req?.values;
      if (!Number.isInteger(req?.latent) || req.latent < 0 || req.latent >= info.latentDim) {
        return reply(fail('LS_SERVER_TRAVERSE', `latent ${String(req?.latent)} is not a channel of the ${info.latentDim}-d model`));
      }
      if (!Array.isArray(values) || values.length < 1 || values.length > 64 || !values.every((v) => Number.isFinite(v))) {
        return reply(fail('LS_SERVER_TRAVERSE', `traversal values must be 1 to 64 finite numbers; got ${Array.isArray(values) ? values.length : typeof values}`));
      }
      if (client.decoding) return reply(busy());
      client.decoding = true;
      try {
        reply({ ok: true, value: await hub.traverse(req) });
      } catch (err) {
        log.warn({ err, latent: req.latent }, 'latent traversal failed');
        reply(fail('LS_SERVER_TRAVERSE', `latent ${req.latent} traversal: ${(err as Error).message}`));
      } finally {
        client.decoding = false;
      }
    });
    socket.on('replay:list', async (reply) => {
      if (typeof reply !== 'function') return;
      if (!hub.replayFiles) return reply(fail('LS_SERVER_REPLAY', 'this daemon does not offer replays'));
      try {
        reply({ ok: true, value: await hub.replayFiles() });
      } catch (err) {
        reply(fail('LS_SERVER_REPLAY', (err as Error).message));
      }
    });
    socket.on('replay:start', async (req, reply) => {
      if (typeof reply !== 'function') return;
      if (!hub.replay) return reply(fail('LS_SERVER_REPLAY', 'this daemon does not offer replays'));
      if (typeof req?.file !== 'string' || req.file.length === 0) return reply(fail('LS_SERVER_REPLAY', 'replay:start needs a file name'));
      try {
        const scanId = await hub.replay(req.file);
        log.info({ file: req.file, scanId, client: socket.id }, 'replay started from the dashboard');
        client.followNewest = false;
        select(client, scanId);
        reply({ ok: true, value: scanId });
      } catch (err) {
        const e = err as Error & { code?: string };
        reply(fail(e.code ?? 'LS_SERVER_REPLAY', e.message));
      }
    });
    socket.on('disconnect', (reason) => {
      clients.delete(client);
      metrics.clients.set(clients.size);
      log.info({ client: socket.id, reason, sent: client.feed.sent, dropped: client.feed.dropped }, 'dashboard client left');
    });
  });

  const unsubscribe = [
    hub.on('scan:change', () => {
      scansDirty = true;
    }),
    hub.on('alert:change', (scanId) => {
      alertsDirty.add(scanId);
    }),
    hub.on('model:change', () => {
      modelDirty = true;
    }),
  ];

  // Twice the rate limit, so timer jitter does not halve the update rate; each feed enforces its own interval.
  const feedTimer = setInterval(() => {
    const now = Date.now();
    if (scansDirty) {
      scansDirty = false;
      const scans = hub.scans();
      io.emit('scan:list', scans);
      const newest = scans[0]?.id;
      for (const c of clients) if (c.followNewest && newest !== undefined && c.feed.selected !== newest) select(c, newest);
    }
    if (modelDirty) {
      modelDirty = false;
      io.emit('model:info', hub.model());
    }
    if (alertsDirty.size > 0) {
      for (const c of clients) if (c.feed.selected !== undefined && alertsDirty.has(c.feed.selected)) sendAlerts(c.socket, c.feed.selected);
      alertsDirty.clear();
    }
    for (const c of clients) c.feed.tick(now);
  }, 500 / cfg.maxDeltaHz);
  const statsTimer = setInterval(() => {
    if (clients.size === 0) return;
    io.volatile.emit('stats:update', hub.stats());
    // progress counts change all the time; send the list when it differs from the last one sent (small, reliable)
    const scans = hub.scans();
    const text = JSON.stringify(scans);
    if (text !== lastScanList) {
      lastScanList = text;
      io.emit('scan:list', scans);
    }
  }, 1000);
  feedTimer.unref();
  statsTimer.unref();

  await new Promise<void>((resolvePromise, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(new ServerError('LS_SERVER_LISTEN', `dashboard server: cannot listen on ${cfg.host}:${cfg.port} (${err.code ?? err.message}); pick another server.port or stop what holds it`));
    };
    http.once('error', onError);
    http.listen(cfg.port, cfg.host, () => {
      http.off('error', onError);
      resolvePromise();
    });
  });
  const port = (http.address() as AddressInfo).port;
  const hostInUrl = cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host;
  const url = `http://${hostInUrl}:${port}/`;
  log.info({ url, maxDeltaHz: cfg.maxDeltaHz, token: cfg.token.length > 0 }, 'dashboard listening');

  return {
    url,
    port,
    metrics,
    clientCount: () => clients.size,
    async close() {
      clearInterval(feedTimer);
      clearInterval(statsTimer);
      for (const off of unsubscribe) off();
      // no disconnect packet: clients see the transport close and keep reconnecting (a restarted daemon takes them back)
      await new Promise<void>((done) => {
        io.close(() => done());
        http.closeAllConnections();
      });
    },
  };
}
