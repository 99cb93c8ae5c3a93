/**
 * The scan's own voltage axis for what the model sees and returns. The model works on its own bias grid (the
 * bundle's preprocess `voltage`, e.g. ±16 V in its step order, or a normalised −1…1 grid); a scan's pixels are
 * mapped onto that grid before encoding. For display and export every such curve is put back on the scan's volts:
 * each model step keeps its fraction of the model's Vmax and gets that fraction of the scan's Vmax (the largest
 * |dcVoltage| of the start header), so a ±10 V scan is plotted and exported on ±10 V whatever the model's range.
 * Browser-safe (no imports): the hub adapter (src/app/hub.ts) uses it, and the page may.
 */

/** Largest |v|, or 0 for an empty or all-zero axis. */
function vmaxOf(v: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) if (Number.isFinite(v[i]) && Math.abs(v[i]) > m) m = Math.abs(v[i]);
  return m;
}

/**
 * The model's grid on the scan's voltage scale. Values that land within a millionth of Vmax of one of the scan's
 * own steps take that step's exact value (a scan on the model's grid gets its own numbers back, not 9.9999999).
 * Falls back to the model's axis only when the scan gives no usable voltage (absent, or all zero).
 */
export function scanVoltageAxis(modelVoltage: ArrayLike<number>, scanVoltage: ArrayLike<number> | undefined): number[] {
  const model = Array.from(modelVoltage);
  const modelMax = vmaxOf(model);
  const scanMax = scanVoltage ? vmaxOf(scanVoltage) : 0;
  if (modelMax === 0 || scanMax === 0 || !scanVoltage) return model;
  const own = Array.from(scanVoltage).filter((v) => Number.isFinite(v));
  const tol = 1e-6 * scanMax;
  return model.map((v) => {
    const x = (v / modelMax) * scanMax;
    let best = x;
    let bestD = tol;
    for (const s of own) {
      const d = Math.abs(s - x);
      if (d <= bestD) {
        best = s;
        bestD = d;
      }
    }
    return best;
  });
}
