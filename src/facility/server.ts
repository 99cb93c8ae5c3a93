/**
 * `loopstream facility`: one page listing every daemon and scan of the facility stream, live.
 *
 * A dedicated ioredis connection backfills the stream's latest entries (XREVRANGE), then follows it with
 * XREAD BLOCK; entries are folded into a FacilityState, and the view is pushed to the browsers over Socket.IO at
 * most every 500 ms (and once a second anyway, so a silent daemon turns stale on the page). Redis going away is
 * shown on the page; the server retries every second and does not exit.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { Server } from 'socket.io';
import type { Config } from '../config/schema.ts';
import { parseRedisUrl, redactRedisUrl } from '../redis/redis-url.ts';
import { isLoopback, originAllowed, tokenMatches, tokenOf } from '../server/access.ts';
import { ConfigError } from '../config/errors.ts';
import { buildFacilityPage } from '../server/dashboard-bundle.ts';
import { ServerError } from '../server/errors.ts';
import { httpRoutes } from '../server/http-routes.ts';
import type { Logger } from '../util/log.ts';
import type { FacilityClientToServer, FacilityServerToClient, FacilityView } from './events.ts';
import { FacilityState } from './view.ts';

export interface FacilityServerOptions {
  redis: string;
  config: Pick<Config, 'facility'>;
  log: Logger;
}

export interface FacilityServer {
  url: string;
  port: number;
  state: FacilityState;
  /** the view the page gets now */
  view(): FacilityView;
  close(): Promise<void>;
}

/** Entries read back from the stream at start (the newest ones). */
const BACKFILL = 5000;
const BLOCK_MS = 1000;

export async function startFacilityServer(opts: FacilityServerOptions): Promise<FacilityServer> {
  const cfg = opts.config.facility;
  const { log } = opts;
  parseRedisUrl(opts.redis);
  // same rule as the dashboard: nothing beyond loopback without a token
  if (!isLoopback(cfg.host) && cfg.token.length === 0) {
    throw new ConfigError(`facility.host is "${cfg.host}", which is reachable beyond this machine, and facility.token is empty; set facility.token (e.g. --set facility.token=$(openssl rand -hex 16)) or bind to 127.0.0.1`, 'config', ['facility.token']);
  }
  const state = new FacilityState();
  let redisStatus: FacilityView['redis'] = { up: false, error: 'connecting' };
  const view = () => state.view(Date.now(), cfg.staleMs, redisStatus);

  // Blocking reads hold their connection: this one is only for XREAD/XREVRANGE.
  const redis = new Redis(opts.redis, { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5000, retryStrategy: (times) => Math.min(200 * times, 2000), lazyConnect: true });
  let lastErrorLog = 0;
  redis.on('error', (err: Error) => {
    if (Date.now() - lastErrorLog < 30_000) return;
    lastErrorLog = Date.now();
    log.warn({ redis: redactRedisUrl(opts.redis), err: err.message }, 'facility: Redis unreachable; retrying');
  });

  let closed = false;
  let dirty = true;
  const follow = async () => {
    let lastId: string | undefined;
    while (!closed) {
      try {
        if (redis.status === 'wait') await redis.connect();
        if (redis.status !== 'ready') throw new Error(`Redis connection ${redis.status}`);
        if (lastId === undefined) {
          const newest = (await redis.xrevrange(cfg.stream, '+', '-', 'COUNT', BACKFILL)) as Array<[string, string[]]>;
          for (const [id, fields] of newest.reverse()) state.applyJson(fieldOf(fields), Number(id.split('-')[0]));
          lastId = newest.length > 0 ? newest[newest.length - 1]![0] : '0-0';
          dirty = true;
        }
        if (!redisStatus.up) log.info({ redis: redactRedisUrl(opts.redis), stream: cfg.stream, entries: state.entries }, 'facility: following the stream');
        redisStatus = { up: true };
        const res = (await redis.xread('COUNT', 1000, 'BLOCK', BLOCK_MS, 'STREAMS', cfg.stream, lastId)) as Array<[string, Array<[string, string[]]>]> | null;
        const now = Date.now();
        for (const [, entries] of res ?? []) {
          for (const [id, fields] of entries) {
            state.applyJson(fieldOf(fields), now);
            lastId = id;
          }
          dirty = true;
        }
      } catch (err) {
        if (closed) return;
        if (redisStatus.up) dirty = true;
        redisStatus = { up: false, error: (err as Error).message };
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };

  const files = await buildFacilityPage();
  const registry = new Registry();
  let boundPort = 0;
  const origin = () => ({ host: cfg.host, port: boundPort, allowed: [], token: cfg.token.length > 0 });
  const handle = httpRoutes({ token: cfg.token, origin, files, metrics: { registry }, health: () => ({ status: redisStatus.up ? 'ok' : 'redis-down', daemons: view().daemons.length, entries: state.entries }) });
  const http = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      log.error({ err: err.message }, 'facility request failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const io = new Server<FacilityClientToServer, FacilityServerToClient>(http, { serveClient: false, maxHttpBufferSize: 4096 });
  io.use((socket, next) => {
    try {
      if (!originAllowed(socket.handshake.headers.origin, socket.handshake.headers.host, origin())) return next(new Error('forbidden: origin'));
      if (!tokenMatches(tokenOf(socket.request, (socket.handshake.auth as { token?: unknown }).token), cfg.token)) return next(new Error('unauthorized: token'));
      next();
    } catch {
      next(new Error('unauthorized'));
    }
  });
  io.on('connection', (socket) => socket.emit('facility:view', view()));
  let lastPush = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    if (!dirty && now - lastPush < 1000) return; // once a second anyway: staleness moves with time
    dirty = false;
    lastPush = now;
    io.emit('facility:view', view());
  }, 500);
  timer.unref();

  await new Promise<void>((resolve, reject) => {
    http.once('error', (err: NodeJS.ErrnoException) => reject(new ServerError('LS_SERVER_LISTEN', `facility page: cannot listen on ${cfg.host}:${cfg.port} (${err.code ?? err.message}); pick another --port`)));
    http.listen(cfg.port, cfg.host, () => resolve());
  });
  boundPort = (http.address() as AddressInfo).port;
  const following = follow();
  const url = `http://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${boundPort}/`;
  log.info({ url, redis: redactRedisUrl(opts.redis), stream: cfg.stream }, `facility page at ${url}`);
  return {
    url,
    port: boundPort,
    state,
    view,
    async close() {
      closed = true;
      clearInterval(timer);
      redis.disconnect();
      await following.catch(() => undefined);
      await new Promise<void>((done) => {
        io.close(() => done());
        http.closeAllConnections();
      });
    },
  };
}

/** The `e` field of a stream entry ([name, value, name, value, …]). */
function fieldOf(fields: string[]): string {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'e') return fields[i + 1]!;
  return '';
}
