import { describe, expect, it } from 'vitest';
import { triangleWaveform } from '../../src/sim/loop-model.ts';
import { scanVoltageAxis } from '../../src/preprocess/voltage-axis.ts';

describe('scanVoltageAxis', () => {
  it('puts the model grid on the scan’s volts, by fraction of Vmax, with the scan’s own values where they coincide', () => {
    // model: ±16 V in its own order; scan: ±10 V acquisition triangle of the same 96 steps
    const model = [16, 8, 0, -8, -16, -8, 0, 8];
    const scan = Array.from(triangleWaveform(96, 10).volts);
    const axis = scanVoltageAxis(model, scan);
    expect(axis).toEqual([10, 5, 0, -5, -10, -5, 0, 5]);
    expect(Math.max(...axis)).toBe(Math.max(...scan)); // exactly the file's value, not 9.999999
  });

  it('maps a normalised −1…1 model grid onto any scan range and step count', () => {
    const axis = scanVoltageAxis([1, 0.5, -0.25, -1], [0, 3, 6, 3, 0, -3, -6, -3]);
    expect(axis).toEqual([6, 3, -1.5, -6]);
  });

  it('keeps the model axis when the scan gives no usable voltages', () => {
    expect(scanVoltageAxis([16, -16], undefined)).toEqual([16, -16]);
    expect(scanVoltageAxis([16, -16], [0, 0])).toEqual([16, -16]);
  });
});
