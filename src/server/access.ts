/**
 * Who may talk to the dashboard server: the bind rule (a token is required beyond loopback) and the token check
 * shared by HTTP and the Socket.IO handshake.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ConfigError } from '../config/errors.ts';
import { isLoopback } from '../util/loopback.ts';

export { isLoopback };

/** Cookie that carries the token after the page was opened with `?token=…`. */
export const TOKEN_COOKIE = 'loopstream_token';

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

/**
 * The value of one cookie in a Cookie header. A value that is not valid percent-encoding (`%`, `%zz`, a lone
 * surrogate) is no token at all: the request is then refused like one without a token, never answered with an error.
 */
function cookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Where a request may carry the token: `Authorization: Bearer …`, `?token=…`, or the cookie. */
export function tokenOf(req: Pick<IncomingMessage, 'headers' | 'url'>, extra?: unknown): string | undefined {
  if (typeof extra === 'string' && extra.length > 0) return extra;
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  let q: string | null = null;
  try {
    q = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
  } catch {
    // an unparsable request target carries no token
  }
  if (q) return q;
  return cookie(req.headers.cookie, TOKEN_COOKIE);
}

/** Where the dashboard serves, for the Origin rule. */
export interface OriginRule {
  /** the bind address (server.host) */
  host: string;
  /** the port actually bound */
  port: number;
  /** server.allowedOrigins: extra origins, `scheme://host[:port]` */
  allowed: readonly string[];
  /** whether a token is configured (then an Origin equal to the request's Host is the page itself) */
  token: boolean;
}

/** `scheme://host:port` with the default port made explicit and the host lower-cased; undefined when not an http(s) origin. */
function normalOrigin(origin: string): { host: string; port: number; text: string } | undefined {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  if (u.pathname !== '/' || u.search || u.hash || u.username || u.password) return undefined;
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  const host = u.hostname.toLowerCase();
  return { host, port, text: `${u.protocol}//${host}:${port}` };
}

/**
 * Whether a request's `Origin` header may use the dashboard (docs/dashboard.md §Origin):
 * - no Origin: allowed. Browsers always send one on WebSocket handshakes and cross-origin requests, so its absence
 *   means a non-browser client (curl, Prometheus, a Node Socket.IO client), which the token rule alone governs;
 * - the dashboard's own address: a loopback name (localhost, 127.x, [::1]) or the bind address on the bound port;
 * - with a token configured, the origin the request was sent to (`Host`): a page opened at http://labpc:8080/ —
 *   without a token this is not trusted, since DNS rebinding can make any name point at 127.0.0.1;
 * - any origin in `server.allowedOrigins`.
 * Everything else (`http://evil.example`, `null` from sandboxed frames and file:// pages) is refused.
 */
export function originAllowed(origin: string | undefined, hostHeader: string | undefined, rule: OriginRule): boolean {
  if (origin === undefined) return true;
  const o = normalOrigin(origin.trim());
  if (!o) return false;
  if (rule.allowed.some((a) => normalOrigin(a)?.text === o.text)) return true;
  if (o.port !== rule.port) return false;
  if (isLoopback(o.host)) return true;
  const bound = rule.host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (o.host.replace(/^\[|\]$/g, '') === bound && bound !== '0.0.0.0' && bound !== '::') return true;
  if (rule.token && hostHeader !== undefined) {
    const h = normalOrigin(`http://${hostHeader.trim()}`);
    if (h && h.host === o.host) return true;
  }
  return false;
}
