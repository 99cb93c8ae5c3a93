/**
 * The facility page: every daemon publishing to the facility stream and its scans, pushed by `loopstream facility`
 * over Socket.IO (`facility:view`). Text goes in through textContent only (entries come from any daemon).
 */
import { io, type Socket } from 'socket.io-client';
import { safeDashboardUrl, type FacilityClientToServer, type FacilityDaemonView, type FacilityScanView, type FacilityServerToClient, type FacilityView } from '../../src/facility/events.ts';

const token = new URLSearchParams(location.search).get('token') ?? undefined;
const socket: Socket<FacilityServerToClient, FacilityClientToServer> = io({ auth: token ? { token } : {}, transports: ['websocket'] });
const $ = (id: string) => document.getElementById(id)!;
/** the "no daemon yet" line, kept to put back when the list empties */
const empty = $('empty');

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

function scanRow(s: FacilityScanView): HTMLTableRowElement {
  const tr = el('tr');
  tr.dataset.scan = s.scanId;
  tr.append(el('td', s.scanId), el('td', `${s.rows}×${s.cols}`), el('td', s.failure ? `${s.state} [${s.failure.code}]` : s.state));
  const pct = s.expected > 0 ? (100 * s.received) / s.expected : 0;
  const progress = el('td');
  const bar = el('span', undefined, 'bar');
  const fill = el('div');
  fill.style.width = `${Math.min(100, pct).toFixed(1)}%`;
  bar.append(fill);
  const counts = el('span', ` ${s.received}/${s.expected} px (${pct.toFixed(0)} %), ${s.encoded} encoded${s.missing ? `, ${s.missing} missing` : ''}`, 'progress');
  progress.append(bar, counts);
  tr.append(progress);
  tr.append(el('td', s.meanError === null ? '–' : s.meanError.toPrecision(3)));
  const fit = el('td');
  if (s.ood === null) fit.textContent = '–';
  else if (s.ood.flag) {
    const b = el('span', 'model does not fit', 'badge ood');
    b.title = s.ood.reasons.join('\n');
    fit.append(b);
  } else fit.textContent = `fits${s.ood.errorRatio !== null ? ` (error ×${s.ood.errorRatio.toFixed(2)})` : ''}`;
  tr.append(fit);
  const alerts = el('td');
  if (!s.alertsEnabled) alerts.textContent = 'off';
  else if (s.alertsOpen > 0) alerts.append(el('span', `${s.alertsOpen} open`, 'badge alert'), el('span', ` / ${s.alertsTotal}`));
  else alerts.textContent = `${s.alertsTotal}`;
  tr.append(alerts);
  return tr;
}

function daemonSection(d: FacilityDaemonView, now: number): HTMLElement {
  const sec = el('section', undefined, d.stale ? 'daemon stale' : 'daemon');
  sec.dataset.daemon = d.id;
  const h = el('h2');
  h.append(el('span', d.id, 'name'));
  const href = safeDashboardUrl(d.url);
  if (href) {
    const a = el('a', 'dashboard');
    a.href = href;
    a.target = '_blank';
    a.rel = 'noopener';
    h.append(a);
  }
  h.append(el('span', `model ${d.model.name} v${d.model.version}`, 'dim model'));
  if (d.stats) h.append(el('span', `${d.stats.ingestPxPerSec.toFixed(0)} px/s, queue ${d.stats.queueDepth}${d.stats.ingestHalted ? `, INGEST HALTED: ${d.stats.ingestHalted}` : ''}`, 'dim'));
  h.append(el('span', `heard ${ago(now - d.lastSeen)}`, 'dim'));
  if (d.stale) h.append(el('span', 'stale', 'badge stale'));
  sec.append(h);
  if (d.scans.length === 0) {
    sec.append(el('p', 'no scans yet', 'dim'));
    return sec;
  }
  const table = el('table');
  const head = el('tr');
  for (const t of ['scan', 'grid', 'state', 'progress', 'mean error', 'model fit', 'alerts']) head.append(el('th', t));
  table.append(head);
  for (const s of d.scans) table.append(scanRow(s));
  sec.append(table);
  return sec;
}

function render(view: FacilityView): void {
  const redis = $('redis');
  redis.textContent = view.redis.up ? 'Redis ok' : `Redis down: ${view.redis.error ?? ''}`;
  redis.className = view.redis.up ? '' : 'down';
  const running = view.daemons.reduce((n, d) => n + d.scans.filter((s) => s.state === 'running').length, 0);
  $('summary').textContent = `${view.daemons.length} daemons (${view.daemons.filter((d) => d.stale).length} stale), ${running} running scans`;
  const main = $('daemons');
  main.replaceChildren(...(view.daemons.length === 0 ? [empty] : view.daemons.map((d) => daemonSection(d, view.now))));
}

socket.on('connect', () => {
  $('conn').textContent = 'connected';
  $('conn').className = '';
});
socket.on('disconnect', () => {
  $('conn').textContent = 'disconnected';
  $('conn').className = 'down';
});
socket.on('connect_error', (err) => {
  $('conn').textContent = `cannot connect: ${err.message}`;
  $('conn').className = 'down';
});
socket.on('facility:view', render);
