"""Write a small pycroscopy/USID-style BEPS SHO-fit file with h5py, independently of loopstream's own writer.

Values encode their slot so a reader's mapping can be checked exactly (float32-exact integers):
  Amplitude [V]   = pixel*1000 + cycle*200 + in_field*100 + step
  Frequency [Hz]  = 1300000 + pixel*10 + step
  Quality Factor  = 100 + cycle*10 + in_field*5
  Phase [rad]     = (0.5 if in_field else -0.5)
where pixel = row*cols + col.

Usage: make_usid_sho.py OUT --rows R --cols C --steps S --cycles N [--variant a|b] [--lzf] [--no-positions]
  variant a: SHO group under /Measurement_000/Channel_000 beside Raw_Data, Spectroscopic rows DC_Offset, Field,
             Cycle, Field fastest with value 0 (out-of-field) in even columns, positions with X fastest.
  variant b: SHO group at the root, rows Field, Cycle, DC_Offset (labels say which), Field value 1 (in-field)
             in even columns, positions with Y fastest.
pycroscopy's convention: Field 0 = out-of-field (off), 1 = in-field (on).
"""
import argparse

import h5py
import numpy as np

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--rows", type=int, default=3)
p.add_argument("--cols", type=int, default=4)
p.add_argument("--steps", type=int, default=8)
p.add_argument("--cycles", type=int, default=2)
p.add_argument("--variant", choices=["a", "b"], default="a")
p.add_argument("--lzf", action="store_true")
p.add_argument("--no-positions", action="store_true", help="omit Position_Indices (grid from Measurement_000 attrs)")
a = p.parse_args()

rows, cols, steps, cycles = a.rows, a.cols, a.steps, a.cycles
ncol = steps * 2 * cycles
# DC waveform 0 -> +V -> -V -> 0 (acquisition order)
q = steps // 4
dc = np.array([(k / q) if k < q else (2 - k / q) if k < 3 * q else (k / q - 4) for k in range(steps)]) * 10.0

field = np.zeros(ncol, dtype=np.float32)
dcv = np.zeros(ncol, dtype=np.float32)
cyc = np.zeros(ncol, dtype=np.float32)
for c in range(cycles):
    for k in range(steps):
        for f in range(2):
            j = (c * steps + k) * 2 + f
            even_value = 0 if a.variant == "a" else 1
            field[j] = even_value if f == 0 else 1 - even_value
            dcv[j] = dc[k]
            cyc[j] = c

if a.variant == "a":
    pos = np.array([[x, y] for y in range(rows) for x in range(cols)], dtype=np.uint32)
else:
    pos = np.array([[x, y] for x in range(cols) for y in range(rows)], dtype=np.uint32)

sho = np.dtype([("Amplitude [V]", np.float32), ("Frequency [Hz]", np.float32), ("Quality Factor", np.float32),
                ("Phase [rad]", np.float32), ("R2 Criterion", np.float32)])
fit = np.zeros((rows * cols, ncol), dtype=sho)
for i, (x, y) in enumerate(pos):
    pixel = int(y) * cols + int(x)
    for j in range(ncol):
        on = int(field[j] == 1)
        k = (j // 2) % steps
        c = int(cyc[j])
        fit[i, j] = (pixel * 1000 + c * 200 + on * 100 + k, 1300000 + pixel * 10 + k, 100 + c * 10 + on * 5,
                     0.5 if on else -0.5, 0.99)

with h5py.File(a.out, "w") as h:
    meas = h.create_group("Measurement_000")
    meas.attrs["grid_num_rows"] = rows
    meas.attrs["grid_num_cols"] = cols
    meas.attrs["VS_steps_per_full_cycle"] = steps
    meas.attrs["VS_number_of_cycles"] = cycles
    chan = meas.create_group("Channel_000")
    chan.create_dataset("Raw_Data", data=np.zeros((rows * cols, 2), dtype=np.complex64))
    pos_parent = chan if a.variant == "a" else h
    if not a.no_positions:
        pi = pos_parent.create_dataset("Position_Indices", data=pos)
        pi.attrs["labels"] = np.array([b"X", b"Y"])
        pi.attrs["units"] = np.array([b"m", b"m"])
    grp = chan.create_group("Raw_Data-SHO_Fit_000") if a.variant == "a" else h.create_group("Raw_Data-SHO_Fit_000")
    if a.variant == "a":
        vals, labels = np.vstack([dcv, field, cyc]), ["DC_Offset", "Field", "Cycle"]
    else:
        vals, labels = np.vstack([field, cyc, dcv]), ["Field", "Cycle", "DC_Offset"]
    sv = grp.create_dataset("Spectroscopic_Values", data=vals)
    sv.attrs["labels"] = np.array([s.encode() for s in labels])
    sv.attrs["units"] = np.array([b"V" if s == "DC_Offset" else b"" for s in labels])
    si = grp.create_dataset("Spectroscopic_Indices", data=np.zeros_like(vals, dtype=np.uint32))
    si.attrs["labels"] = sv.attrs["labels"]
    kw = {"compression": "lzf", "chunks": (rows * cols, ncol)} if a.lzf else {}
    fd = grp.create_dataset("Fit", data=fit, **kw)
    fd.attrs["quantity"] = "SHO parameters"
    grp.create_dataset("Guess", data=fit)
print(a.out)
