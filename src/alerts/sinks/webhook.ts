/**
 * Webhook sink: each alert event is POSTed as JSON to a URL, with a per-attempt timeout (AbortSignal.timeout),
 * retries with exponential backoff (backoffMs · 2^k), one request at a time in event order. `deliver` only
 * queues, so a dead or hanging endpoint never slows the pipeline; a full queue drops new events and counts them.
 */
import type { Logger } from '../../util/log.ts';
import { silentLogger } from '../../util/log.ts';
import { alertEventToJson, type AlertDelivery, type AlertSink } from '../types.ts';
import { SerialQueue, settleWithin } from '../../util/serial-queue.ts';

/** Options of the webhook sink (config `alerts.sinks.webhook`). */
export interface WebhookSinkOptions {
  url: string;
  retries: number;
  timeoutMs: number;
  backoffMs: number;
  maxQueue: number;
  log?: Logger;
}

/** Counters of the webhook sink. */
export interface WebhookStats {
  /** POST attempts started */
  attempts: number;
  /** POST attempts that finished (any outcome: response, error, timeout) */
  attemptsSettled: number;
  /** events the endpoint accepted (2xx) */
  sent: number;
  /** events given up after all retries */
  failed: number;
  /** events refused because the queue was full, or abandoned at close */
  dropped: number;
}

/** The error a non-2xx response becomes (so retries and logs treat it like a network error). */
export class WebhookError extends Error {
  override readonly name = 'WebhookError';
  readonly code = 'LS_ALERT_WEBHOOK';
  constructor(
    readonly url: string,
    readonly status: number,
  ) {
    super(`webhook ${url} answered HTTP ${status}; expected a 2xx status`);
  }
}

export class WebhookSink implements AlertSink {
  readonly name = 'webhook';
  private readonly queue: SerialQueue<string>;
  private readonly closing = new AbortController();
  private readonly counts = { attempts: 0, attemptsSettled: 0, sent: 0, failed: 0 };
  private readonly log: Logger;

  constructor(private readonly opts: WebhookSinkOptions) {
    this.log = opts.log ?? silentLogger;
    this.queue = new SerialQueue(
      opts.maxQueue,
      (body) => this.post(body),
      (err) => {
        this.counts.failed++;
        this.log.warn({ sink: this.name, url: opts.url, err }, `webhook ${opts.url}: alert event dropped after ${opts.retries + 1} attempts`);
      },
    );
  }

  /** Counters so far. */
  get stats(): WebhookStats {
    return { ...this.counts, dropped: this.queue.dropped };
  }

  /** Queue the event; returns at once. */
  deliver({ event }: AlertDelivery): void {
    if (this.closing.signal.aborted) {
      this.queue.dropped++;
      return;
    }
    this.queue.push(JSON.stringify(alertEventToJson(event)));
  }

  /** Resolves when everything queued was sent or given up. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** Give queued events up to timeoutMs (default 0: abandon at once), then abort what is in flight. */
  async close(params: { timeoutMs?: number } = {}): Promise<void> {
    if ((params.timeoutMs ?? 0) > 0) await settleWithin(this.queue.idle(), params.timeoutMs ?? 0);
    this.queue.clear();
    this.closing.abort();
    await this.queue.idle();
  }

  private async post(body: string): Promise<void> {
    const { url, retries, timeoutMs, backoffMs } = this.opts;
    let lastError: unknown;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (this.closing.signal.aborted) throw new Error(`webhook ${url}: sink closed with the event unsent`);
      if (attempt > 0) await sleep(backoffMs * 2 ** (attempt - 1), this.closing.signal);
      this.counts.attempts++;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), this.closing.signal]),
        });
        // read the body so the connection is released
        await res.arrayBuffer().catch(() => undefined);
        if (!res.ok) throw new WebhookError(url, res.status);
        this.counts.sent++;
        return;
      } catch (err) {
        lastError = err;
      } finally {
        this.counts.attemptsSettled++;
      }
    }
    throw lastError;
  }
}

/** setTimeout as a promise that an abort signal ends early. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
