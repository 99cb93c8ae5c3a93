/**
 * Why a write to a data file failed. h5wasm hides the errno of a failed write (HDF5 prints it to stderr and
 * returns a bare status), so after a failure we find the cause the operator must fix by probing the folder and the
 * process limits: disk full, read-only or forbidden folder, or a file-size limit.
 */
import { closeSync, openSync, readFileSync, statSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The cause of a failed write, as an errno name and a sentence for the log. */
export interface WriteFailure {
  /** ENOSPC, EDQUOT, EROFS, EACCES, EPERM, EFBIG, or EIO when no probe explains it */
  errno: string;
  detail: string;
}

/** Max file size of this process in bytes (RLIMIT_FSIZE from /proc/self/limits), Infinity when unlimited. */
function fileSizeLimit(): number {
  try {
    const m = /^Max file size\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : Infinity;
  } catch {
    return Infinity;
  }
}

/** Probe why writing `path` failed (call after the failure; the probe writes and removes a small file beside it). */
export function diagnoseWriteFailure(path: string): WriteFailure {
  const dir = dirname(path);
  const probe = join(dir, `.loopstream-write-probe-${process.pid}`);
  try {
    const fd = openSync(probe, 'w');
    try {
      writeSync(fd, Buffer.alloc(64 * 1024));
    } finally {
      closeSync(fd);
      unlinkSync(probe);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    let free = '';
    try {
      const s = statfsSync(dir);
      free = `; ${((s.bavail * s.bsize) / 2 ** 20).toFixed(1)} MiB free there`;
    } catch {
      /* the folder may be gone */
    }
    return { errno: code, detail: `cannot write in ${dir} (${code}: ${(err as Error).message})${free}` };
  }
  const limit = fileSizeLimit();
  let size = 0;
  try {
    size = statSync(path).size;
  } catch {
    /* not created */
  }
  if (Number.isFinite(limit) && size + 64 * 1024 >= limit) {
    return { errno: 'EFBIG', detail: `${path} is ${size} bytes and this process may not write files beyond ${limit} bytes (ulimit -f)` };
  }
  return { errno: 'EIO', detail: `the folder ${dir} accepts writes, so the HDF5 write itself failed (I/O error or damaged file); HDF5 printed its error stack on stderr` };
}
