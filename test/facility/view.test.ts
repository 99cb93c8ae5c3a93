/** FacilityState: the stream folded into daemons and scans (known inputs, known page state). */
import { describe, expect, it } from 'vitest';
import type { FacilityEvent, FacilityScan } from '../../src/facility/events.ts';
import { safeDashboardUrl } from '../../src/facility/events.ts';
import { FacilityState } from '../../src/facility/view.ts';

const scan = (over: Partial<FacilityScan> = {}): FacilityScan => ({
  scanId: 's1', source: 'live', rows: 4, cols: 4, state: 'running', startedAt: 1000, received: 0, encoded: 0, missing: 0, expected: 16, meanError: null, ood: null, alertsEnabled: true, ...over,
});
const ev = (type: FacilityEvent['type'], over: Partial<FacilityEvent> = {}): FacilityEvent => ({ type, daemon: 'mic-a', url: 'http://127.0.0.1:8080/', at: 0, model: { name: 'b', version: 1 }, ...over });

describe('FacilityState', () => {
  it('follows a scan from start to end, counts its alerts, and marks a silent daemon stale', () => {
    const st = new FacilityState();
    st.apply(ev('scan:start', { scan: scan() }), 100);
    st.apply(ev('scan:progress', { scan: scan({ received: 8, encoded: 6, meanError: 0.2 }) }), 200);
    st.apply(ev('alert', { alert: { scanId: 's1', id: 1, type: 'open', area: 3, peakScore: 2, reason: 'error' } }), 210);
    st.apply(ev('alert', { alert: { scanId: 's1', id: 2, type: 'open', area: 1, peakScore: 1.5, reason: 'latent' } }), 220);
    st.apply(ev('alert', { alert: { scanId: 's1', id: 1, type: 'closed', area: 3, peakScore: 2, reason: 'error' } }), 230);
    st.apply(ev('scan:end', { scan: scan({ state: 'completed', received: 16, encoded: 16, meanError: 0.25 }), model: { name: 'b', version: 2 } }), 300);
    // a progress entry that arrives after the end does not make the scan run again
    st.apply(ev('scan:progress', { scan: scan({ received: 15, encoded: 15 }), model: { name: 'b', version: 2 } }), 310);
    const v = st.view(1000, 5000, { up: true });
    expect(v.daemons).toHaveLength(1);
    const d = v.daemons[0]!;
    expect(d).toMatchObject({ id: 'mic-a', url: 'http://127.0.0.1:8080/', stale: false, model: { version: 2 }, lastSeen: 310 });
    expect(d.scans[0]).toMatchObject({ scanId: 's1', state: 'completed', received: 16, meanError: 0.25, alertsOpen: 1, alertsTotal: 2 });
    expect(st.view(310 + 5001, 5000, { up: true }).daemons[0]!.stale).toBe(true);
  });

  it('skips entries that are not facility events and keeps daemons apart', () => {
    const st = new FacilityState();
    st.applyJson('not json', 1);
    st.applyJson('{"type":"daemon"}', 1);
    st.applyJson(JSON.stringify(ev('daemon', { daemon: 'mic-b', stats: { ingestPxPerSec: 5, queueDepth: 0, scans: 0 } })), 2);
    st.applyJson(JSON.stringify(ev('scan:start', { scan: scan({ scanId: 'x' }) })), 3);
    expect(st.skipped).toBe(2);
    expect(st.view(3, 1000, { up: true }).daemons.map((d) => [d.id, d.scans.map((s) => s.scanId)])).toEqual([['mic-a', ['x']], ['mic-b', []]]);
  });

  it('links only http(s) dashboards', () => {
    expect(safeDashboardUrl('http://10.0.0.2:8080/')).toBe('http://10.0.0.2:8080/');
    expect(safeDashboardUrl('javascript:alert(1)')).toBeUndefined();
    expect(safeDashboardUrl('not a url')).toBeUndefined();
  });
});
