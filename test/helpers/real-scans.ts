/**
 * Scan files unlike the simulator's defaults, as a real user brings them (issue 16): a projected-loop file with
 * 64 steps at ±8 V, a sho scan on a 372 kHz cantilever at ±10 V, and a pyNSID-layout file written by h5py. Built
 * from the simulator's physics (src/sim) and rewritten here, so src/sim keeps its own defaults.
 */
import type { StartHeader } from '../../src/protocol/messages.ts';
import type { PixelEvent } from '../../src/protocol/events.ts';
import { SIM_F0_HZ, SIM_ROTATION_RAD, simulateScan } from '../../src/sim/index.ts';
import { ScanRecorder } from '../../src/store/scan-file.ts';
import { python } from './cli.ts';

async function writeScan(path: string, start: StartHeader, pixels: Iterable<PixelEvent>): Promise<number> {
  const rec = await ScanRecorder.create(path, start, undefined, { overwrite: true });
  try {
    const all = [...pixels];
    rec.append(all);
    rec.writeStop({ type: 'stop', scanId: start.scanId, status: 'completed', pixelsSent: all.length, lastSeq: all.length - 1 });
    return all.length;
  } finally {
    rec.close();
  }
}

/**
 * A loop-kind scan file: the simulator's second-cycle off-field response projected with its own rotation
 * (P = A·cos(φ + θ)), `steps` DC steps at ±`vmax`, channels piezoresponse (a.u.) and resonance (kHz).
 */
export async function writeLoopScan(path: string, o: { rows: number; cols: number; seed: number; steps: number; vmax: number }): Promise<StartHeader> {
  const sim = simulateScan({ rows: o.rows, cols: o.cols, seed: o.seed, steps: o.steps, vmax: o.vmax, cycles: 2 });
  const T = o.steps;
  const base = (1 * 2 + 1) * T; // cycle 1, field 'off' (fields are ['on', 'off'])
  const start: StartHeader = {
    ...sim.start,
    scanId: `loop-${o.steps}-${o.vmax}V`,
    kind: 'loop',
    fields: ['off'],
    cycles: 1,
    buffers: [
      { name: 'piezoresponse', dtype: 'float32', shape: [T], unit: 'a.u.' },
      { name: 'resonance', dtype: 'float32', shape: [T], unit: 'kHz' },
    ],
  };
  const pixels = (function* () {
    for (const px of sim.pixels()) {
      const [amp, ph, f] = px.data;
      const p = new Float32Array(T);
      const r = new Float32Array(T);
      for (let t = 0; t < T; t++) {
        p[t] = amp![base + t]! * Math.cos(ph![base + t]! + SIM_ROTATION_RAD);
        r[t] = f![base + t]! / 1e3;
      }
      yield { ...px, scanId: start.scanId, data: [p, r] };
    }
  })();
  await writeScan(path, start, pixels);
  return start;
}

/** A sho scan on another cantilever: resonance moved to `f0Hz` (Q scaled to ≈ `q`), bias ±`vmax`. */
export async function writeShoScanAt(path: string, o: { rows: number; cols: number; seed: number; f0Hz: number; q: number; vmax: number }): Promise<StartHeader> {
  const sim = simulateScan({ rows: o.rows, cols: o.cols, seed: o.seed, vmax: o.vmax });
  const start: StartHeader = { ...sim.start, scanId: `sho-${Math.round(o.f0Hz / 1e3)}kHz-${o.vmax}V` };
  const k = o.f0Hz / SIM_F0_HZ;
  const pixels = (function* () {
    for (const px of sim.pixels()) {
      const [amp, ph, f, q] = px.data;
      const f2 = Float32Array.from(f!, (v) => v * k);
      const qMean = q!.reduce((s, v) => s + v, 0) / q!.length;
      const q2 = Float32Array.from(q!, (v) => (v * o.q) / qMean);
      yield { ...px, scanId: start.scanId, data: [amp!, ph!, f2, q2] };
    }
  })();
  await writeScan(path, start, pixels);
  return start;
}

/**
 * An NSID file in pyNSID's own layout, written by h5py (no pyNSID needed: the attributes it writes are written
 * directly): /Measurement_000/Channel_000/<name>/<name> [x, y, Voltage] with dimension scales x, y (µm, 'SPATIAL')
 * and Voltage (V, 'SPECTRAL'), lower-case spatial names. Tanh loops whose coercive bias differs between the left
 * and right halves (two domains); `steps` at ±`vmax`, one cycle starting at 0 V.
 */
export async function writePyNsidFile(path: string, o: { nx: number; ny: number; steps: number; vmax: number; pitchUm: number; name?: string }): Promise<void> {
  await python(
    `import h5py, json, sys, numpy as np
path, nx, ny, steps, vmax, pitch, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
q = steps // 4
up = np.linspace(0, vmax, q + 1)
v = np.concatenate([up, up[-2::-1], -up[1:], -up[-2:0:-1]])
assert v.size == steps
rng = np.random.default_rng(3)
data = np.zeros((nx, ny, steps), dtype=np.float32)
for i in range(nx):
    for j in range(ny):
        vc = 0.2 * vmax if i < nx // 2 else 0.5 * vmax
        branch = np.where(np.gradient(v) < 0, -1.0, 1.0)
        data[i, j] = 3e-4 * (1 + 0.2 * j / ny) * np.tanh((v - branch * vc) / (0.1 * vmax)) + 1e-5 * rng.standard_normal(steps)
f = h5py.File(path, 'w')
g = f.create_group('Measurement_000/Channel_000')
sub = g.create_group(name)
ds = sub.create_dataset(name, data=data)
for k, val in {'quantity': 'Piezoresponse', 'units': 'a.u.', 'data_type': 'SPECTRAL_IMAGE', 'main_data_name': name, 'title': name, 'modality': 'BEPS', 'source': 'h5py test', 'machine_id': 'test', 'timestamp': '2026-01-01', 'pyNSID_version': '0.0.7', 'sidpy_version': '0.12'}.items():
    ds.attrs[k] = val
for dim, (label, vals, units, kind) in enumerate([('x', np.arange(nx) * pitch, 'um', 'SPATIAL'), ('y', np.arange(ny) * pitch, 'um', 'SPATIAL'), ('Voltage', v, 'V', 'SPECTRAL')]):
    s = sub.create_dataset(label, data=vals)
    s.make_scale(label)
    s.attrs['name'] = label
    s.attrs['units'] = units
    s.attrs['quantity'] = label
    s.attrs['dimension_type'] = kind
    ds.dims[dim].attach_scale(s)
f.close()
print(json.dumps(True))`,
    [path, String(o.nx), String(o.ny), String(o.steps), String(o.vmax), String(o.pitchUm), o.name ?? 'piezo_loops'],
  );
}
