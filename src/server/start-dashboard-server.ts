/**
 * The dashboard server: HTTP (page, /metrics, /healthz) and Socket.IO (maps, alerts, model, stats, requests).
 *
 * Everything it sends is pulled from the hub on its own timers: map messages by each client's `MapFeed`
 * (≤ server.maxDeltaHz, drop-to-latest), stats once a second (volatile), and scan lists, alerts and model info
 * when a hub notification marked them dirty. Hub notifications only set flags, so the pipeline never waits here.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { alertEventToJson } from '../alerts/types.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../util/log.ts';
import { checkBind, originAllowed, tokenMatches, tokenOf, type OriginRule } from './access.ts';
import { buildDashboard, type StaticFile } from './dashboard-bundle.ts';
import { ServerError } from './errors.ts';
import { DASHBOARD_PROTOCOL, type ClientToServerEvents, type InterServerEvents, type Reply, type ServerToClientEvents } from './events.ts';
import { httpRoutes } from './http-routes.ts';
import type { DashboardHub } from './hub.ts';
import { MapFeed, MapReadCache, type FeedMessage } from './map-feed.ts';
import { toWireDelta, toWireSnapshot } from './map-wire.ts';
import { createDashboardMetrics, type DashboardMetrics } from './metrics.ts';
import { attachRedisAdapter } from './redis-adapter.ts';
import { answerRequests } from './requests.ts';
import { ConfigError } from '../config/errors.ts';

/** What `startDashboardServer` needs. */
export interface DashboardServerOptions {
  /** the whole config; `server.*` is used */
  config: Pick<Config, 'server'>;
  /**
   * The daemon. Absent: a viewer process (`serve --viewer`, server.redis required) that serves the page to its own
   * clients and forwards their requests to the daemon through the Socket.IO Redis adapter (docs/scale.md §Many viewers).
   */
  hub?: DashboardHub;
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

type DashSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents>;

/** The Socket.IO room of a scan's map broadcasts (Redis adapter mode). */
const scanRoom = (scanId: string) => `scan:${scanId}`;

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

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Start the dashboard server on `config.server.host:port` (port 0 = any free port).
 * @throws ConfigError when binding beyond loopback without `server.token`; ServerError LS_SERVER_LISTEN when the port cannot be bound
 */
export async function startDashboardServer(opts: DashboardServerOptions): Promise<DashboardServer> {
  const { hub, logger } = opts;
  const cfg = opts.config.server;
  checkBind(cfg);
  if (!hub && !cfg.redis) throw new ConfigError('a viewer dashboard (serve --viewer) needs server.redis (--redis URL): the Redis adapter it shares with the daemon', 'config', ['server.redis']);
  const log = logger; // the caller binds its context (the daemon passes a child with stage: 'server')
  const metrics = opts.metrics ?? createDashboardMetrics();
  if (hub) metrics.readFrom(hub);
  const files = await buildDashboard().catch((err: Error): Map<string, StaticFile> => {
    // a broken page must not take the daemon down: /metrics, /healthz and Socket.IO still work
    log.error({ err: err.message }, 'dashboard page could not be built; serving an error page');
    const body = Buffer.from(`<!doctype html><title>loopstream</title><p>The dashboard page could not be built: ${escapeHtml(err.message)}</p>\n`);
    return new Map([['/', { contentType: 'text/html; charset=utf-8', body }]]);
  });
  const startedAt = Date.now();

  // the bound port is known after listen; until then nothing can connect, so 0 is never compared
  let boundPort = 0;
  const originRule = (): OriginRule => ({ host: cfg.host, port: boundPort, allowed: cfg.allowedOrigins ?? [], token: cfg.token.length > 0 });
  // one warning per origin and reason, then counted only: a hostile page could otherwise flood the log
  const refusedSeen = new Set<string>();
  const refused = (reason: 'origin' | 'token', origin: string | undefined, address: string | undefined, via: string) => {
    metrics.refusedRequests.inc({ reason });
    const key = `${reason} ${origin ?? ''}`;
    if (refusedSeen.has(key) || refusedSeen.size > 1000) return;
    refusedSeen.add(key);
    log.warn({ reason, origin, address, via }, reason === 'origin' ? 'dashboard refused a foreign web page (Origin not allowed; see server.allowedOrigins)' : 'dashboard refused a request without a valid token');
  };

  const handleHttp = httpRoutes({
    token: cfg.token,
    origin: originRule,
    onRefused: (reason, req) => refused(reason, req.headers.origin, req.socket.remoteAddress, `HTTP ${req.url ?? ''}`.slice(0, 200)),
    files,
    metrics,
    health: () => {
      if (!hub) return { status: 'ok', role: 'viewer', uptimeSec: (Date.now() - startedAt) / 1000, clients: clientCount() };
      // ingest halted by a failed recording is not a crash (restarting does not help): reported, not a 5xx
      const halted = hub.stats().ingestHalted;
      return { status: halted ? 'ingest-halted' : 'ok', ...(halted ? { reason: halted } : {}), uptimeSec: (Date.now() - startedAt) / 1000, scans: hub.scans().length, clients: clientCount() };
    },
  });
  const http = createServer((req, res) => {
    handleHttp(req, res).catch((err: Error) => {
      log.error({ err, url: req.url }, 'dashboard request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  });

  const io = new Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents>(http, {
    serveClient: false,
    // clients only send small requests; maps flow the other way
    maxHttpBufferSize: 64 * 1024,
    // Socket.IO's defaults (ping every 25 s, 20 s to answer): a client stalled for up to ~45 s stays connected and
    // catches up through drop-to-latest; one that stays silent longer is disconnected and gets a snapshot on return
    pingInterval: 25_000,
    pingTimeout: 20_000,
  });
  // Redis adapter: several server processes share viewers (room broadcasts, socket ids reachable from any process)
  const adapter = cfg.redis ? attachRedisAdapter(io, cfg.redis, cfg.redisKey, log) : undefined;
  const refusal = (message: string, code: 'LS_SERVER_TOKEN' | 'LS_SERVER_ORIGIN') => Object.assign(new Error(message), { data: { code } });
  // Socket.IO runs middleware inside a promise: anything thrown here would be an unhandled rejection and end the
  // process, so every failure (even an unexpected one) is caught and becomes a refused handshake.
  io.use((socket, next) => {
    try {
      const origin = socket.handshake.headers.origin;
      if (!originAllowed(origin, socket.handshake.headers.host, originRule())) {
        refused('origin', origin, socket.handshake.address, 'Socket.IO handshake');
        return next(refusal(`forbidden: origin ${String(origin)} may not use this dashboard (server.allowedOrigins)`, 'LS_SERVER_ORIGIN'));
      }
      const presented = tokenOf(socket.request, (socket.handshake.auth as { token?: unknown }).token);
      if (tokenMatches(presented, cfg.token)) return next();
      refused('token', origin, socket.handshake.address, 'Socket.IO handshake');
      next(refusal('unauthorized: this dashboard needs its access token', 'LS_SERVER_TOKEN'));
    } catch (err) {
      log.error({ err }, 'dashboard handshake check failed; connection refused');
      next(refusal('unauthorized: the handshake could not be checked', 'LS_SERVER_TOKEN'));
    }
  });

  interface Client {
    socket: DashSocket;
    feed: MapFeed;
    /** follows the newest scan until the user picks one */
    followNewest: boolean;
  }
  const clients = new Set<Client>();
  const reads = new MapReadCache();
  let scansDirty = false;
  let lastScanList = '';
  let modelDirty = false;
  const alertsDirty = new Set<string>();

  const alertList = (scanId: string) => ({ scanId, alerts: (hub?.alerts(scanId) ?? []).map((a) => alertEventToJson({ type: a.state, alert: a, at: a.updatedAt }).alert) });
  const sendAlerts = (socket: DashSocket, scanId: string) => {
    if (!hub) return;
    socket.emit('alert:list', { scanId, alerts: hub.alerts(scanId).map((a) => alertEventToJson({ type: a.state, alert: a, at: a.updatedAt }).alert) });
  };
  const select = (c: Client, scanId: string) => {
    c.feed.select(scanId);
    sendAlerts(c.socket, scanId);
  };

  // A throw while setting up a connection (a hub read failing) must not escape into Socket.IO's promise chain, where
  // it would be an unhandled rejection: the client is dropped with a log line instead, and retries.
  io.on('connection', (socket) => {
    try {
      if (!hub) viewerConnection(socket);
      else if (adapter) sharedConnection(socket, hub);
      else onConnection(socket, hub);
    } catch (err) {
      log.error({ err, client: socket.id }, 'dashboard connection setup failed; client disconnected');
      socket.disconnect(true);
    }
  });
  const onConnection = (socket: DashSocket, hub: DashboardHub) => {
    const client: Client = {
      socket,
      followNewest: true,
      feed: new MapFeed({
        maps: (id) => hub.maps(id),
        cache: reads,
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
    // registered first, so a client whose setup fails below still leaves the set when it is disconnected
    socket.on('disconnect', (reason) => {
      clients.delete(client);
      metrics.clients.set(clients.size);
      log.info({ client: socket.id, reason, sent: client.feed.sent, dropped: client.feed.dropped }, 'dashboard client left');
    });
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
    answerRequests(socket, hub, log, {
      onReplay: (scanId) => {
        client.followNewest = false;
        select(client, scanId);
      },
    });
  };

  // ---- Redis adapter mode (server.redis): map messages go to rooms, so every process's clients get the same ones ----
  // Followers: every client of any process (by socket id), the scan it follows. Only the daemon (hub) keeps them.
  const followers = new Map<string, { scanId?: string; followNewest: boolean }>();
  /** clients of this process in adapter mode (their map messages come from the rooms, not a MapFeed) */
  const sharedLocal = new Set<DashSocket>();
  /** per followed scan, the revision of the last room broadcast; deltas start there */
  const broadcastRev = new Map<string, number>();
  let lastBroadcastMs = 0;
  const clientCount = () => clients.size + sharedLocal.size;

  /** Follow `scanId` (null: the followed scan afresh) for the client `id` of any process: room, snapshot, alerts. */
  const follow = (id: string, scanId: string | null, byUser: boolean) => {
    if (!hub) return;
    const f = followers.get(id) ?? { followNewest: true };
    followers.set(id, f);
    if (byUser) f.followNewest = false;
    const target = scanId ?? f.scanId;
    if (target === undefined) return;
    // a socket of this process joins here and now (the adapter's socketsJoin makes a round trip through Redis,
    // which may be down); one of another process through the adapter
    const local = io.sockets.sockets.get(id);
    if (f.scanId !== undefined && f.scanId !== target) {
      if (local) void local.leave(scanRoom(f.scanId));
      else io.in(id).socketsLeave(scanRoom(f.scanId));
    }
    f.scanId = target;
    if (local) void local.join(scanRoom(target));
    else io.in(id).socketsJoin(scanRoom(target));
    const maps = hub.maps(target);
    if (maps) {
      // the snapshot is taken at or after the last broadcast: the next room delta applies on top of it (map-wire.ts)
      if (!broadcastRev.has(target)) broadcastRev.set(target, maps.revision);
      const message: FeedMessage = { kind: 'snapshot', snapshot: reads.snapshot(maps) };
      metrics.mapMessages.inc({ kind: 'snapshot' });
      metrics.mapBytes.inc(mapBytes(message));
      io.to(id).emit('map:snapshot', toWireSnapshot(message.snapshot));
    }
    io.to(id).emit('alert:list', alertList(target));
  };
  /** A new client (of any process): what a connection gets first, then the newest scan. */
  const welcome = (id: string) => {
    if (!hub) return;
    const scans = hub.scans();
    io.to(id).emit('scan:list', scans);
    io.to(id).emit('model:info', hub.model());
    io.to(id).emit('stats:update', hub.stats());
    followers.set(id, { followNewest: true });
    if (scans.length > 0) follow(id, scans[0]!.id, false);
  };
  /** Room deltas at ≤ maxDeltaHz: one per followed scan that changed, the same message for every follower. */
  const broadcastDeltas = (now: number) => {
    if (!hub || now - lastBroadcastMs < 1000 / cfg.maxDeltaHz) return;
    lastBroadcastMs = now;
    const followed = new Set<string>();
    for (const f of followers.values()) if (f.scanId !== undefined) followed.add(f.scanId);
    for (const [scanId, rev] of broadcastRev) {
      const maps = hub.maps(scanId);
      if (!maps || !followed.has(scanId)) {
        broadcastRev.delete(scanId);
        continue;
      }
      let message: FeedMessage;
      if (maps.revision < rev) message = { kind: 'snapshot', snapshot: reads.snapshot(maps) }; // maps rebuilt (resumed): all start afresh
      else if (maps.revision > rev) message = { kind: 'delta', delta: reads.deltaSince(maps, rev) };
      else continue;
      broadcastRev.set(scanId, maps.revision);
      metrics.mapMessages.inc({ kind: message.kind });
      metrics.mapBytes.inc(mapBytes(message));
      if (message.kind === 'snapshot') io.to(scanRoom(scanId)).emit('map:snapshot', toWireSnapshot(message.snapshot));
      else io.to(scanRoom(scanId)).emit('map:delta', toWireDelta(message.delta));
    }
  };
  const sharedConnection = (socket: DashSocket, hub: DashboardHub) => {
    sharedLocal.add(socket);
    metrics.clients.set(clientCount());
    socket.on('disconnect', (reason) => {
      sharedLocal.delete(socket);
      followers.delete(socket.id);
      metrics.clients.set(clientCount());
      log.info({ client: socket.id, reason }, 'dashboard client left');
    });
    log.info({ client: socket.id, address: socket.handshake.address }, 'dashboard client connected (shared through Redis)');
    socket.emit('server:hello', { protocol: DASHBOARD_PROTOCOL, maxDeltaHz: cfg.maxDeltaHz, replay: typeof hub.replay === 'function' });
    welcome(socket.id);
    socket.on('scan:select', (scanId) => typeof scanId === 'string' && follow(socket.id, scanId, true));
    socket.on('map:resync', () => follow(socket.id, null, false));
    answerRequests(socket, hub, log, { onReplay: (scanId) => follow(socket.id, scanId, true) });
  };
  if (hub && adapter) {
    // requests of viewer processes' clients, validated and answered by the same code as this process's own
    const relayed = new Map<string, (req: unknown, reply: (res: Reply<unknown>) => void) => void>();
    const shim = { id: 'viewers', on: (event: string, fn: (req: unknown, reply: (res: Reply<unknown>) => void) => void) => void relayed.set(event, fn) } as unknown as DashSocket;
    answerRequests(shim, hub, log, { onReplay: () => undefined });
    io.on('viewer:join', (id) => typeof id === 'string' && welcome(id));
    io.on('viewer:select', (id, scanId) => typeof id === 'string' && follow(id, typeof scanId === 'string' ? scanId : null, typeof scanId === 'string'));
    io.on('viewer:left', (id) => void followers.delete(id));
    io.on('viewer:request', (event, req, reply) => {
      const handler = (event === 'pixel:get' || event === 'latent:traverse') && relayed.get(event);
      if (typeof reply !== 'function') return;
      if (handler) handler(req, reply);
      else reply({ ok: false, code: 'LS_SERVER_PIXEL', message: `unknown request ${String(event)}` });
    });
  }

  // ---- viewer process (no hub): serves the page, forwards its clients to the daemon through the adapter ----------
  const viewerConnection = (socket: DashSocket) => {
    sharedLocal.add(socket);
    metrics.clients.set(clientCount());
    socket.on('disconnect', () => {
      sharedLocal.delete(socket);
      metrics.clients.set(clientCount());
      io.serverSideEmit('viewer:left', socket.id);
    });
    socket.emit('server:hello', { protocol: DASHBOARD_PROTOCOL, maxDeltaHz: cfg.maxDeltaHz, replay: false });
    io.serverSideEmit('viewer:join', socket.id);
    socket.on('scan:select', (scanId) => typeof scanId === 'string' && io.serverSideEmit('viewer:select', socket.id, scanId));
    socket.on('map:resync', () => io.serverSideEmit('viewer:select', socket.id, null));
    const forward = (event: 'pixel:get' | 'latent:traverse') => (req: unknown, reply: (res: Reply<never>) => void) => {
      if (typeof reply !== 'function') return;
      io.serverSideEmitWithAck('viewer:request', event, req).then(
        (answers: Array<Reply<unknown> | null>) => reply((answers.find((a) => a !== null) ?? { ok: false, code: 'LS_SERVER_NO_DAEMON', message: 'no daemon answers on this Redis adapter (is it running with the same server.redis and server.redisKey?)' }) as Reply<never>),
        (err: Error) => reply({ ok: false, code: 'LS_SERVER_NO_DAEMON', message: `the daemon did not answer through Redis: ${err.message}` }),
      );
    };
    socket.on('pixel:get', forward('pixel:get') as never);
    socket.on('latent:traverse', forward('latent:traverse') as never);
    const noReplay = (...args: unknown[]) => {
      const reply = args[args.length - 1];
      if (typeof reply === 'function') reply({ ok: false, code: 'LS_SERVER_REPLAY', message: 'replays are started on the daemon\'s own dashboard, not a viewer' });
    };
    socket.on('replay:list', noReplay as never);
    socket.on('replay:start', noReplay as never);
  };
  // a viewer answers other viewers' relayed requests with null: only the daemon's answer counts
  if (!hub) io.on('viewer:request', (_event, _req, reply) => typeof reply === 'function' && reply(null));

  const notifications = hub?.events$.subscribe((ev) => {
    if (ev.type === 'scan:change') scansDirty = true;
    else if (ev.type === 'alert:change') alertsDirty.add(ev.scanId);
    else modelDirty = true;
  });

  // Twice the rate limit, so timer jitter does not halve the update rate; each feed enforces its own interval.
  const feedTimer = setInterval(() => {
    if (!hub) return;
    const now = Date.now();
    if (scansDirty) {
      scansDirty = false;
      const scans = hub.scans();
      io.emit('scan:list', scans);
      const newest = scans[0]?.id;
      for (const c of clients) if (c.followNewest && newest !== undefined && c.feed.selected !== newest) select(c, newest);
      for (const [id, f] of followers) if (f.followNewest && newest !== undefined && f.scanId !== newest) follow(id, newest, false);
    }
    if (modelDirty) {
      modelDirty = false;
      io.emit('model:info', hub.model());
    }
    if (alertsDirty.size > 0) {
      for (const c of clients) if (c.feed.selected !== undefined && alertsDirty.has(c.feed.selected)) sendAlerts(c.socket, c.feed.selected);
      if (adapter) for (const scanId of alertsDirty) io.to(scanRoom(scanId)).emit('alert:list', alertList(scanId));
      alertsDirty.clear();
    }
    for (const c of clients) c.feed.tick(now);
    if (adapter) broadcastDeltas(now);
  }, 500 / cfg.maxDeltaHz);
  const statsTimer = setInterval(() => {
    if (!hub || (clients.size === 0 && followers.size === 0)) return;
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
  boundPort = port;
  const hostInUrl = cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host;
  const url = `http://${hostInUrl}:${port}/`;
  log.info({ url, maxDeltaHz: cfg.maxDeltaHz, token: cfg.token.length > 0, ...(adapter ? { role: hub ? 'daemon' : 'viewer', redisKey: cfg.redisKey } : {}) }, hub ? 'dashboard listening' : 'viewer dashboard listening');

  return {
    url,
    port,
    metrics,
    clientCount,
    async close() {
      clearInterval(feedTimer);
      clearInterval(statsTimer);
      notifications?.unsubscribe();
      // no disconnect packet: clients see the transport close and keep reconnecting (a restarted daemon takes them back)
      await new Promise<void>((done) => {
        io.close(() => done());
        http.closeAllConnections();
      });
      await adapter?.close();
    },
  };
}
