/**
 * `loopstream scans list|discard`: the recordings in `data.dir` that a daemon start would resume (raw recordings
 * without a stop message), and a way to take one out of that set. Discarding moves the scan's files into
 * `data.dir/discarded/` — raw data is never deleted — so the daemon stops resuming it (and warning about it) on
 * every restart. Run it while the daemon is stopped: a running daemon holds its open recordings.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { FileFormatError } from '../../hdf5/errors.ts';
import { INSTANCE_SEPARATOR, RAW_SUFFIX, RESULTS_SUFFIX, scanFilePath } from '../../store/scan-paths.ts';
import { configFromOptions, withConfigOptions } from '../common.ts';

/** Folder under data.dir that discarded recordings are moved to (never resumed). */
export const DISCARDED_DIR = 'discarded';

/** One recording a daemon start would resume (the `--json` output is an array of these). */
export interface UnfinishedScan {
  /** the files' name in data.dir: the scan id, or `<scanId>~<k>` for a later scan with the same id */
  name: string;
  scanId: string;
  path: string;
  /** verified pixels in the recording; null when the file cannot be read */
  pixels: number | null;
  /** highest seq recorded (the producer continues after it); null when none or unreadable */
  lastSeq: number | null;
  /** ISO time of the file's last write */
  lastWrite: string;
  /** why the file cannot be read (a restart logs it and leaves it alone) */
  error?: string;
}

/** Every raw recording directly in `dir` without a stop message (a daemon start resumes these), oldest write first. */
export async function listUnfinished(dir: string): Promise<UnfinishedScan[]> {
  if (!existsSync(dir)) return [];
  // loaded here, not at the top: every `loopstream` command registers this file, and the HDF5 reader (h5wasm, rxjs)
  // is ~0.25 s of start-up that `--help` and the other commands do not need
  const { openScanFile } = await import('../../sources/hdf5/index.ts');
  const out: UnfinishedScan[] = [];
  for (const file of readdirSync(dir).filter((n) => n.endsWith(RAW_SUFFIX)).sort()) {
    const path = join(dir, file);
    const name = file.slice(0, -RAW_SUFFIX.length);
    const lastWrite = statSync(path).mtime.toISOString();
    const scanId = name.split(INSTANCE_SEPARATOR)[0]!;
    try {
      const r = await openScanFile(path);
      try {
        if (r.stop) continue;
        let lastSeq = -1;
        for (let i = 0; i < r.count; i++) lastSeq = Math.max(lastSeq, r.pixel(i).seq);
        out.push({ name, scanId: r.start.scanId, path, pixels: r.count, lastSeq: lastSeq >= 0 ? lastSeq : null, lastWrite });
      } finally {
        r.close();
      }
    } catch (err) {
      out.push({ name, scanId, path, pixels: null, lastSeq: null, lastWrite, error: `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}` });
    }
  }
  return out.sort((a, b) => a.lastWrite.localeCompare(b.lastWrite));
}

/**
 * Move the files of the unfinished recording `name` (its file name without `.raw.h5`, or its scan id when only one
 * recording has that id) into `dir/discarded/`, never over a file already there. Returns the moved paths.
 */
export async function discardUnfinished(dir: string, name: string): Promise<Array<{ from: string; to: string }>> {
  const unfinished = await listUnfinished(dir);
  let hit = unfinished.find((u) => u.name === name);
  if (!hit) {
    const byId = unfinished.filter((u) => u.scanId === name);
    if (byId.length > 1) {
      throw new FileFormatError('LS_FILE_NOT_FOUND', `scan id ${name} has ${byId.length} unfinished recordings (${byId.map((u) => u.name).join(', ')}); name one of them`);
    }
    hit = byId[0];
  }
  if (!hit) {
    throw new FileFormatError('LS_FILE_NOT_FOUND', `no unfinished recording named ${name} in ${resolve(dir)}; \`loopstream scans list\` shows them`);
  }
  const target = join(dir, DISCARDED_DIR);
  mkdirSync(target, { recursive: true });
  const free = (base: string): string => {
    if (!existsSync(scanFilePath(target, base, RAW_SUFFIX)) && !existsSync(scanFilePath(target, base, RESULTS_SUFFIX))) return base;
    for (let k = 2; ; k++) if (!existsSync(scanFilePath(target, `${base}${INSTANCE_SEPARATOR}${k}`, RAW_SUFFIX)) && !existsSync(scanFilePath(target, `${base}${INSTANCE_SEPARATOR}${k}`, RESULTS_SUFFIX))) return `${base}${INSTANCE_SEPARATOR}${k}`;
  };
  const dest = free(hit.name);
  const moved: Array<{ from: string; to: string }> = [];
  for (const suffix of [RAW_SUFFIX, RESULTS_SUFFIX]) {
    const from = scanFilePath(dir, hit.name, suffix);
    if (!existsSync(from)) continue;
    const to = scanFilePath(target, dest, suffix);
    renameSync(from, to);
    moved.push({ from, to });
  }
  return moved;
}

export function register(program: Command): void {
  const scans = program.command('scans').description('unfinished recordings in data.dir (resumed on every daemon start): list them, or discard one');
  withConfigOptions(
    scans
      .command('list')
      .description('list raw recordings without a stop message: name, scan id, pixels, last seq, last write')
      .option('--json', 'print the list as one JSON array'),
  ).action(async (opts) => {
    const config = configFromOptions(opts);
    const rows = await listUnfinished(config.data.dir);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(rows)}\n`);
      return;
    }
    if (rows.length === 0) {
      process.stdout.write(`no unfinished recordings in ${resolve(config.data.dir)}\n`);
      return;
    }
    const table = rows.map((r) => ({ name: r.name, 'scan id': r.scanId, pixels: r.pixels === null ? '?' : String(r.pixels), 'last seq': r.lastSeq === null ? '–' : String(r.lastSeq), 'last write': r.lastWrite.replace('T', ' ').slice(0, 19), note: r.error ?? '' }));
    const cols = Object.keys(table[0]!) as Array<keyof (typeof table)[number]>;
    const width = cols.map((c) => Math.max(c.length, ...table.map((t) => t[c].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(width[i]!))).join('  ').trimEnd();
    process.stdout.write(`${line(cols)}\n${table.map((t) => line(cols.map((c) => t[c]))).join('\n')}\n`);
  });
  withConfigOptions(
    scans
      .command('discard')
      .description(`move an unfinished recording (and its results) into data.dir/${DISCARDED_DIR}/ so the daemon no longer resumes it; nothing is deleted`)
      .argument('<name>', 'the name `scans list` shows (or the scan id, when only one recording has it)'),
  ).action(async (name: string, opts) => {
    const config = configFromOptions(opts);
    const moved = await discardUnfinished(config.data.dir, name);
    for (const m of moved) process.stdout.write(`moved ${m.from} -> ${m.to}\n`);
  });
}
