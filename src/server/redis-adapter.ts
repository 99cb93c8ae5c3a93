/**
 * The Socket.IO Redis adapter (@socket.io/redis-adapter) for the dashboard: server processes on the same Redis URL
 * and key share their viewers (room broadcasts, `io.emit`, a socket id reached from any process). docs/scale.md
 * §Many viewers.
 *
 * The adapter publishes without handling failures; while Redis is down ioredis would reject those publishes (an
 * unhandled rejection ends Node) or queue them without bound. So the adapter gets a publishing client whose
 * `publish` drops and counts while Redis is not ready and never rejects: the dashboard keeps serving its own
 * process's viewers, and ingest never waits on any of it.
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import type { Server } from 'socket.io';
import { parseRedisUrl, redactRedisUrl } from '../redis/redis-url.ts';
import type { Logger } from '../util/log.ts';

export interface AttachedAdapter {
  /** messages not published because Redis was down or refused them */
  dropped(): number;
  close(): Promise<void>;
}

/** Put `io` on the Redis adapter at `url` under channel prefix `key`. */
export function attachRedisAdapter(io: Server, url: string, key: string, log: Logger): AttachedAdapter {
  parseRedisUrl(url);
  const options = { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: (times: number) => Math.min(200 * times, 5000) };
  const pub = new Redis(url, options);
  // the subscriber may queue its SUBSCRIBEs until the first connect (ioredis resubscribes after a reconnect)
  const sub = new Redis(url, { ...options, enableOfflineQueue: true });
  let lastLog = 0;
  const onError = (err: Error) => {
    if (Date.now() - lastLog < 30_000) return;
    lastLog = Date.now();
    log.warn({ redis: redactRedisUrl(url), err: err.message }, 'dashboard: Redis adapter unreachable; other viewer processes miss updates until it is back');
  };
  pub.on('error', onError);
  sub.on('error', onError);
  let dropped = 0;
  const publish = (channel: string, message: string | Buffer): Promise<number> => {
    if (pub.status !== 'ready') {
      dropped++;
      return Promise.resolve(0);
    }
    return pub.publish(channel, message).catch(() => {
      dropped++;
      return 0;
    });
  };
  const safePub = new Proxy(pub, {
    get(target, prop) {
      if (prop === 'publish') return publish;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  io.adapter(createAdapter(safePub, sub, { key, requestsTimeout: 5000 }));
  return {
    dropped: () => dropped,
    async close() {
      pub.disconnect();
      sub.disconnect();
    },
  };
}
