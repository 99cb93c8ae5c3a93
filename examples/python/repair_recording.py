#!/usr/bin/env python3
"""Repair a loopstream raw recording (<scanId>.raw.h5) whose last write failed because the disk filled up.

HDF5 may already have recorded the space the failed write wanted in the file's superblock, so every HDF5 reader
refuses the file as truncated ("eof = A, stored_eof = B"). This extends the file to B bytes, then cuts every
per-pixel dataset under /scan/pixels to the first KEEP rows — the `recorded` count of the daemon's
"recording failed" log line: rows beyond it belong to the batch whose write failed and may hold garbage.
Afterwards `loopstream replay` (or a daemon restart, which resumes it) reads the file again.

Usage: repair_recording.py FILE --keep KEEP
"""
import argparse
import os
import re

import h5py


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("file")
    p.add_argument("--keep", type=int, required=True, help="rows to keep: `recorded` from the daemon's log line")
    a = p.parse_args()
    try:
        h5py.File(a.file, "r").close()
        print(f"{a.file}: opens as it is")
    except OSError as err:
        m = re.search(r"stored_eof = (\d+)", str(err))
        if not m:
            raise
        size = os.path.getsize(a.file)
        os.truncate(a.file, int(m.group(1)))
        print(f"{a.file}: extended from {size} to {m.group(1)} bytes (the size its superblock records)")
    with h5py.File(a.file, "a") as f:
        pixels = f["scan/pixels"]
        for name, ds in pixels.items():
            if ds.shape[0] > a.keep:
                ds.resize(a.keep, axis=0)
        print(f"{a.file}: kept {a.keep} row(s) in {', '.join(pixels.keys())}")


if __name__ == "__main__":
    main()
