/**
 * The live source: a ZeroMQ socket (PULL by default, SUB as an option) whose multipart messages become
 * one Observable<ScanEvent>. Lossless by design with PULL: we stop receiving while the pipeline says it is
 * full (`waitReady`), ZeroMQ's queue fills up to the high-water mark and then the producer blocks.
 * Malformed frames are counted by code and logged; they never end the stream.
 */
import { Observable, Subject } from 'rxjs';
import * as zmq from 'zeromq';
import { FrameError, type FrameErrorCode, type IngestWarning, type IngestWarningCode } from '../protocol/errors.ts';
import type { ScanEvent } from '../protocol/events.ts';
import type { StartHeader } from '../protocol/messages.ts';
import { ScanTracker } from '../protocol/scan-tracker.ts';
import type { Logger } from '../util/log.ts';
import { isLoopback } from '../util/loopback.ts';
import { startZapHandler, type ZapHandler } from './zap.ts';

export interface ZmqSourceOptions {
  endpoint: string;
  mode: 'bind' | 'connect';
  socket: 'pull' | 'sub';
  highWaterMark: number;
  pendingLimit: number;
  /** scans open at once (ingest.maxOpenScans); default: no limit */
  maxOpenScans?: number;
  /** largest grid a start may declare (ingest.maxScanPixels); default: no limit beyond the protocol's */
  maxScanPixels?: number;
  /** bytes of buffers held for scans whose start has not arrived (absent: no byte cap) */
  pendingMaxBytes?: number;
  /** CURVE keys (Z85); a non-empty `clientPublicKeys` admits only those producers (ZAP handler, src/sources/zap.ts) */
  curve?: { serverSecretKey: string; serverPublicKey: string; clientPublicKeys?: string[] };
  /** awaited before each receive: the pipeline's backpressure (resolves at once when there is room) */
  waitReady?: () => Promise<void> | undefined;
  log: Logger;
}

/** Counts of refused frames (or of warnings) by code, plus totals. */
export class RejectCounts<Code extends string = FrameErrorCode> {
  readonly byCode = new Map<Code, number>();
  total = 0;
  add(code: Code): void {
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
    this.total++;
  }
  toJSON(): Record<string, number> {
    return Object.fromEntries(this.byCode);
  }
}

export interface ZmqSource {
  /** start | pixel | gap | stop events; subscribing opens the socket, unsubscribing closes it */
  events$: Observable<ScanEvent>;
  /** every refused frame, after it was counted and logged */
  rejects$: Observable<FrameError>;
  rejects: RejectCounts;
  /** plausibility warnings (once per scan and check), after they were counted and logged */
  warnings$: Observable<IngestWarning>;
  warnings: RejectCounts<IngestWarningCode>;
  /** messages received (valid or not) */
  readonly received: number;
  /** resolves once the socket is bound or connected */
  ready: Promise<string>;
  /** continue a scan recorded before a restart */
  resume(start: StartHeader, nextSeq: number): void;
}

/** Most log lines per second for refused frames; beyond it they are only counted (a fuzzer must not flood the log). */
const REJECT_LOG_PER_SEC = 20;

