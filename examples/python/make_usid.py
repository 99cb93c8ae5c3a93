#!/usr/bin/env python3
"""Write a synthetic BEPS SHO-fit file in the pycroscopy/USID layout, with h5py only.

Layout (what pycroscopy's BEPS translator + SHO fitter write, trimmed to what a loop consumer reads):
  /Measurement_000/Channel_000/Position_Indices        (num_pix, 2) uint32, labels [X, Y]
  /Measurement_000/Channel_000/Position_Values         (num_pix, 2) float32
  /Measurement_000/Channel_000/Raw_Data-SHO_Fit_000/
      Fit                     (num_pix, num_udvs) compound: Amplitude [V], Frequency [Hz], Quality Factor,
                              Phase [rad], R2 Criterion
      Spectroscopic_Values    (3, num_udvs) float32, rows labelled DC_Offset, Field, Cycle
      Spectroscopic_Indices   (3, num_udvs) uint32, same labels
Field: 0 = out-of-field (off), 1 = in-field (on), as pycroscopy writes it. The column order is
(cycle, DC step, field) with the field fastest; `--on-first` decides whether in-field comes first, so a
consumer that assumes column parity instead of reading the Field row gets it wrong.

The loops are synthetic but physical-looking: a tanh hysteresis loop per pixel whose coercive voltages and
amplitude vary smoothly over the grid (plus one odd 2x2 patch), phase 0 / pi by polarization direction,
resonance near 1.31-1.34 MHz, Q around 200. One fit value is NaN (a failed fit), as real files have.

Usage: make_usid.py OUT.h5 [--rows 8] [--cols 8] [--steps 96] [--cycles 2] [--on-first | --off-first] [--seed 1]
"""
import argparse

import h5py
import numpy as np


def dc_waveform(steps: int, vmax: float) -> np.ndarray:
    """0 -> +vmax -> -vmax -> 0 in `steps` equal steps (the BEPS bias triangle)."""
    q = steps // 4
    k = np.arange(steps)
    return np.where(k < q, k / q, np.where(k < 3 * q, 2 - k / q, k / q - 4)) * vmax


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--rows", type=int, default=8)
    p.add_argument("--cols", type=int, default=8)
    p.add_argument("--steps", type=int, default=96)
    p.add_argument("--cycles", type=int, default=2)
    p.add_argument("--vmax", type=float, default=16.0)
    order = p.add_mutually_exclusive_group()
    order.add_argument("--on-first", dest="on_first", action="store_true", default=True)
    order.add_argument("--off-first", dest="on_first", action="store_false")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()

    rng = np.random.default_rng(a.seed)
    rows, cols, steps, cycles = a.rows, a.cols, a.steps, a.cycles
    num_pix, num_udvs = rows * cols, steps * 2 * cycles
    dc = dc_waveform(steps, a.vmax)

    # Spectroscopic axes: field fastest, then DC step, then cycle.
    spec_dc = np.zeros(num_udvs, np.float32)
    spec_field = np.zeros(num_udvs, np.float32)
    spec_cycle = np.zeros(num_udvs, np.float32)
    idx = np.zeros((3, num_udvs), np.uint32)
    for c in range(cycles):
        for k in range(steps):
            for f in range(2):
                j = (c * steps + k) * 2 + f
                on = (f == 0) if a.on_first else (f == 1)
                spec_dc[j], spec_field[j], spec_cycle[j] = dc[k], 1.0 if on else 0.0, c
                idx[:, j] = (k, 1 if on else 0, c)

    # Positions: X (column) fastest, as the BEPS translator writes them.
    pos = np.array([[x, y] for y in range(rows) for x in range(cols)], np.uint32)

    # Rising branch: the up-sweep of the bias (dV > 0); falling branch otherwise.
    rising = np.diff(np.concatenate([[dc[-1]], dc])) > 0

    sho = np.dtype([("Amplitude [V]", "<f4"), ("Frequency [Hz]", "<f4"), ("Quality Factor", "<f4"),
                    ("Phase [rad]", "<f4"), ("R2 Criterion", "<f4")])
    fit = np.zeros((num_pix, num_udvs), sho)
    for i, (x, y) in enumerate(pos):
        u, v = x / max(cols - 1, 1), y / max(rows - 1, 1)
        vc_up = 3.0 + 4.0 * u + rng.normal(0, 0.2)      # coercive voltage on the rising branch
        vc_down = -(3.0 + 4.0 * v) + rng.normal(0, 0.2)  # … and on the falling branch
        amp = 1e-4 * (1.0 + 0.5 * np.sin(np.pi * u) * np.cos(np.pi * v))
        if 2 <= x <= 3 and 2 <= y <= 3:  # an odd patch: imprinted, weak loops
            vc_up, vc_down, amp = vc_up + 6.0, vc_down + 6.0, amp * 0.3
        w = 1.5
        for c in range(cycles):
            for k in range(steps):
                pr = np.tanh((dc[k] - (vc_up if rising[k] else vc_down)) / w)
                for on in (0, 1):
                    # In-field loops carry an extra electrostatic term linear in the bias.
                    resp = amp * (pr + (0.15 * dc[k] / a.vmax if on else 0.0)) + rng.normal(0, 2e-6)
                    j = (c * steps + k) * 2 + ((0 if on else 1) if a.on_first else (1 if on else 0))
                    freq = 1.31e6 + 15e3 * u + 3e3 * pr + rng.normal(0, 300)
                    q = 200.0 + 20.0 * v + rng.normal(0, 5)
                    fit[i, j] = (abs(resp), freq, q, 0.0 if resp >= 0 else np.pi, 0.98)
    fit[min(5, num_pix - 1), 17]["Amplitude [V]"] = np.nan  # a failed fit: the daemon interpolates it

    with h5py.File(a.out, "w") as h:
        h.attrs["file_format_version"] = "1.0"
        meas = h.create_group("Measurement_000")
        meas.attrs.update({"data_type": "BEPSData", "grid_num_rows": rows, "grid_num_cols": cols,
                           "VS_steps_per_full_cycle": steps, "VS_number_of_cycles": cycles,
                           "VS_max_DC_offset": a.vmax})
        chan = meas.create_group("Channel_000")
        pi = chan.create_dataset("Position_Indices", data=pos)
        pv = chan.create_dataset("Position_Values", data=pos.astype(np.float32) * 2e-6 / max(rows, cols))
        for d in (pi, pv):
            d.attrs["labels"] = np.array([b"X", b"Y"])
            d.attrs["units"] = np.array([b"m", b"m"])
        grp = chan.create_group("Raw_Data-SHO_Fit_000")
        labels = np.array([b"DC_Offset", b"Field", b"Cycle"])
        sv = grp.create_dataset("Spectroscopic_Values", data=np.vstack([spec_dc, spec_field, spec_cycle]))
        si = grp.create_dataset("Spectroscopic_Indices", data=idx)
        for d in (sv, si):
            d.attrs["labels"] = labels
            d.attrs["units"] = np.array([b"V", b"", b""])
        fd = grp.create_dataset("Fit", data=fit)
        fd.attrs["quantity"] = "SHO"
        fd.attrs["units"] = "compound"
        fd.attrs["Position_Indices"] = pi.ref
        fd.attrs["Spectroscopic_Indices"] = si.ref
        fd.attrs["Spectroscopic_Values"] = sv.ref
    print(a.out)


if __name__ == "__main__":
    main()
