/**
 * FacilityPublisher: fire-and-forget XADDs of facility events to a Redis Stream. Ingest never waits for it.
 *
 * `publish` only pushes onto a bounded in-memory queue (O(1)); a drain step pipelines the queued entries to Redis
 * (XADD … MAXLEN ~ facility.maxLen, so the stream stays bounded) with one batch in flight at a time. While Redis is
 * down (ioredis not 'ready': the offline queue is off, so nothing piles up inside ioredis either), when a batch
 * fails or times out, and when the queue is full, events are dropped and counted
 * (`loopstream_facility_events_total{outcome="dropped"}`) with at most one log line per 30 s.
 */
import { Redis } from 'ioredis';
import type { Counter } from 'prom-client';
import { parseRedisUrl, redactRedisUrl } from '../redis/redis-url.ts';
import type { Logger } from '../util/log.ts';
import type { FacilityEvent } from './events.ts';

export interface FacilityPublisherOptions {
  /** checked Redis URL (redis:// or rediss://, password in the URL) */
  redis: string;
  stream: string;
  maxLen: number;
  queueMax: number;
  log: Logger;
  /** counter with label `outcome` (published | dropped); optional for tools and benches */
  counter?: Counter<'outcome'>;
}

/** Entries per pipelined batch. */
const BATCH = 256;
/** A batch that takes longer than this fails (a Redis that hangs must not hold events forever). */
const COMMAND_TIMEOUT_MS = 2000;
/** Least time between two "events dropped" log lines. */
const DROP_LOG_MS = 30_000;

export class FacilityPublisher {
  private readonly redis: Redis;
  private queue: FacilityEvent[] = [];
  private inFlight = false;
  private scheduled = false;
  private closed = false;
  /** drops not yet logged, and when the last drop line was written */
  private unloggedDrops = 0;
  private lastDropLog = Number.NEGATIVE_INFINITY;
  private lastErrorLog = Number.NEGATIVE_INFINITY;
  published = 0;
  dropped = 0;

  constructor(private readonly opts: FacilityPublisherOptions) {
    parseRedisUrl(opts.redis); // LS_SCALE_REDIS_URL before anything connects
    const { log } = opts;
    this.redis = new Redis(opts.redis, {
      // fail at once while disconnected instead of queueing inside ioredis: our own queue is the bounded one
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: 5000,
      // reconnect forever, backing off to one try every 5 s: the daemon outlives any Redis outage
      retryStrategy: (times) => Math.min(200 * times, 5000),
      lazyConnect: false,
    });
    this.redis.on('error', (err: Error) => {
      // ioredis reports every failed reconnect: one line per 30 s is enough
      const now = Date.now();
      if (now - this.lastErrorLog < DROP_LOG_MS) return;
      this.lastErrorLog = now;
      log.warn({ redis: redactRedisUrl(opts.redis), err: err.message }, 'facility: Redis unreachable; scan events are dropped (counted) until it is back, ingest goes on');
    });
    this.redis.on('ready', () => {
      log.info({ redis: redactRedisUrl(opts.redis), stream: opts.stream }, 'facility: publishing scan events');
      this.schedule();
    });
  }

  /** Queue an event for the stream; never blocks, never throws. */
  publish(event: FacilityEvent): void {
    if (this.closed) return;
    if (this.queue.length >= this.opts.queueMax) {
      this.drop(1);
      return;
    }
    this.queue.push(event);
    this.schedule();
  }

  /** Events waiting in memory. */
  get queued(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private drop(n: number): void {
    this.dropped += n;
    this.unloggedDrops += n;
    this.opts.counter?.inc({ outcome: 'dropped' }, n);
    const now = Date.now();
    if (now - this.lastDropLog >= DROP_LOG_MS) {
      this.lastDropLog = now;
      this.opts.log.warn({ dropped: this.unloggedDrops, total: this.dropped, redis: this.redis.status }, 'facility: scan events dropped (Redis down or too slow); ingest is not affected');
      this.unloggedDrops = 0;
    }
  }

  private async drain(): Promise<void> {
    if (this.inFlight || this.queue.length === 0) return;
    if (this.redis.status !== 'ready') {
      // nowhere to send them: keeping them would only grow memory and replay stale progress later
      this.drop(this.queue.length);
      this.queue = [];
      return;
    }
    const batch = this.queue.splice(0, BATCH);
    this.inFlight = true;
    try {
      const pipe = this.redis.pipeline();
      for (const e of batch) pipe.xadd(this.opts.stream, 'MAXLEN', '~', String(this.opts.maxLen), '*', 'e', JSON.stringify(e));
      const results = (await pipe.exec()) ?? [];
      let ok = 0;
      for (const [err] of results) if (!err) ok++;
      this.published += ok;
      if (ok > 0) this.opts.counter?.inc({ outcome: 'published' }, ok);
      if (batch.length - ok > 0) this.drop(batch.length - ok);
    } catch {
      this.drop(batch.length);
    } finally {
      this.inFlight = false;
    }
    this.schedule();
  }

  /** Send what is queued (best effort, ≤ 2 s), then disconnect. */
  async close(): Promise<void> {
    if (this.closed) return;
    const deadline = Date.now() + COMMAND_TIMEOUT_MS;
    while ((this.queue.length > 0 || this.inFlight) && this.redis.status === 'ready' && Date.now() < deadline) {
      await this.drain();
      await new Promise((r) => setTimeout(r, 10));
    }
    this.closed = true;
    if (this.queue.length > 0) this.drop(this.queue.length);
    this.queue = [];
    this.redis.disconnect();
  }
}
