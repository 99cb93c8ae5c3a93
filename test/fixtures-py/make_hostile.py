"""Turn a valid scan file into a hostile one with h5py, independently of loopstream's writer (issue 12, item 13).

Usage: make_hostile.py VARIANT IN OUT
  USID SHO files (from make_usid_sho.py, variant a):
    fit-nan          pixel 5: every Fit field NaN in every column; pixel 6: only cycle 1 (all fields) NaN
    amp-string       the Fit's "Amplitude [V]" field stored as strings
    pos-dup          Position_Indices: pixel 3 at pixel 2's place
    pos-neg          Position_Indices (int64): pixel 3 at X = -1
    pos-nan          Position_Indices (float64): pixel 3 at X = NaN
    gzip-corrupt     Fit re-written gzip-compressed in chunks of 4 rows; 16 bytes of chunk 1's stream inverted
    external         Fit moved to OUT.ext.h5, replaced by an external link to it
    virtual          Fit replaced by a virtual dataset whose source is OUT.ext.h5
  loopstream scan files (/scan/pixels/…):
    seq-string       /scan/pixels/seq stored as strings
    out-of-grid      rows 3 and 7 placed at row 99 (a grid of fewer rows)
    bad-seq          seq of row 2 NaN, of row 4 -1, row 6 repeats row 5's seq
    t-1e300          t of every row from row 3 on = 1e300
    unfinish         the stop attribute removed (a recording interrupted by a crash)
    own-gzip-corrupt the stop attribute removed and /scan/pixels/amplitude re-written gzip-compressed (chunks of 4
                     rows) with 16 bytes of chunk 1's stream inverted: it opens, its rows 4.. cannot be read
Prints a JSON line with what it changed.
"""
import json
import shutil
import sys

import h5py
import numpy as np

variant, src, out = sys.argv[1:4]
shutil.copy(src, out)
SHO = "Measurement_000/Channel_000/Raw_Data-SHO_Fit_000"
info = {"variant": variant}


def replace(group, name, data, **kw):
    attrs = dict(group[name].attrs)
    del group[name]
    ds = group.create_dataset(name, data=data, **kw)
    for k, v in attrs.items():
        ds.attrs[k] = v
    return ds


with h5py.File(out, "r+") as h:
    if variant == "fit-nan":
        fit = h[SHO + "/Fit"][()]
        cyc = h[SHO + "/Spectroscopic_Values"][list(h[SHO + "/Spectroscopic_Values"].attrs["labels"]).index(b"Cycle")]
        for f in fit.dtype.names:
            fit[f][5, :] = np.nan
            fit[f][6, cyc == 1] = np.nan
        h[SHO + "/Fit"][...] = fit
    elif variant == "amp-string":
        fit = h[SHO + "/Fit"][()]
        dt = [(n, ("S16" if n == "Amplitude [V]" else fit.dtype[n])) for n in fit.dtype.names]
        new = np.zeros(fit.shape, dtype=dt)
        for n in fit.dtype.names:
            new[n] = fit[n].astype("S16") if n == "Amplitude [V]" else fit[n]
        replace(h[SHO], "Fit", new)
    elif variant.startswith("pos-"):
        g = h["Measurement_000/Channel_000"]
        pos = g["Position_Indices"][()]
        if variant == "pos-dup":
            pos[3] = pos[2]
        elif variant == "pos-neg":
            pos = pos.astype(np.int64)
            pos[3, 0] = -1
        else:
            pos = pos.astype(np.float64)
            pos[3, 0] = np.nan
        replace(g, "Position_Indices", pos)
    elif variant == "gzip-corrupt":
        replace(h[SHO], "Fit", h[SHO + "/Fit"][()], chunks=(4, h[SHO + "/Fit"].shape[1]), compression="gzip")
    elif variant in ("external", "virtual"):
        fit = h[SHO + "/Fit"][()]
        ext = out + ".ext.h5"
        with h5py.File(ext, "w") as e:
            e.create_dataset("Fit", data=fit)
        del h[SHO + "/Fit"]
        if variant == "external":
            h[SHO + "/Fit"] = h5py.ExternalLink(ext, "/Fit")
        else:
            layout = h5py.VirtualLayout(shape=fit.shape, dtype=fit.dtype)
            layout[...] = h5py.VirtualSource(ext, "Fit", shape=fit.shape)
            h[SHO].create_virtual_dataset("Fit", layout)
        info["external"] = ext
    elif variant == "seq-string":
        px = h["scan/pixels"]
        replace(px, "seq", np.array([str(int(v)).encode() for v in px["seq"][()]], dtype="S24"), maxshape=(None,))
    elif variant == "out-of-grid":
        h["scan/pixels/row"][3] = 99
        h["scan/pixels/row"][7] = 99
    elif variant == "bad-seq":
        seq = h["scan/pixels/seq"]
        seq[2] = np.nan
        seq[4] = -1
        seq[6] = seq[5]
    elif variant == "t-1e300":
        t = h["scan/pixels/t"]
        t[3:] = 1e300
    elif variant == "unfinish":
        del h["scan"].attrs["stop"]
    elif variant == "own-gzip-corrupt":
        del h["scan"].attrs["stop"]
        amp = h["scan/pixels/amplitude"]
        replace(h["scan/pixels"], "amplitude", amp[()], chunks=(4,) + amp.shape[1:], maxshape=(None,) + amp.shape[1:], compression="gzip")
    else:
        raise SystemExit(f"unknown variant {variant}")

if variant in ("gzip-corrupt", "own-gzip-corrupt"):
    with h5py.File(out, "r") as h:
        chunk = h[SHO + "/Fit" if variant == "gzip-corrupt" else "scan/pixels/amplitude"].id.get_chunk_info(1)
    with open(out, "r+b") as f:
        f.seek(chunk.byte_offset + chunk.size // 3)
        b = bytearray(f.read(16))
        f.seek(chunk.byte_offset + chunk.size // 3)
        f.write(bytes(x ^ 0xFF for x in b))
    info["chunk"] = {"offset": chunk.byte_offset, "size": chunk.size}
print(json.dumps(info))
