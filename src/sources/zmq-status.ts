/**
 * The status channel: a ZeroMQ PUB socket beside ingest that tells producers what became of their scans — a
 * PUSH socket is one-way, so without it a refused frame or a halted recording is silent to the producer.
 * Every message is two frames, `[kind][JSON]` (docs/protocol.md §Status channel); PUB never blocks on a slow
 * subscriber (libzmq drops at the high-water mark), and sends are serialised through a bounded queue because a
 * zeromq.js socket allows one send in flight.
 */
import * as zmq from 'zeromq';
import { SerialQueue, settleWithin } from '../util/serial-queue.ts';
import type { Logger } from '../util/log.ts';

/** The kinds of status message, in the order a scan usually sees them. */
export const STATUS_KINDS = ['accepted', 'refused', 'warning', 'progress', 'halted', 'finished'] as const;
export type StatusKind = (typeof STATUS_KINDS)[number];

/** Messages waiting for the socket before new ones are dropped (and counted). */
const MAX_QUEUE = 10_000;

/**
 * The endpoint the status channel binds, from `ingest.statusEndpoint`: '' = off, 'auto' = next to ingest
 * (tcp port + 1 on the same host, `*` stays `*`; ipc://PATH → ipc://PATH.status; inproc://N → inproc://N.status).
 * In connect mode the ingest host is the producer's, so auto binds on 127.0.0.1.
 */
export function statusEndpointFor(ingest: { endpoint: string; mode: 'bind' | 'connect'; statusEndpoint?: string }): string | undefined {
  const setting = ingest.statusEndpoint ?? 'auto';
  if (setting === '') return undefined;
  if (setting !== 'auto') return setting;
  const tcp = /^tcp:\/\/(.+):(\*|\d+)$/.exec(ingest.endpoint);
  if (tcp) {
    const host = ingest.mode === 'connect' ? '127.0.0.1' : tcp[1];
    const port = tcp[2] === '*' || Number(tcp[2]) >= 65535 ? '*' : String(Number(tcp[2]) + 1);
    return `tcp://${host}:${port}`;
  }
  return `${ingest.endpoint}.status`;
}

export class StatusChannel {
  private readonly queue: SerialQueue<[string, string]>;

  private constructor(
    private readonly socket: zmq.Publisher,
    /** the bound endpoint (the real port when bound to *) */
    readonly endpoint: string,
    log: Logger,
  ) {
    this.queue = new SerialQueue(MAX_QUEUE, (msg) => this.socket.send(msg), (err) => log.warn({ err: (err as Error).message }, `status publish on ${endpoint} failed`));
  }

  /** Bind the PUB socket; rejects (with the endpoint in the message) when it cannot be bound. */
  static async bind(endpoint: string, log: Logger): Promise<StatusChannel> {
    const socket = new zmq.Publisher({ linger: 0, sendHighWaterMark: MAX_QUEUE });
    try {
      await socket.bind(endpoint);
    } catch (err) {
      socket.close();
      throw new Error(`cannot bind the ZeroMQ status channel (PUB) to ${endpoint}: ${(err as Error).message}; set ingest.statusEndpoint to a free endpoint, or '' to turn it off`);
    }
    const bound = socket.lastEndpoint ?? endpoint;
    log.info({ statusEndpoint: bound }, 'status channel publishing');
    return new StatusChannel(socket, bound, log);
  }

  /** Messages dropped because the send queue was full. */
  get dropped(): number {
    return this.queue.dropped;
  }

  /** Queue one message; never waits. */
  publish(kind: StatusKind, body: Record<string, unknown>): void {
    this.queue.push([kind, JSON.stringify({ ...body, kind, t: Date.now() / 1000 })]);
  }

  /** Send what is queued (at most `timeoutMs`), then close. */
  async close(timeoutMs = 1000): Promise<void> {
    await settleWithin(this.queue.idle(), timeoutMs);
    this.queue.clear();
    this.socket.close();
  }
}
