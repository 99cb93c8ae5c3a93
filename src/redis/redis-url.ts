/**
 * The Redis URL every scale-out feature takes (`--redis`, `scale.redis`, `server.redis`, `facility.redis`): the job
 * queue, the Socket.IO adapter of viewer servers and the facility stream. redis:// or rediss:// (TLS), password and
 * user in the URL. Checked once here; logs only ever see the redacted form (no password).
 */
import { CodedError } from '../util/coded-error.ts';

/**
 * A Redis URL that is missing or cannot be used: a usage error (the CLI exits 2). Redis not answering is a
 * ScaleError (src/scale/errors.ts), a runtime failure.
 */
export class RedisUrlError extends CodedError<'LS_SCALE_REDIS_URL'> {
  override readonly name = 'RedisUrlError';
}

/** Connection options for BullMQ (which hands `url` to ioredis): no per-command retry limit, as BullMQ requires. */
export interface RedisConnection {
  url: string;
  maxRetriesPerRequest: null;
  /** fail a command at once while disconnected instead of queueing it forever (the CLI reports it) */
  enableOfflineQueue?: boolean;
  connectTimeout: number;
}

/** Parse and check a Redis URL; throws LS_SCALE_REDIS_URL naming what is wrong (never echoing the password). */
export function parseRedisUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RedisUrlError('LS_SCALE_REDIS_URL', `Redis URL "${redactRedisUrl(raw)}" does not parse; expected redis://[:PASSWORD@]HOST:PORT[/DB] or rediss://… for TLS`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new RedisUrlError('LS_SCALE_REDIS_URL', `Redis URL "${redactRedisUrl(raw)}": scheme ${url.protocol} is not redis: or rediss: (TLS)`);
  }
  if (!url.hostname) throw new RedisUrlError('LS_SCALE_REDIS_URL', `Redis URL "${redactRedisUrl(raw)}" names no host`);
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !/^[0-9]+$/.test(db)) throw new RedisUrlError('LS_SCALE_REDIS_URL', `Redis URL "${redactRedisUrl(raw)}": database "${db}" is not a number`);
  return url;
}

/** The URL with its password (and user) replaced by `***`, for logs and error messages. */
export function redactRedisUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    if (url.username) url.username = '***';
    return url.toString();
  } catch {
    // not a URL: hide whatever sits between "//" and "@"
    return raw.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/** BullMQ connection options for a checked URL. */
export function redisConnection(raw: string): RedisConnection {
  parseRedisUrl(raw);
  return { url: raw, maxRetriesPerRequest: null, connectTimeout: 5000 };
}
