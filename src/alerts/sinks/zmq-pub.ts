/**
 * ZeroMQ PUB sink: every alert event goes out as a two-frame message [topic, JSON] (default topic `alert`),
 * so acquisition software can subscribe and react (zoom in, re-measure, stop). PUB never blocks on slow
 * subscribers (libzmq drops at the high-water mark); sends are serialised because a zeromq.js socket allows
 * one send in flight.
 */
import type * as zmq from 'zeromq';
import type { Logger } from '../../util/log.ts';
import { silentLogger } from '../../util/log.ts';
import { alertEventToJson, type AlertDelivery, type AlertSink } from '../types.ts';
import { SerialQueue, settleWithin } from '../../util/serial-queue.ts';

/** Options of the ZeroMQ PUB sink. */
export interface ZmqPubSinkOptions {
  /** endpoint to bind, e.g. tcp://127.0.0.1:5557 (tcp://127.0.0.1:0 picks a free port; see `endpoint`) */
  endpoint: string;
  topic: string;
  /** events waiting for the socket before new ones are dropped */
  maxQueue?: number;
  log?: Logger;
}

export class ZmqPubSink implements AlertSink {
  readonly name = 'zmq';
  private readonly queue: SerialQueue<string>;

  private constructor(
    private readonly socket: zmq.Publisher,
    /** the bound endpoint (with the real port when bound to port 0) */
    readonly endpoint: string,
    readonly topic: string,
    maxQueue: number,
    log: Logger,
  ) {
    this.queue = new SerialQueue(
      maxQueue,
      (json) => this.socket.send([this.topic, json]),
      (err) => log.warn({ sink: this.name, err }, `ZeroMQ alert publish on ${this.endpoint} failed`),
    );
  }

  /** Bind a PUB socket and return the sink. */
  static async create(opts: ZmqPubSinkOptions): Promise<ZmqPubSink> {
    // The native addon loads only when a ZeroMQ sink is configured: a replay without one does not pay its dlopen.
    const { Publisher } = await import('zeromq');
    const socket = new Publisher({ linger: 0 });
    await socket.bind(opts.endpoint);
    const endpoint = socket.lastEndpoint ?? opts.endpoint;
    return new ZmqPubSink(socket, endpoint, opts.topic, opts.maxQueue ?? 10000, opts.log ?? silentLogger);
  }

  /** Events dropped because the send queue was full. */
  get dropped(): number {
    return this.queue.dropped;
  }

  /** Queue the event for publishing; returns at once. */
  deliver({ event }: AlertDelivery): void {
    this.queue.push(JSON.stringify(alertEventToJson(event)));
  }

  /** Send what is queued (up to timeoutMs, default 1 s), then close the socket. */
  async close(params: { timeoutMs?: number } = {}): Promise<void> {
    await settleWithin(this.queue.idle(), params.timeoutMs ?? 1000);
    this.queue.clear();
    this.socket.close();
  }
}
