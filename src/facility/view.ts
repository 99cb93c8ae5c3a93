/**
 * FacilityState: the facility stream folded into "every daemon and its scans". Pure bookkeeping (no I/O), so the
 * server and the tests share it. Entries are applied in stream order; `receivedAt` is the facility server's clock.
 */
import type { FacilityDaemonView, FacilityEvent, FacilityScanView, FacilityView } from './events.ts';

/** Scans kept per daemon (newest by start); older ones leave the page. */
const SCANS_PER_DAEMON = 50;

export class FacilityState {
  private readonly daemons = new Map<string, Omit<FacilityDaemonView, 'stale' | 'scans'> & { scans: Map<string, FacilityScanView>; alerts: Map<string, Map<number, string>> }>();
  entries = 0;
  /** entries that were not a facility event (wrong shape): skipped */
  skipped = 0;

  /** Apply one stream entry's JSON; a malformed entry is skipped and counted. */
  applyJson(json: string, receivedAt: number): void {
    let e: FacilityEvent;
    try {
      e = JSON.parse(json) as FacilityEvent;
    } catch {
      this.skipped++;
      return;
    }
    if (!e || typeof e !== 'object' || typeof e.daemon !== 'string' || typeof e.type !== 'string') {
      this.skipped++;
      return;
    }
    this.apply(e, receivedAt);
  }

  apply(e: FacilityEvent, receivedAt: number): void {
    this.entries++;
    let d = this.daemons.get(e.daemon);
    if (!d) {
      d = { id: e.daemon, url: String(e.url ?? ''), model: e.model, lastSeen: receivedAt, scans: new Map(), alerts: new Map() };
      this.daemons.set(e.daemon, d);
    }
    d.lastSeen = Math.max(d.lastSeen, receivedAt);
    if (typeof e.url === 'string') d.url = e.url;
    if (e.model && typeof e.model.version === 'number') d.model = { name: String(e.model.name), version: e.model.version };
    if (e.stats) d.stats = e.stats;
    if (e.scan && typeof e.scan.scanId === 'string') {
      const prev = d.scans.get(e.scan.scanId);
      // a late progress entry (published before the end, read after it) never moves a finished scan back
      if (prev && prev.state !== 'running' && e.type === 'scan:progress') return;
      d.scans.set(e.scan.scanId, { ...prev, ...e.scan, meanError: e.scan.meanError ?? prev?.meanError ?? null, alertsOpen: 0, alertsTotal: 0, updatedAt: receivedAt });
      if (d.scans.size > SCANS_PER_DAEMON) {
        const oldest = [...d.scans.values()].sort((a, b) => a.startedAt - b.startedAt)[0]!;
        d.scans.delete(oldest.scanId);
        d.alerts.delete(oldest.scanId);
      }
    }
    if (e.type === 'alert' && e.alert && typeof e.alert.scanId === 'string') {
      let alerts = d.alerts.get(e.alert.scanId);
      if (!alerts) d.alerts.set(e.alert.scanId, (alerts = new Map()));
      alerts.set(e.alert.id, e.alert.type);
    }
  }

  /** The page's view at `now`: daemons by id, their scans newest first, stale ones marked. */
  view(now: number, staleMs: number, redis: FacilityView['redis']): FacilityView {
    const daemons = [...this.daemons.values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map(({ scans, alerts, ...d }) => ({
        ...d,
        stale: now - d.lastSeen > staleMs,
        scans: [...scans.values()]
          .sort((a, b) => b.startedAt - a.startedAt)
          .map((s) => {
            const states = [...(alerts.get(s.scanId)?.values() ?? [])];
            return { ...s, alertsTotal: states.length, alertsOpen: states.filter((t) => t !== 'closed').length };
          }),
      }));
    return { now, staleMs, redis, entries: this.entries, daemons };
  }
}
