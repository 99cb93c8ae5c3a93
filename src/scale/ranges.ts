/**
 * Large scans as pixel-range jobs plus one merge job, on BullMQ flows (a FlowProducer: the merge is the parent,
 * the ranges its children; BullMQ runs the parent only once every child has completed, and fails it when a child
 * fails for good — `failParentOnFailure`).
 *
 * A range job replays the whole file through the pipeline but preprocesses and encodes only the pixels of its
 * flat-index range [from, to) (app/replay-run.ts `replayRange`): the warm-up sees every pixel, so each range fits
 * the same input state replay fits, and the engine's outputs do not depend on which rows share a batch (checked
 * bitwise: test/scale/ranges.test.ts). It hands over its rows — model inputs, μ, log σ², error, loop statistics —
 * and the replay batch each was encoded in, as a part file under `<results>/.jobs/<merge job id>/parts/`.
 *
 * The merge (`replayEncodedRanges`) writes those rows into one scan's maps batch by batch in replay's encoding
 * order, then ends the scan as replay does: alerts, the fit verdict and the baselines come from the same code over
 * the same stream, so the results file equals the one `replay` writes (timings aside). A range that saw anything
 * replay does not handle pixel by pixel (a refused, missing or repeated pixel) makes the merge replay the file whole.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../util/log.ts';
import type { EncodedRange } from '../app/replay-run.ts';
import type { ReprocessJobData } from './jobs.ts';

/** Flat-index ranges of a scan of `pixels` pixels, each at most `rangePixels` (equal sizes); one range when it fits. */
export function planRanges(pixels: number, rangePixels: number): Array<{ from: number; to: number }> {
  const n = rangePixels > 0 && pixels > rangePixels ? Math.ceil(pixels / rangePixels) : 1;
  return Array.from({ length: n }, (_, k) => ({ from: Math.floor((k * pixels) / n), to: Math.floor(((k + 1) * pixels) / n) }));
}

/** Job id of a range job: its merge job's id and the range. */
export function rangeJobId(flowId: string, range: { from: number; to: number }): string {
  return `${flowId}-r${range.from}-${range.to}`;
}

/** What a range job returns (its merge reads it with getChildrenValues). */
export interface RangeJobResult {
  from: number;
  to: number;
  /** the part file with the range's rows */
  part: string;
  /** pixels of the range that arrived */
  pixels: number;
  /** why the merge cannot rebuild the scan from the ranges; null when it can */
  unmergeable: string | null;
  /** when the range job started (ms since the epoch): the flow's wall time runs from its first range */
  startedAt: number;
}

/** The folder a flow's range jobs leave their part files in (removed with the merge job's `.jobs/<id>/`). */
export function partsDir(jobsRoot: string, flowId: string): string {
  return join(jobsRoot, flowId, 'parts');
}

/** A job's config for one range: alerts, the fit check and the baselines are whole-scan, the merge's. */
export function rangeConfig(config: Config): Config {
  return { ...config, alerts: { ...config.alerts, enabled: false }, ood: { ...config.ood, enabled: false }, baselines: { ...config.baselines, enabled: false } };
}

/**
 * Run one range job: replay the file encoding only its range, write the part atomically (a temp file in this
 * attempt's folder renamed into the flow's parts folder: a killed attempt leaves no part).
 */
export async function runRangeJob(config: Config, log: Logger, d: ReprocessJobData & { range: { from: number; to: number }; flow: string }, workDir: string, jobsRoot: string, onPixel: (pixels: number, expected: number) => void): Promise<RangeJobResult> {
  const startedAt = Date.now();
  const { replayRange } = await import('../app/replay-run.ts');
  const { parsePace } = await import('../sources/hdf5/index.ts');
  let pixels = 0;
  let cols = 0;
  const expected = d.range.to - d.range.from;
  const { part } = await replayRange(rangeConfig(config), log, d.file, d.range, {
    pace: parsePace(config.replay.pace),
    onEvent: (ev) => {
      if (ev.type === 'start') cols = ev.header.grid.cols;
      else if (ev.type === 'pixel') {
        const i = ev.row * cols + ev.col;
        if (i >= d.range.from && i < d.range.to) pixels++;
      }
      onPixel(pixels, expected);
    },
  });
  const dir = partsDir(jobsRoot, d.flow);
  mkdirSync(dir, { recursive: true });
  const target = join(dir, `${d.range.from}-${d.range.to}.part`);
  const tmp = join(workDir, `${randomUUID().slice(0, 8)}.part`);
  writeFileSync(tmp, serialize(part));
  renameSync(tmp, target);
  return { from: d.range.from, to: d.range.to, part: target, pixels, unmergeable: part.unmergeable, startedAt };
}

/** Read the parts of a flow, in range order; throws when a range is missing or the ranges do not tile the grid. */
export function readParts(results: RangeJobResult[], ranges: ReadonlyArray<{ from: number; to: number }>): EncodedRange[] {
  const byFrom = new Map(results.map((r) => [r.from, r]));
  return ranges.map((range) => {
    const r = byFrom.get(range.from);
    if (!r || r.to !== range.to) throw new Error(`range ${range.from}-${range.to} has no result`);
    return deserialize(readFileSync(r.part)) as EncodedRange;
  });
}

/** Remove a folder, ignoring one that is already gone. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