/** Create the live ZeroMQ source. */
export function zmqSource(opts: ZmqSourceOptions): ZmqSource {
  const tracker = new ScanTracker({ pendingLimit: opts.pendingLimit, pendingMaxBytes: opts.pendingMaxBytes, maxOpenScans: opts.maxOpenScans, maxScanPixels: opts.maxScanPixels });
  const rejects = new RejectCounts();
  const rejects$ = new Subject<FrameError>();
  const warnings = new RejectCounts<IngestWarningCode>();
  const warnings$ = new Subject<IngestWarning>();
  let received = 0;
  let resolveReady!: (endpoint: string) => void;
  let rejectReady!: (err: Error) => void;
  const ready = new Promise<string>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  ready.catch(() => undefined);
  let logWindowStart = 0;
  let loggedInWindow = 0;

  const onReject = (err: FrameError) => {
    rejects.add(err.code);
    const now = Date.now();
    if (now - logWindowStart > 1000) {
      logWindowStart = now;
      loggedInWindow = 0;
    }
    if (loggedInWindow++ < REJECT_LOG_PER_SEC) opts.log.warn({ code: err.code, ...err.at }, err.message);
    rejects$.next(err);
  };
  const onWarning = (w: IngestWarning) => {
    warnings.add(w.code);
    opts.log.warn({ code: w.code, ...w.at }, w.message);
    warnings$.next(w);
  };

  const events$ = new Observable<ScanEvent>((subscriber) => {
    const sock = opts.socket === 'pull' ? new zmq.Pull({ receiveHighWaterMark: opts.highWaterMark, linger: 0 }) : new zmq.Subscriber({ receiveHighWaterMark: opts.highWaterMark, linger: 0 });
    if (sock instanceof zmq.Subscriber) sock.subscribe();
    if (opts.curve?.serverSecretKey) {
      sock.curveServer = true;
      sock.curveSecretKey = opts.curve.serverSecretKey;
      if (opts.curve.serverPublicKey) sock.curvePublicKey = opts.curve.serverPublicKey;
    }
    let closed = false;
    let zap: ZapHandler | undefined;
    const run = async () => {
      try {
        // The allow-list handler must be bound before any handshake: without one libzmq admits every CURVE client.
        if (opts.curve?.serverSecretKey && opts.curve.clientPublicKeys?.length) {
          zap = await startZapHandler(opts.curve.clientPublicKeys, opts.log);
          sock.zapDomain = 'loopstream';
          if (closed) zap.close();
        }
        if (opts.mode === 'bind') await sock.bind(opts.endpoint);
        else sock.connect(opts.endpoint);
      } catch (err) {
        const e = new Error(`cannot ${opts.mode} ZeroMQ ${opts.socket} socket to ${opts.endpoint}: ${(err as Error).message}`);
        rejectReady(e);
        subscriber.error(e);
        return;
      }
      const endpoint = sock.lastEndpoint ?? opts.endpoint;
      warnIfExposed(opts);
      opts.log.info({ endpoint, socket: opts.socket, mode: opts.mode, curve: Boolean(opts.curve?.serverSecretKey), clientAllowList: zap ? opts.curve!.clientPublicKeys!.length : 0 }, 'listening for scans');
      resolveReady(endpoint);
      while (!closed) {
        const wait = opts.waitReady?.();
        if (wait) await wait;
        let frames: Buffer[];
        try {
          frames = await sock.receive();
        } catch (err) {
          if (closed || (err as { code?: string }).code === 'EAGAIN') break;
          subscriber.error(err);
          return;
        }
        received++;
        const { events, rejects: refused, warnings: warned } = tracker.accept(frames);
        for (const r of refused) onReject(r);
        for (const w of warned) onWarning(w);
        for (const e of events) subscriber.next(e);
      }
    };
    void run();
    return () => {
      closed = true;
      sock.close();
      zap?.close();
    };
  });

  return {
    events$,
    rejects$: rejects$.asObservable(),
    rejects,
    warnings$: warnings$.asObservable(),
    warnings,
    get received() {
      return received;
    },
    ready,
    resume: (start, nextSeq) => tracker.resume(start, nextSeq),
  };
}

/**
 * A bound ingest socket reachable beyond this machine without CURVE accepts scans from anyone who can reach the
 * port: warned at start, in the words the dashboard uses when it refuses the same exposure (src/server/access.ts).
 */
function warnIfExposed(opts: ZmqSourceOptions): void {
  if (opts.mode !== 'bind' || opts.curve?.serverSecretKey) return;
  const tcp = /^tcp:\/\/(.+):(\*|\d+)$/.exec(opts.endpoint);
  if (!tcp || isLoopback(tcp[1])) return;
  opts.log.warn(
    { endpoint: opts.endpoint, code: 'LS_INGEST_EXPOSED' },
    `ingest.endpoint is "${opts.endpoint}", which is reachable beyond this machine, and ingest.curve.serverSecretKey is empty: ` +
      'anyone who can reach the port can send scans; set ingest.curve keys (docs/operations.md) or bind to 127.0.0.1',
  );
}
