/**
 * The dashboard server's HTTP side: the page (bundled at start), /metrics, /healthz, and the token rule
 * (every path but /healthz needs the token; opening the page with ?token= sets the cookie).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TOKEN_COOKIE, originAllowed, tokenMatches, tokenOf, type OriginRule } from './access.ts';
import type { StaticFile } from './dashboard-bundle.ts';
import type { DashboardMetrics } from './metrics.ts';

/** What the routes read. */
export interface HttpRoutesOptions {
  token: string;
  /** the Origin rule; called per request since the port is known only once bound */
  origin: () => OriginRule;
  /** told about every refusal (for the log and the refused metric) */
  onRefused?: (reason: 'origin' | 'token', req: IncomingMessage) => void;
  files: Map<string, StaticFile>;
  /** only its registry is read (the facility page serves its own) */
  metrics: Pick<DashboardMetrics, 'registry'>;
  /** the /healthz body: counts only */
  health: () => Record<string, unknown>;
}

/** The request handler (async; the caller turns a rejection into a 500). */
export function httpRoutes(opts: HttpRoutesOptions): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { token, files, metrics } = opts;
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET only\n');
      return;
    }
    if (url.pathname === '/healthz') {
      // open without a token: liveness probes carry none, and it reveals only counts
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(opts.health()));
      return;
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const origin = req.headers.origin;
    if (!originAllowed(origin, req.headers.host, opts.origin())) {
      // a request a foreign web page made on the user's behalf: never answered, even a GET (it may carry the cookie)
      opts.onRefused?.('origin', req);
      res.writeHead(403, { 'content-type': 'text/plain' }).end(`403: origin ${origin} may not use this dashboard (server.allowedOrigins)\n`);
      return;
    }
    if (!tokenMatches(tokenOf(req), token)) {
      opts.onRefused?.('token', req);
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="loopstream"' });
      res.end('401: this dashboard needs its access token (?token=…, Authorization: Bearer …, or the loopstream_token cookie)\n');
      return;
    }
    const headers: Record<string, string> = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    if (token && url.searchParams.get('token')) {
      // the page was opened with ?token=: keep it in a cookie so its scripts and socket need not repeat it
      headers['set-cookie'] = `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`;
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
  };
}
