/**
 * Who may talk to the dashboard server: the bind rule (a token is required beyond loopback) and the token check
 * shared by HTTP and the Socket.IO handshake.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { ConfigError } from '../config/errors.ts';

/** Cookie that carries the token after the page was opened with `?token=…`. */
export const TOKEN_COOKIE = 'loopstream_token';

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return isLoopback(h.slice(7));
  return false;
}

/**
 * Refuse a configuration that would expose the dashboard without a token.
 * @throws ConfigError (LS_CONFIG_INVALID) naming server.host and server.token
 */
export function checkBind(server: { host: string; token: string }, source = 'config'): void {
  if (isLoopback(server.host) || server.token.length > 0) return;
  throw new ConfigError(
    `${source}: server.host is "${server.host}", which is reachable beyond this machine, and server.token is empty; ` +
      `set server.token (e.g. --set server.token=$(openssl rand -hex 16)) or bind to 127.0.0.1`,
    source,
    ['server.token'],
  );
}

/** Constant-time comparison of a presented token with the configured one (hashed first so lengths do not leak). */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (expected.length === 0) return true;
  if (presented === undefined || presented.length === 0) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The value of one cookie in a Cookie header. */
function cookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

/** Where a request may carry the token: `Authorization: Bearer …`, `?token=…`, or the cookie. */
export function tokenOf(req: Pick<IncomingMessage, 'headers' | 'url'>, extra?: unknown): string | undefined {
  if (typeof extra === 'string' && extra.length > 0) return extra;
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const url = new URL(req.url ?? '/', 'http://x');
  const q = url.searchParams.get('token');
  if (q) return q;
  return cookie(req.headers.cookie, TOKEN_COOKIE);
}
