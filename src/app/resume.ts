/**
 * Resume after a crash: every raw recording in the data folder without a stop message belongs to a scan that
 * was running when the daemon died. Its recorded pixels are re-encoded into fresh maps, the recording is
 * reopened for appending, and the live source is told the next seq to expect — no recorded pixel is lost.
 */
import { readdirSync } from 'node:fs';
import { filter } from 'rxjs';
import { join } from 'node:path';
import { openScanFile, replayFile } from '../sources/hdf5/index.ts';
import { ScanRecorder } from '../store/scan-file.ts';
import { extendToStoredEof } from '../store/stored-eof.ts';
import type { Daemon } from '../pipeline/daemon.ts';
import { replayRules } from '../pipeline/replay-rules.ts';

export interface ResumedScan {
  scanId: string;
  path: string;
  /** pixels found in the recording */
  recorded: number;
  /** the next seq the producer should send */
  nextSeq: number;
}

/** Resume every unfinished recording in `config.data.dir`; `tell` gets each scan's start and next seq. */
export async function resumeRecordings(daemon: Daemon, tell: (start: import('../protocol/messages.ts').StartHeader, nextSeq: number) => void): Promise<ResumedScan[]> {
  const dir = daemon.config.data.dir;
  const out: ResumedScan[] = [];
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.raw.h5'));
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    const path = join(dir, name);
    let reader;
    try {
      // A write that failed on a full disk may have left the superblock claiming more than the file holds.
      const extended = extendToStoredEof(path);
      if (extended) daemon.log.warn({ path, ...extended }, 'recording shorter than its HDF5 superblock says (a write failed on a full disk); extended with zeros so it opens — rows past its verified count are not data');
      reader = await openScanFile(path);
    } catch (err) {
      daemon.log.error({ path, code: codeOf(err), err: (err as Error).message }, 'cannot reopen recording; left as it is (not resumed)');
      continue;
    }
    const finished = Boolean(reader.stop);
    const start = reader.start;
    reader.close();
    if (finished) continue;
    try {
      // Re-feed the recorded pixels (no recording: they are on disk already) through the live ingest rules (a row the
      // live daemon would refuse is refused and counted here too), then attach the reopened recorder. The replay of an
      // unfinished recording ends with a synthesised 'aborted' stop: drop it, the scan goes on.
      const rules = replayRules(daemon.config, daemon.log.child({ stage: 'resume', scanId: start.scanId }));
      const recorded$ = replayFile(path, { pace: { kind: 'max' }, ...rules }).pipe(filter((ev) => ev.type !== 'stop'));
      await daemon.run(recorded$, { source: 'live', record: false, recordingPath: path });
      const { recorder, lastSeq, count } = await ScanRecorder.reopen(path);
      const ctx = daemon.registry.get(start.scanId);
      // From here on the tracker refuses seqs below nextSeq, so nothing already recorded is appended twice.
      if (ctx) ctx.recorder = recorder;
      tell(start, lastSeq + 1);
      out.push({ scanId: start.scanId, path, recorded: count, nextSeq: lastSeq + 1 });
      daemon.log.warn({ scanId: start.scanId, path, recorded: count, nextSeq: lastSeq + 1 }, 'resumed a scan interrupted by a restart; the producer should continue from nextSeq (earlier seqs are refused as duplicates, later ones leave a visible gap)');
    } catch (err) {
      // One recording that cannot be resumed (damaged mid-file, refused by the ingest rules) must not keep the daemon
      // from starting: it is logged with its code and left on disk as it is (`loopstream scans discard` removes it);
      // a new start with its id opens a new instance beside it.
      daemon.registry.forget(start.scanId);
      daemon.log.error({ path, scanId: start.scanId, code: codeOf(err), err: (err as Error).message }, 'cannot resume recording; left as it is, the daemon goes on without it');
    }
  }
  return out;
}

/** The LS_ code of an error, or LS_FILE_UNREADABLE for a bare one (HDF5 failing inside a damaged file). */
function codeOf(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('LS_') ? code : 'LS_FILE_UNREADABLE';
}
