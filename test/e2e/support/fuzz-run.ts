/**
 * Drive one fuzz session into a running daemon process over ZeroMQ and collect the evidence: the daemon still
 * alive, its refusal counts by code (from its final log line) against the generator's prescribed ones, messages
 * received against sent, RSS over the run, and the valid scan's results. Shared by bench/fuzz.ts and the CI test.
 */
import * as zmq from 'zeromq';
import type { DaemonProcess } from './daemon-process.ts';
import { FUZZ_TARGET, OutcomeTally, fuzzSession, type FuzzSessionOptions } from './fuzz-frames.ts';
import { encodedPixels, readResults } from './results.ts';

/** A fuzz run: the session and how the daemon is configured. */
export interface FuzzRunOptions extends Omit<FuzzSessionOptions, 'validScanId'> {
  /** RSS samples taken at this many evenly spaced points (default 20) */
  rssPoints?: number;
  onProgress?: (sent: number, rssKb: number) => void;
}

/** The evidence of one fuzz run. */
export interface FuzzReport {
  frames: number;
  messagesSent: number;
  bytesSent: number;
  seconds: number;
  aliveAfter: boolean;
  expectedRejects: Record<string, number>;
  actualRejects: Record<string, number>;
  received: number;
  /** refusals by code as /metrics counted them (loopstream_rejected_frames_total), scraped before shutdown */
  metricsRejects: Record<string, number>;
  held: number;
  byKind: Record<string, number>;
  /** [messages sent so far, VmRSS kB] */
  rss: Array<[number, number]>;
  valid: { scanId: string; pixels: number; encoded: number; missing: number; encodedCoordsOk: boolean };
}

/** Send a fuzz session into `d`, wait for its scans to finish, stop `d` and report. */
export async function fuzzDaemon(d: DaemonProcess, o: FuzzRunOptions): Promise<FuzzReport> {
  const validScanId = `fuzz-valid-${o.seed}`;
  const push = new zmq.Push({ linger: 30_000, sendHighWaterMark: 1000 });
  push.connect(d.endpoint);
  const tally = new OutcomeTally();
  const rss: Array<[number, number]> = [[0, d.rssKb()]];
  const every = Math.max(1, Math.floor(o.frames / (o.rssPoints ?? 20)));
  let bytes = 0;
  const t0 = performance.now();
  try {
    for (const f of fuzzSession({ ...o, validScanId })) {
      await push.send(f.parts);
      tally.add(f);
      for (const p of f.parts) bytes += p.length;
      if (tally.messages % every === 0) {
        rss.push([tally.messages, d.rssKb()]);
        o.onProgress?.(tally.messages, rss[rss.length - 1][1]);
      }
    }
  } finally {
    push.close();
  }
  await d.scanFinished(validScanId, 120_000);
  await d.scanFinished(FUZZ_TARGET, 120_000);
  const seconds = (performance.now() - t0) / 1000;
  rss.push([tally.messages, d.rssKb()]);
  const aliveAfter = d.alive;
  const metricsRejects = await scrapeRejects(d);
  const final = await d.stop();
  const results = await readResults(d.resultsPath(validScanId));
  const enc = encodedPixels(results);
  const n = o.validRows * o.validCols;
  return {
    frames: o.frames,
    messagesSent: tally.messages,
    bytesSent: bytes,
    seconds,
    aliveAfter,
    expectedRejects: tally.rejects(),
    actualRejects: final?.rejected ?? {},
    received: final?.received ?? -1,
    metricsRejects,
    held: tally.byOutcome.get('held') ?? 0,
    byKind: Object.fromEntries([...tally.byKind].sort()),
    rss,
    valid: {
      scanId: validScanId,
      pixels: n,
      encoded: enc.length,
      missing: results.missing.reduce((s, m) => s + m, 0),
      encodedCoordsOk: enc.length === n && enc.every((v, i) => v === i),
    },
  };
}

/** `loopstream_rejected_frames_total{code="…"}` from the daemon's /metrics. */
async function scrapeRejects(d: DaemonProcess): Promise<Record<string, number>> {
  const url = d.logs.find((l) => typeof l.url === 'string')?.url;
  if (typeof url !== 'string') return {};
  const text = await (await fetch(new URL('/metrics', url))).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^loopstream_rejected_frames_total\{code="([A-Z_]+)"\} (\d+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}
